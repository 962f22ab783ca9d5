"""A classroom under load: many clients against uvicorn run with the production settings.

    python benchmarks/load.py                 # 50 clients, 4 workers, 10 s a phase
    python benchmarks/load.py --clients 100 --workers 2 --seconds 20
    python benchmarks/load.py --cache off     # every answer computed (the first visit's cost)
    python benchmarks/load.py --short         # a few seconds: that it runs (CI, via a test)
    python benchmarks/load.py --heavy --workers 1   # imports and the biggest answers in the mix

Starts ``uvicorn`` as the documented production command does (``app.web.serve.command_line``),
on 127.0.0.1 on a free port (loopback only), and stops it at the end. Two phases of the same
length, with the same clients: first a trivial endpoint of the same app (``/healthz`` if the
app has one, else ``/api/models/alexnet/spec``: a short text answer, no engine call), then the
classroom mix: the calculator page, its htmx fragment as students type the AlexNet listing line
by line, small and large (ResNet-152) ``POST /api/analyze``, ``/api/models/{id}``, and the
lecture page when there is one. Prints requests/s, p50/p95/p99, errors and answers served
from the answer cache (``Server-Timing: cache;desc=hit``) for each, and the targets: 0 errors;
the mix at 50% or more of the trivial endpoint's requests/s; p99 under 250 ms.

With ``--cache both`` (the default) the mix is run twice: against that server, whose processes
keep their answers (``app.web.answercache``; the lecture hall's repeats are lookups), then
against a second server started with the cache off (``ARCHCALC_ANSWER_CACHE_ENTRIES=0``), where
every request pays the engine walk and the rendering, as a first visit of a new spec does.
The targets are judged on the first; ``--cache off`` runs only the second, ``--cache on`` only
the first.

Every client runs in this one process (asyncio, httpx2's AsyncClient), so the machine's cores
are shared by the clients and the server: on a small machine the figures are the pair's.
All requests come from one address, so the run raises the rate limit for its server (the
limiter would otherwise answer 429, which is what it is for).

``--heavy`` runs, instead, the classroom mix with what an attacker sends in it: torchvision
imports (each a child process), the 54-byte spec that unrolls to 5,000 rows as a page, as the
JSON API, as a LaTeX export and four times in /compare; while one more client asks ``/healthz``
every 50 ms and reports what it felt. Targets: no error (a 503 with Retry-After from a full
import queue or busy analysis places is a refusal by design, counted apart), ``/healthz`` p99
under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import zoo  # noqa: E402
from app.examples import ALEXNET_SLIDE  # noqa: E402
from app.web.serve import command_line  # noqa: E402
from app.web.settings import Settings  # noqa: E402

#: (kind, method, path, json body, headers), drawn per request
Request = tuple[str, str, str, object, dict[str, str]]
HX = {"HX-Request": "true"}
P99_TARGET_MS = 250.0
HEALTHZ_P99_TARGET_MS = 100.0
#: 54 bytes that unroll to 5,000 rows
BIG_SPEC = "input 8x8x3\nrepeat 2500 { dense { conv 1 3x3 pad 1 } }"
RATIO_TARGET = 0.5


@dataclass
class Tally:
    """Latencies (s) and errors of one kind of request."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    hits: int = 0
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server(workers: int, cache: bool = True) -> Iterator[str]:
    """uvicorn with the production options, on loopback; its base URL. ``cache=False``: with
    the answer cache off."""
    port = _free_port()
    settings = Settings(workers=workers)
    command = command_line(settings, host="127.0.0.1", port=port)
    env = os.environ | {"ARCHCALC_RATE_PER_SECOND": "1000000", "ARCHCALC_RATE_BURST": "1000000"}
    env |= {} if cache else {"ARCHCALC_ANSWER_CACHE_ENTRIES": "0"}
    proc = subprocess.Popen([sys.executable, "-m", *command, "--log-level", "warning",
                             "--no-access-log"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {proc.returncode}")
            try:
                if httpx2.get(f"{base}/api/models/alexnet/spec", timeout=2).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not answer within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def classroom(base: str) -> Callable[[random.Random], Request]:
    """The mix: what a lecture hall sends, by weight."""
    lines = ALEXNET_SLIDE.splitlines()
    typed = ["\n".join(lines[:n]) for n in range(2, len(lines) + 1)]
    small = {"spec": ALEXNET_SLIDE}
    large = {"spec": zoo.model_spec("resnet152")}
    models = ["alexnet", "vgg16", "resnet18", "resnet50", "googlenet", "lenet5", "squeezenet1_0"]
    has_lecture = httpx2.get(f"{base}/lecture", timeout=10).status_code == 200
    choices: list[tuple[float, Callable[[random.Random], Request]]] = [
        (2, lambda r: ("page", "GET", "/", None, {})),
        (8, lambda r: ("fragment", "GET", "/?" + httpx2.QueryParams(
            {"spec": r.choice(typed)}).__str__(), None, HX)),
        (4, lambda r: ("analyze small", "POST", "/api/analyze", small, {})),
        (1, lambda r: ("analyze resnet152", "POST", "/api/analyze", large, {})),
        (3, lambda r: ("model", "GET", f"/api/models/{r.choice(models)}", None, {})),
    ]
    if has_lecture:
        choices.append((1, lambda r: ("lecture page", "GET", "/lecture", None, {})))
    weights = [w for w, _ in choices]
    makers = [m for _, m in choices]
    return lambda r: r.choices(makers, weights)[0](r)


def heavy(base: str) -> Callable[[random.Random], Request]:
    """The classroom mix with imports and the biggest answers in it."""
    normal = classroom(base)
    big = httpx2.QueryParams({"spec": BIG_SPEC}).__str__()
    compare = httpx2.QueryParams([("item", BIG_SPEC)] * 4).__str__()
    choices: list[tuple[float, Callable[[random.Random], Request]]] = [
        (6, normal),
        (1, lambda r: ("big page", "GET", f"/?{big}", None, {})),
        (1, lambda r: ("big API answer", "POST", "/api/analyze", {"spec": BIG_SPEC}, {})),
        (1, lambda r: ("big LaTeX export", "GET", f"/api/export/analyze?{big}&format=latex",
                       None, {})),
        (1, lambda r: ("compare of four big", "GET", f"/compare?{compare}", None, {})),
        (1, lambda r: ("torchvision import", "POST", "/api/import",
                       {"torchvision": r.choice(["resnet18", "vgg11", "mobilenet_v2"]),
                        "size": 64}, {})),
    ]
    weights = [w for w, _ in choices]
    makers = [m for _, m in choices]
    return lambda r: r.choices(makers, weights)[0](r)


async def probe(base: str, until: float, tally: Tally) -> None:
    """``/healthz`` every 50 ms on a connection of its own: what every other user feels."""
    async with httpx2.AsyncClient(base_url=base, timeout=30) as http:
        while time.monotonic() < until:
            started = time.perf_counter()
            try:
                response = await http.get("/healthz")
                tally.statuses[response.status_code] += 1
                tally.errors += response.status_code != 200
            except httpx2.HTTPError:
                tally.statuses[-1] += 1
                tally.errors += 1
            tally.latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.05)


async def heavy_phase(base: str, args: argparse.Namespace) -> tuple[dict[str, Tally], Tally]:
    health = Tally()
    until = time.monotonic() + args.seconds
    mix, _ = await asyncio.gather(
        phase(base, heavy(base), args.clients, args.seconds, args.max_requests),
        probe(base, until, health))
    return mix[0], health


def heavy_report(tallies: dict[str, Tally], health: Tally) -> bool:
    print("| requests | count | p50 ms | p95 ms | p99 ms | 200 | refused by design (503) | "
          "errors |")
    print("|---|---|---|---|---|---|---|---|")
    errors = 0
    for name, tally in sorted(tallies.items()):
        refused = tally.statuses.get(503, 0)
        other = sum(n for code, n in tally.statuses.items() if code not in (200, 503))
        errors += other
        print(f"| {name} | {len(tally.latencies):,} | {tally.pct(0.5):.0f} | "
              f"{tally.pct(0.95):.0f} | {tally.pct(0.99):.0f} | {tally.statuses.get(200, 0)} | "
              f"{refused} | {other} |")
    print(f"| /healthz probe | {len(health.latencies):,} | {health.pct(0.5):.1f} | "
          f"{health.pct(0.95):.1f} | {health.pct(0.99):.1f} | {health.statuses.get(200, 0)} | "
          f"- | {health.errors} |")
    p99 = health.pct(0.99)
    checks = [(f"errors: {errors + health.errors}", errors + health.errors == 0),
              (f"/healthz p99 {p99:.0f} ms, max {max(health.latencies, default=0) * 1000:.0f} "
               f"ms (target under {HEALTHZ_P99_TARGET_MS:.0f} ms)", p99 < HEALTHZ_P99_TARGET_MS)]
    print()
    for text, met in checks:
        print(f"{'met' if met else 'NOT met'}: {text}")
    others = {k: dict(v.statuses) for k, v in tallies.items() if set(v.statuses) - {200, 503}}
    if others:
        print(f"answers other than 200 and 503: {others}")
    return all(met for _, met in checks)


def trivial(base: str) -> Callable[[random.Random], Request]:
    path = "/healthz" if httpx2.get(f"{base}/healthz", timeout=10).status_code == 200 \
        else "/api/models/alexnet/spec"
    return lambda r: (f"trivial {path}", "GET", path, None, {})


async def _client(http: httpx2.AsyncClient, draw: Callable[[random.Random], Request],
                  seed: int, until: float, budget: list[int],
                  tallies: dict[str, Tally]) -> None:
    rng = random.Random(seed)
    while time.monotonic() < until and budget[0] > 0:
        budget[0] -= 1
        kind, method, path, body, headers = draw(rng)
        tally = tallies[kind]
        started = time.perf_counter()
        try:
            response = await http.request(method, path, json=body, headers=headers)
            await response.aread()
            ok = response.status_code == 200
            tally.hits += "cache;desc=hit" in response.headers.get("server-timing", "")
            tally.statuses[response.status_code] += 1
        except httpx2.HTTPError:
            ok = False
            tally.statuses[-1] += 1
        tally.latencies.append(time.perf_counter() - started)
        tally.errors += not ok


async def phase(base: str, draw: Callable[[random.Random], Request], clients: int,
                seconds: float, max_requests: int, warmup: float = 0.0
                ) -> tuple[dict[str, Tally], float]:
    """Run ``clients`` loops for ``seconds``, after ``warmup`` seconds of the same on the same
    connections (not counted); the tallies by kind and the wall time."""
    limits = httpx2.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx2.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        if warmup > 0:
            until, ignored = time.monotonic() + warmup, defaultdict[str, Tally](Tally)
            await asyncio.gather(*(_client(http, draw, -1 - seed, until, [max_requests], ignored)
                                   for seed in range(clients)))
        tallies: dict[str, Tally] = defaultdict(Tally)
        started = time.monotonic()
        budget = [max_requests]
        await asyncio.gather(*(_client(http, draw, seed, started + seconds, budget, tallies)
                               for seed in range(clients)))
        return tallies, time.monotonic() - started


def _row(name: str, tally: Tally, wall: float) -> str:
    n = len(tally.latencies)
    return (f"| {name} | {n:,} | {n / wall:,.0f} | {tally.pct(0.50):.1f} | "
            f"{tally.pct(0.95):.1f} | {tally.pct(0.99):.1f} | {tally.errors} | "
            f"{tally.hits / max(n, 1):.0%} |")


def _merged(tallies: dict[str, Tally]) -> Tally:
    total = Tally()
    for tally in tallies.values():
        total.latencies += tally.latencies
        total.errors += tally.errors
        total.hits += tally.hits
    return total


Run = tuple[dict[str, Tally], float]


def _mix_rows(label: str, run: Run) -> Tally:
    tallies, wall = run
    mix = _merged(tallies)
    print(_row(f"**{label}**", mix, wall))
    for name, tally in sorted(tallies.items()):
        print(_row(f"  {name}", tally, wall))
    return mix


def report(trivial_run: Run, mixes: list[tuple[str, Run]], clients: int) -> bool:
    """Print the table and the targets (judged on the first mix); whether every one was met."""
    print(f"\n{clients} clients\n")
    print("| requests | count | req/s | p50 ms | p95 ms | p99 ms | errors | cache hits |")
    print("|---|---|---|---|---|---|---|---|")
    trivial_tallies, trivial_wall = trivial_run
    base = _merged(trivial_tallies)
    for name, tally in trivial_tallies.items():
        print(_row(name, tally, trivial_wall))
    merged = [(label, _mix_rows(label, run), run[1]) for label, run in mixes]
    base_rate = max(len(base.latencies) / trivial_wall, 1e-9)
    errors = base.errors + sum(mix.errors for _, mix, _ in merged)
    label, mix, wall = merged[0]
    ratio = (len(mix.latencies) / wall) / base_rate
    p99 = mix.pct(0.99)
    checks = [(f"errors: {errors}", errors == 0),
              (f"{label} at {ratio:.0%} of the trivial endpoint's requests/s (target 50%)",
               ratio >= RATIO_TARGET),
              (f"{label}: mix p99 {p99:.0f} ms (target under {P99_TARGET_MS:.0f} ms)",
               p99 < P99_TARGET_MS)]
    print()
    for text, met in checks:
        print(f"{'met' if met else 'NOT met'}: {text}")
    for label, mix, wall in merged[1:]:
        print(f"for comparison, {label}: {(len(mix.latencies) / wall) / base_rate:.0%} of the "
              f"trivial endpoint's requests/s, p99 {mix.pct(0.99):.0f} ms")
    for label, run in mixes:
        statuses = {k: dict(v.statuses) for k, v in run[0].items() if set(v.statuses) != {200}}
        if statuses:
            print(f"answers other than 200 ({label}): {statuses}")
    return all(met for _, met in checks)


def _measure(workers: int, cache: bool, args: argparse.Namespace,
             trivial_too: bool) -> tuple[Run | None, Run]:
    """One server: (the trivial phase if asked, the mix), after a short warm-up."""
    with server(workers, cache) as base:
        mix_draw, trivial_draw = classroom(base), trivial(base)
        trivial_run = asyncio.run(phase(base, trivial_draw, args.clients, args.seconds,
                                        args.max_requests, 0.5)) if trivial_too else None
        # the mix after the first minutes of a lecture: its connections, each held by one
        # worker process, first send the mix for ``warmup`` seconds, so that every process
        # has met every distinct request (a worker's cache is its own)
        mix_run = asyncio.run(phase(base, mix_draw, args.clients, args.seconds,
                                    args.max_requests, args.warmup))
        return trivial_run, mix_run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--max-requests", type=int, default=200_000,
                        help="stop a phase after this many requests")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="seconds of the mix sent before each measured mix")
    parser.add_argument("--cache", choices=("both", "on", "off"), default="both",
                        help="the answer cache on, off, or the mix once each way (default)")
    parser.add_argument("--short", action="store_true",
                        help="a few seconds, 10 clients, 1 worker: that it runs")
    parser.add_argument("--heavy", action="store_true",
                        help="imports and the biggest answers in the mix, /healthz probed")
    args = parser.parse_args(argv)
    if args.heavy:
        load = os.getloadavg()
        print(f"uvicorn --workers {args.workers}, {args.clients} clients, {args.seconds:g} s; "
              f"load average {load[0]:.2f} before the run")
        with server(args.workers) as base:
            httpx2.post(f"{base}/api/import", json={"torchvision": "resnet18", "size": 64},
                        timeout=120)  # the import pool's first child, started before timing
            tallies, health = asyncio.run(heavy_phase(base, args))
        met = heavy_report(tallies, health)
        print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())} after the run")
        return 0 if met else 2
    if args.short:
        args.clients, args.workers, args.seconds, args.max_requests = 10, 1, 1.0, 2_000
        args.warmup = 0.5
    args.seconds = min(args.seconds, 120.0)
    load = os.getloadavg()
    print(f"uvicorn --workers {args.workers}; {args.seconds:g} s a phase after {args.warmup:g} s "
          "of warm-up; loopback; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} before the run")
    mixes: list[tuple[str, Run]] = []
    trivial_run: Run | None = None
    for cache in {"both": (True, False), "on": (True,), "off": (False,)}[args.cache]:
        first, mix_run = _measure(args.workers, cache, args, trivial_run is None)
        trivial_run = trivial_run or first
        mixes.append(("classroom mix" if cache else "classroom mix, cache off", mix_run))
    assert trivial_run is not None
    met = report(trivial_run, mixes, args.clients)
    print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())} after the run")
    errors = _merged(trivial_run[0]).errors + sum(_merged(run[0]).errors for _, run in mixes)
    return 1 if errors else (0 if met or args.short else 2)


if __name__ == "__main__":
    sys.exit(main())
