"""What other requests feel while the heaviest answers are made: the production server with every
answer made afresh, the heaviest request of each kind, and a probe that asks /healthz one
request after another meanwhile. tests/web/test_event_loop.py holds the probe to a bound and
benchmarks/bench_loop_latency.py prints its figures, so both measure the same thing."""

from __future__ import annotations

import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.liveserver import free_port, live_server

#: 54 bytes that unroll to 2,500 blocks (5,001 rows), the heaviest answers a short spec asks for
BIG = "input 8x8x3\nrepeat {n} {{ dense {{ conv 1 3x3 pad 1 }} }}\n"
SMALL = "input 8x8x3\nconv 1 3x3\n"
#: (status, bytes, seconds) of one fetch
Outcome = tuple[int, int, float]


def big_spec(blocks: int = 2500) -> str:
    return BIG.format(n=blocks)


def requests_for(spec: str) -> dict[str, str]:
    """The heaviest request of each kind for ``spec``: the page, /compare of four, the JSON
    API and the LaTeX export."""
    q = urllib.parse.quote(spec)
    return {"page": f"/?spec={q}", "compare": "/compare?" + "&".join([f"item={q}"] * 4),
            "api": f"/api/analyze?spec={q}",
            "latex": f"/api/export/analyze?spec={q}&format=latex"}


@contextmanager
def uncached_server(log: Path) -> Iterator[str]:
    """The production server with the answer cache off (every answer is made, as a first
    visit's is) and the rate limit raised (the probe asks from one address); yields its base
    URL, warmed with one small request of each kind so that no template compiles while
    measured."""
    port = free_port()
    env = os.environ | {"ARCHCALC_RATE_PER_SECOND": "100000", "ARCHCALC_RATE_BURST": "100000",
                        "ARCHCALC_ANSWER_CACHE_ENTRIES": "0", "ARCHCALC_ANALYSIS_SECONDS": "60"}
    with live_server(["app.web.serve", "--port", str(port)], log, port, env=env,
                     ready="/healthz") as base:
        for path in requests_for(SMALL).values():
            fetch(base, path, [])
        yield base


def fetch(base: str, path: str, out: list[Outcome]) -> None:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(base + path, timeout=120) as answer:
            out.append((answer.status, len(answer.read()), time.perf_counter() - started))
    except urllib.error.HTTPError as exc:
        out.append((exc.code, 0, time.perf_counter() - started))


def probe(base: str, paths: list[str]) -> tuple[list[float], list[Outcome]]:
    """/healthz latencies, in seconds, while ``paths`` are fetched at once, and each fetch's
    outcome."""
    latencies: list[float] = []
    outcomes: list[Outcome] = []
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
