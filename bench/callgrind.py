#!/usr/bin/env python3
"""Instructions per call of each measured operation, from valgrind's callgrind.

Every benchmark calls its measured operation through a non-inlined function named op_* (bench/floor.h). This runs a
benchmark binary under callgrind, one benchmark at a time and twice with different run lengths, and prints the
measured op's instructions per call (the difference in inclusive Ir over the difference in calls, so one-time costs
cancel). Instruction counts do not depend on machine load, unlike times.

  bench/callgrind.py build-bench/bench/bench_hpke 'hpke/x25519/seal/(ours|floor)' ...
  bench/callgrind.py build-bench/bench/bench_hpke            # every benchmark in the binary

Each argument after the binary is a --benchmark_filter regex; every benchmark it matches runs in its own valgrind
process so that op_* functions shared between benchmarks are attributed correctly. <prefix>/ours* is divided by
<prefix>/floor. "calls" is the number of calls the difference is taken over.

Caveat: valgrind presents its own CPU (no AVX-512, SHA-NI or VAES), so OpenSSL runs other code paths than natively,
and it counts every iteration of a rep-prefixed string instruction (memset/memcpy of large buffers) as one
instruction. Counts are exactly repeatable, but they weigh work differently from the hardware.
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


def run(binary, bench, min_time):
    """{op: (calls, inclusive Ir)} for one run of one benchmark under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary,
                        f"--benchmark_filter=^{re.escape(bench)}$", f"--benchmark_min_time={min_time}"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        totals = parse(out)
    ops = {}
    for fn, (calls, ir) in totals.items():
        key = short(fn) if fn else None
        if key and calls > 0:
            c, i = ops.get(key, (0, 0))
            ops[key] = (c + calls, i + ir)
    return ops


def measure(binary, bench):
    """(op, extra calls, Ir per call) of the op a benchmark measures.

    Two runs of different lengths; the measured op is the one whose call count grows (setup and cross-checks call
    ops a fixed number of times), and its cost is the difference in instructions over the difference in calls, so
    one-time costs (OpenSSL's lazy algorithm fetches, first-use initialisation, the warm-up calls) cancel out."""
    short_run = run(binary, bench, 0.01)
    for min_time in (0.2, 1.0, 4.0):
        long_run = run(binary, bench, min_time)
        grown = [(op, long_run[op][0] - short_run.get(op, (0, 0))[0], long_run[op][1] - short_run.get(op, (0, 0))[1])
                 for op in long_run]
        grown = [g for g in grown if g[1] > 0]
        if grown:
            # The most grown; of equals the outermost (most instructions per call, e.g. a seal+open pair).
            op, calls, ir = max(grown, key=lambda g: (g[1], g[2] / g[1]))
            return op, calls, ir / calls
    return None


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    binary = sys.argv[1]
    patterns = sys.argv[2:] or ["."]
    results = {}
    for pattern in patterns:
        for bench in list_benchmarks(binary, pattern):
            result = measure(binary, bench)
            if result:
                results[bench] = result
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
