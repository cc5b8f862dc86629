#!/bin/sh
# `cmake --install` into a temporary prefix, then a consumer project built against the installed tree both ways
# (find_package(OpenPCC) with CMake, and cc with pkg-config), shared and static, and run. Under capi_stack_driver
# (OPENPCC_CLIENT_CONFIG set) the consumers and the installed Python package also make a private request.
#   install_test.sh <build dir> <consumer source dir> <libdir> <python dir> <C compiler> <cmake generator> <version>
set -eu
build=$1
consumer=$2
libdir=$3
pydir=$4
cc=$5
generator=$6
version=$7
major=${version%%.*}

work=$(mktemp -d "${TMPDIR:-/tmp}/openpcc-install-XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
step() { echo "== $*"; }
fail() { echo "FAIL: $*"; exit 1; }

step "cmake --install (components sdk, python) into $prefix"
cmake --install "$build" --prefix "$prefix" --component sdk
cmake --install "$build" --prefix "$prefix" --component python

step "layout"
for f in include/openpcc/openpcc.h "$libdir/libopenpcc.so.$version" "$libdir/libopenpcc.a" \
         "$libdir/cmake/OpenPCC/OpenPCCConfig.cmake" "$libdir/cmake/OpenPCC/OpenPCCConfigVersion.cmake" \
         "$libdir/pkgconfig/openpcc.pc" "$pydir/openpcc/__init__.py"; do
  [ -f "$prefix/$f" ] || fail "missing $f"
done
[ "$(readlink "$prefix/$libdir/libopenpcc.so")" = "libopenpcc.so.$major" ] || fail "libopenpcc.so symlink"
[ "$(readlink "$prefix/$libdir/libopenpcc.so.$major")" = "libopenpcc.so.$version" ] || fail "libopenpcc.so.$major symlink"
(cd "$prefix" && find . -type f -o -type l | sort)

run_consumer() {  # <executable> <label>
  out=$("$1" --version) || fail "$2: --version: $out"
  [ "$out" = "libopenpcc $version (header $version)" ] || fail "$2: $out"
  echo "$2: $out"
  if [ -n "${OPENPCC_CLIENT_CONFIG:-}" ]; then
    answer=$("$1" "${OPENPCC_TEST_MODEL:-capi-test-model}" "installed $2") || fail "$2: request failed"
    printf '%s\n' "$answer" | grep -q "installed" || fail "$2: answer: $answer"
    printf '%s\n' "$answer" | grep -q "data: \[DONE\]" || fail "$2: no [DONE]: $answer"
    echo "$2: streamed a private answer ($(printf '%s\n' "$answer" | grep -c '^data: ') events)"
  fi
}
check_static() {  # <executable>: no libopenpcc at run time
  if readelf -d "$1" | grep NEEDED | grep -q libopenpcc; then fail "$1 needs libopenpcc.so"; fi
}

step "find_package(OpenPCC) consumer"
cmake -S "$consumer" -B "$work/cmake-build" -G "$generator" -DCMAKE_C_COMPILER="$cc" \
      -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release > "$work/cmake-configure.log" 2>&1 \
  || { cat "$work/cmake-configure.log"; fail "configure"; }
cmake --build "$work/cmake-build" > "$work/cmake-build.log" 2>&1 || { cat "$work/cmake-build.log"; fail "build"; }
run_consumer "$work/cmake-build/chat" "cmake shared"
check_static "$work/cmake-build/chat_static"
run_consumer "$work/cmake-build/chat_static" "cmake static"

step "pkg-config consumer"
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
[ "$(pkg-config --modversion openpcc)" = "$version" ] || fail "pkg-config --modversion"
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror -o "$work/chat_pc" "$consumer/chat.c" $(pkg-config --cflags --libs openpcc) \
  -Wl,-rpath,"$prefix/$libdir"
run_consumer "$work/chat_pc" "pkg-config shared"
# Static: the archive, then its private dependencies (Libs.private and Requires.private).
# shellcheck disable=SC2046
"$cc" -std=c11 -o "$work/chat_pc_static" "$consumer/chat.c" $(pkg-config --cflags openpcc) \
  "$prefix/$libdir/libopenpcc.a" $(pkg-config --static --libs openpcc | sed 's/-lopenpcc\b//')
check_static "$work/chat_pc_static"
run_consumer "$work/chat_pc_static" "pkg-config static"

step "installed Python package (no OPENPCC_LIBRARY: found in the prefix)"
unset OPENPCC_LIBRARY
found=$(PYTHONPATH="$prefix/$pydir" python3 -c 'import openpcc; print(openpcc.library_version(), openpcc.library_path())')
echo "python: $found"
case "$found" in
  "$version $prefix/"*) ;;
  *) fail "python loaded $found" ;;
esac
if [ -n "${OPENPCC_CLIENT_CONFIG:-}" ]; then
  out=$(cd "$work" && PYTHONPATH="$prefix/$pydir" python3 - "${OPENPCC_TEST_MODEL:-capi-test-model}" <<'PY'
import sys
import openpcc
with openpcc.Client() as client:
    stream = client.chat.completions.create(model=sys.argv[1], messages=[{"role": "user", "content": "from the prefix"}],
                                            stream=True)
    print("".join(c.choices[0].delta.content or "" for c in stream if c.choices))
PY
) || fail "python request"
  [ "$out" = "echo: from the prefix" ] || fail "python answer: $out"
  echo "python: streamed a private answer: $out"
fi
echo "PASS"
