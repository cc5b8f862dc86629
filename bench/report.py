#!/usr/bin/env python3
"""Runs a benchmark binary with repetitions and prints median figures with our/floor ratios.

  bench/report.py build-bench/bench/bench_hpke [--benchmark_filter=...] [--repetitions=9]

Benchmarks are named <prefix>/ours* and <prefix>/floor; each "ours" median is divided by the floor median of the
same prefix, measured in the same run. Repetitions run in random interleaved order, so that on a shared machine
ours and its floor see the same mix of load. Times are CPU time per iteration; throughput (when the benchmark sets
it) is in MB/s (10^6 bytes).
"""
import json
import subprocess
import sys
import tempfile


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    binary = sys.argv[1]
    repetitions = 9
    extra = []
    for arg in sys.argv[2:]:
        if arg.startswith("--repetitions="):
            repetitions = int(arg.split("=", 1)[1])
        else:
            extra.append(arg)
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([binary, f"--benchmark_repetitions={repetitions}", "--benchmark_report_aggregates_only=true",
                        "--benchmark_enable_random_interleaving=true",
                        f"--benchmark_out={out.name}", "--benchmark_out_format=json", *extra],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        data = json.load(open(out.name))

    medians = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        unit = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
        medians[b["run_name"]] = (b["cpu_time"] * unit, b.get("bytes_per_second"))

    # Registration order (interleaved runs report in random order).
    listed = subprocess.run([binary, "--benchmark_list_tests", *extra], check=True, capture_output=True,
                            text=True).stdout.split()
    medians = {name: medians[name] for name in listed if name in medians}

    ctx = data["context"]
    print(f"# {binary}  {ctx.get('date')}  {ctx.get('num_cpus')} cpus  load {ctx.get('load_avg')}")
    print(f"{'benchmark':52} {'median':>12} {'MB/s':>9} {'floor':>12} {'ratio':>7}")
    for name, (ns, bps) in medians.items():
        prefix, _, leaf = name.rpartition("/")
        floor = medians.get(prefix + "/floor") if leaf.startswith("ours") else None
        mbps = f"{bps / 1e6:9.0f}" if bps else " " * 9
        if floor:
            print(f"{name:52} {ns / 1e3:10.2f}us {mbps} {floor[0] / 1e3:10.2f}us {ns / floor[0]:7.3f}")
        else:
            print(f"{name:52} {ns / 1e3:10.2f}us {mbps}")


if __name__ == "__main__":
    main()
