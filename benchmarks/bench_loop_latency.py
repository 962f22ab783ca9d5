"""What other requests feel while the biggest answers are made: /healthz latency, p50/p99/max.

    python benchmarks/bench_loop_latency.py            # each kind alone, then all at once
    python benchmarks/bench_loop_latency.py --rounds 3
    python benchmarks/bench_loop_latency.py --short    # a tenth of the spec: that it runs

Starts the production server (``python -m app.web.serve``) on a free loopback port with the
answer cache off (every answer is made, as a first visit's is) and the rate limit raised (the
probe asks from one address), warms it with one small request of each kind, then for each of
the heaviest answers a 54-byte spec can ask for (``repeat 2500 { dense { conv 1 3x3 pad 1 } }``:
the calculator page, /compare of four, the JSON API, the LaTeX export) and for all four at
once, asks /healthz one request after another while it is made (``tests/loopprobe.py``, the
probe tests/web/test_event_loop.py bounds), and prints the latencies. The target: no probe over
about 200 ms. The figures include the machine's other load: the script prints the load average
before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.loopprobe import big_spec, probe, requests_for, uncached_server


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--short", action="store_true", help="250 blocks instead of 2,500")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp, uncached_server(Path(tmp) / "log.txt") as base:
        big = requests_for(big_spec(250 if args.short else 2500))
        runs = [(kind, [path]) for kind, path in big.items()] + [("all four", list(big.values()))]
        print("| while | answers (status, bytes, s) | probes | p50 ms | p99 ms | max ms |")
        print("|---|---|---|---|---|---|")
        for _ in range(args.rounds):
            for kind, paths in runs:
                latencies, outcomes = probe(base, paths)
                latencies.sort()
                p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
                made = ", ".join(f"{s} {n / 1e6:.2f} MB {t:.1f}" for s, n, t in outcomes)
                print(f"| {kind} | {made} | {len(latencies)} | "
                      f"{ms(statistics.median(latencies))} | {ms(p99)} | {ms(latencies[-1])} |")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
