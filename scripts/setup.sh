#!/usr/bin/env bash
# Installs everything the build, the tests, the interop tests and the fuzzers need on Debian 12.
# Idempotent: packages already present are not touched, and apt-get update runs only when something is missing.
# Needs root for apt-get (uses sudo when not root).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config git
  # libraries (see docs/ARCHITECTURE.md, "Dependencies")
  libssl-dev libboost-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libprotobuf-dev protobuf-compiler libsqlite3-dev libpq-dev zlib1g-dev libtss2-dev
  # the TPM 2.0 emulator the attestation tests and the local stack run (tpm2-tools: independent cross-checks)
  swtpm swtpm-tools tpm2-tools
  # the PostgreSQL server the store tests start on loopback (tests/support/postgres_server.h)
  postgresql
  # tests, benchmarks, fuzzing (libFuzzer comes with clang's runtime; clang 19 is the first Debian clang whose
  # C++23 mode works with libstdc++ 12's <expected>)
  libgtest-dev libgmock-dev libbenchmark-dev clang-19 libclang-rt-19-dev
  # interop oracles run on Node.js
  ca-certificates
)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

# npm oracles for tests/interop, pinned by the committed lockfile.
if [ ! -d tests/interop/node_modules ] || [ tests/interop/package-lock.json -nt tests/interop/node_modules ]; then
  echo "setup: installing npm test oracles (tests/interop)"
  (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
  touch tests/interop/node_modules
fi
echo "setup: done"
