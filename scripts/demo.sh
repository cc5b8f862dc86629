#!/usr/bin/env bash
# The first command: installs dependencies, builds the `openpcc` binary (Release), starts the local stack
# (`openpcc dev up`: AuthBank, relay, gateway, BlindBank, router, transparency log, a compute node on its own swtpm
# and the built-in TEST engine) and sends one private request through relay → gateway → router → node, printing the
# streamed answer and the verification summary of the node that served it.
#
# Usage: scripts/demo.sh ["your prompt"]        (the stack keeps running; stop it with: build/release/openpcc dev down)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

mkdir -p build
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >build/release.configure.log 2>&1 ||
  { cat build/release.configure.log; exit 1; }
ninja -C build/release openpcc

bin=build/release/openpcc
data=openpcc-dev
# A stack left from an earlier run is stopped first, so that this run uses the binary just built.
"$bin" dev down --data-dir "$data" >/dev/null 2>&1 || true
"$bin" dev up --data-dir "$data"
echo
"$bin" chat --config "$data/client.json" "${1:-Hello! Is this request private?}"
echo
echo "The stack keeps running (openpcc dev status). Send more: $bin chat --config $data/client.json \"…\""
echo "Stop it: $bin dev down --data-dir $data"
