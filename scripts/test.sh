#!/usr/bin/env bash
# The one test command: installs dependencies, builds, and runs every test suite:
#   1. Release build: unit, vector, integration and interop tests (ctest), benchmarks compiled
#   2. ASan+UBSan build: the same tests under sanitizers
#   3. clang libFuzzer build: a short smoke run of every fuzz target
# Usage: scripts/test.sh [--quick]   (--quick skips the sanitizer and fuzz builds)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
quick=0
[ "${1:-}" = "--quick" ] && quick=1

scripts/setup.sh

jobs=$(nproc)
passed=0
failed=0
skipped=0
summaries=()

# Runs ctest in a build dir and adds its counts to the totals.
run_ctest() {
  local name=$1 dir=$2
  shift 2
  local log="$dir/ctest-output.log"
  set +e
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" "$@" 2>&1 | tee "$log"
  set -e
  local line
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)
  if [ -z "$line" ]; then
    echo "test.sh: $name: ctest printed no summary" >&2
    failed=$((failed + 1))
    summaries+=("$name: no summary")
    return
  fi
  local f t
  f=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
  t=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/')
  local k
  k=$(grep -cE '^\s*[0-9]+ - .*\(Skipped\)$' "$log" || true)
  passed=$((passed + t - f - k))
  failed=$((failed + f))
  skipped=$((skipped + k))
  summaries+=("$name: $line")
}

configure() {
  local dir=$1
  shift
  cmake -S "$root" -B "$dir" -G Ninja "$@" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
}

echo "== Release build =="
mkdir -p build
configure build/release -DCMAKE_BUILD_TYPE=Release
ninja -C build/release
run_ctest release build/release

if [ $quick -eq 0 ]; then
  echo "== ASan+UBSan build =="
  configure build/asan -DCMAKE_BUILD_TYPE=Debug -DOPENPCC_SANITIZE=ON -DOPENPCC_BENCH=OFF
  ninja -C build/asan
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_ctest asan build/asan -LE nosan

  echo "== libFuzzer smoke =="
  configure build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOPENPCC_FUZZ=ON -DOPENPCC_TESTS=OFF -DOPENPCC_BENCH=OFF \
    -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19
  ninja -C build/fuzz fuzzers
  run_ctest fuzz build/fuzz
fi

echo
echo "== Summary =="
for s in "${summaries[@]}"; do echo "  $s"; done
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
