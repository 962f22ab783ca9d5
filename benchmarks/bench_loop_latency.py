"""What other requests feel while the biggest answers are made: /healthz latency, p50/p99/max.

    python benchmarks/bench_loop_latency.py            # each kind alone, then all at once
    python benchmarks/bench_loop_latency.py --rounds 3
    python benchmarks/bench_loop_latency.py --short    # a tenth of the spec: that it runs

Starts the production server (``python -m app.web.serve``) on a free loopback port with the
answer cache off (every answer is made, as a first visit's is) and the rate limit raised (the
probe asks from one address), warms it with one small request of each kind, then for each of
the heaviest answers a 54-byte spec can ask for (``repeat 2500 { dense { conv 1 3x3 pad 1 } }``:
the calculator page, /compare of four, the JSON API, the LaTeX export) and for all four at
once, asks /healthz one request after another while it is made, and prints the latencies. The
target: no probe over about 200 ms. The figures include the machine's other load: the script
prints the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.liveserver import free_port, live_server

BIG = "input 8x8x3\nrepeat {n} {{ dense {{ conv 1 3x3 pad 1 }} }}\n"
SMALL = "input 8x8x3\nconv 1 3x3\n"


def requests_for(spec: str) -> dict[str, str]:
    q = urllib.parse.quote(spec)
    return {"page": f"/?spec={q}", "compare": "/compare?" + "&".join([f"item={q}"] * 4),
            "api": f"/api/analyze?spec={q}",
            "latex": f"/api/export/analyze?spec={q}&format=latex"}


def fetch(base: str, path: str, out: list[tuple[int, int, float]]) -> None:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(base + path, timeout=120) as answer:
            out.append((answer.status, len(answer.read()), time.perf_counter() - started))
    except urllib.error.HTTPError as exc:
        out.append((exc.code, 0, time.perf_counter() - started))


def probe(base: str, paths: list[str]) -> tuple[list[float], list[tuple[int, int, float]]]:
    """/healthz latencies while ``paths`` are fetched at once, and each fetch's outcome."""
    latencies: list[float] = []
    outcomes: list[tuple[int, int, float]] = []
    done = threading.Event()

    def loop() -> None:
        while not done.is_set():
            started = time.perf_counter()
            urllib.request.urlopen(base + "/healthz", timeout=60).read()
            latencies.append(time.perf_counter() - started)
            time.sleep(0.01)

    prober = threading.Thread(target=loop)
    prober.start()
    time.sleep(0.2)
    fetchers = [threading.Thread(target=fetch, args=(base, p, outcomes)) for p in paths]
    for t in fetchers:
        t.start()
    for t in fetchers:
        t.join()
    done.set()
    prober.join()
    return latencies, outcomes


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--short", action="store_true", help="250 blocks instead of 2,500")
    args = parser.parse_args()
    port = free_port()
    env = os.environ | {"ARCHCALC_RATE_PER_SECOND": "100000", "ARCHCALC_RATE_BURST": "100000",
                        "ARCHCALC_ANSWER_CACHE_ENTRIES": "0", "ARCHCALC_ANALYSIS_SECONDS": "60"}
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp, live_server(
            ["app.web.serve", "--port", str(port)], Path(tmp) / "log.txt", port, env=env,
            ready="/healthz") as base:
        for path in requests_for(SMALL).values():
            fetch(base, path, [])
        big = requests_for(BIG.format(n=250 if args.short else 2500))
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
