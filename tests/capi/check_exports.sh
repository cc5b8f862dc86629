#!/bin/sh
# libopenpcc.so exports exactly the C API: every OPENPCC_EXPORT function of openpcc.h and nothing else (no C++
# internals, no symbols of the static libraries linked in), under the version node OPENPCC_0, with the SONAME
# libopenpcc.so.<major>.
#   check_exports.sh <libopenpcc.so> <openpcc.h> <major>
set -eu
lib=$1
header=$2
major=$3
fail=0

exported=$(nm -D --defined-only "$lib" | awk '$2 != "A" { print $3 }' | sed 's/@.*//' | sort)
declared=$(grep -o '^OPENPCC_EXPORT [^(]*(' "$header" | sed 's/($//' | awk '{ print $NF }' | tr -d '*' | sort)

others=$(printf '%s\n' "$exported" | grep -v '^openpcc_' || true)
if [ -n "$others" ]; then
  echo "FAIL: exported symbols outside the API:"; printf '%s\n' "$others" | head -20; fail=1
fi
if [ "$exported" != "$declared" ]; then
  echo "FAIL: exported and declared functions differ (< exported, > declared):"
  printf '%s\n' "$exported" > "${TMPDIR:-/tmp}/capi_exported.$$"
  printf '%s\n' "$declared" > "${TMPDIR:-/tmp}/capi_declared.$$"
  diff "${TMPDIR:-/tmp}/capi_exported.$$" "${TMPDIR:-/tmp}/capi_declared.$$" || true
  rm -f "${TMPDIR:-/tmp}/capi_exported.$$" "${TMPDIR:-/tmp}/capi_declared.$$"
  fail=1
fi
versions=$(nm -D --defined-only "$lib" | awk '$2 != "A" { print $3 }' | grep -v '@@OPENPCC_0$' || true)
if [ -n "$versions" ]; then
  echo "FAIL: symbols not in version node OPENPCC_0:"; printf '%s\n' "$versions" | head; fail=1
fi
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" != "libopenpcc.so.$major" ]; then
  echo "FAIL: SONAME is '$soname', not libopenpcc.so.$major"; fail=1
fi
# Everything the library needs must resolve (it was linked with --no-undefined; check the loader agrees).
if ldd -r "$lib" 2>&1 | grep -q 'undefined symbol'; then
  echo "FAIL: undefined symbols:"; ldd -r "$lib" 2>&1 | grep 'undefined symbol' | head; fail=1
fi
count=$(printf '%s\n' "$exported" | wc -l)
echo "libopenpcc exports $count functions, all openpcc_*, SONAME $soname"
[ "$fail" = 0 ] && echo "PASS"
exit $fail
