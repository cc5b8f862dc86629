#!/usr/bin/env python3
"""Instructions per call of each measured operation, from valgrind's callgrind.

Every benchmark calls its measured operation through a non-inlined function named op_* (bench/floor.h). This runs a
benchmark binary under callgrind, one benchmark at a time, and prints inclusive Ir / calls for each op_* function
that benchmark called. Instruction counts do not depend on machine load, unlike times.

  bench/callgrind.py build-bench/bench/bench_hpke 'hpke/x25519/seal/(ours|floor)' ...
  bench/callgrind.py build-bench/bench/bench_hpke            # every benchmark in the binary

Each argument after the binary is a --benchmark_filter regex; every benchmark it matches runs in its own valgrind
process so that op_* functions shared between benchmarks are attributed correctly. For each benchmark the outermost
op (most instructions per call) is reported, and <prefix>/ours* is divided by <prefix>/floor.
"""
import os
import re
import subprocess
import sys
import tempfile


def list_benchmarks(binary, pattern):
    out = subprocess.run([binary, "--benchmark_list_tests", f"--benchmark_filter={pattern}"], check=True,
                         capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def parse(path):
    """Returns {function name: [calls, inclusive Ir]} over all calls recorded in a callgrind output file."""
    names = {}
    totals = {}
    events = None
    current_cfn = None
    expect_cost = False
    pending_calls = 0

    def resolve(spec):
        m = re.match(r"\((\d+)\)(?:\s+(.*))?", spec)
        if not m:
            return spec
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), spec)

    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if expect_cost:
                expect_cost = False
                fields = line.split()
                ir = int(fields[1]) if len(fields) > 1 else 0
                entry = totals.setdefault(current_cfn, [0, 0])
                entry[0] += pending_calls
                entry[1] += ir
                continue
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("fn="):
                resolve(line[3:])
            elif line.startswith("cfn="):
                current_cfn = resolve(line[4:])
            elif line.startswith("calls="):
                pending_calls = int(line[6:].split()[0])
                expect_cost = True
    if events and events[0] != "Ir":
        raise SystemExit(f"unexpected callgrind events {events}")
    return totals


def short(name):
    """The op_* name of one of our benchmark functions, or None (OpenSSL has op_* functions too)."""
    m = re.search(r"openpcc::bench::.*?\b(op_[A-Za-z0-9_]+)", name)
    return m.group(1) if m else None


def run(binary, bench):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary,
                        f"--benchmark_filter=^{re.escape(bench)}$", "--benchmark_min_time=0.02"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        totals = parse(out)
    ops = {}
    for fn, (calls, ir) in totals.items():
        key = short(fn) if fn else None
        if key and calls > 0:
            c, i = ops.get(key, (0, 0))
            ops[key] = (c + calls, i + ir)
    return ops


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    binary = sys.argv[1]
    patterns = sys.argv[2:] or ["."]
    results = {}  # benchmark -> (op, calls, Ir per call) of its outermost op (the one with the most instructions)
    for pattern in patterns:
        for bench in list_benchmarks(binary, pattern):
            ops = run(binary, bench)
            if ops:
                op, (calls, ir) = max(ops.items(), key=lambda kv: kv[1][1] / kv[1][0])
                results[bench] = (op, calls, ir / calls)
    print(f"{'benchmark':52} {'op':28} {'calls':>6} {'Ir/call':>11} {'floor':>11} {'ratio':>7}")
    for bench, (op, calls, ir) in results.items():
        prefix, _, leaf = bench.rpartition("/")
        floor = results.get(prefix + "/floor") if leaf.startswith("ours") else None
        line = f"{bench:52} {op:28} {calls:6d} {ir:11.0f}"
        if floor:
            line += f" {floor[2]:11.0f} {ir / floor[2]:7.3f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
