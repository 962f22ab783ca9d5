"""A classroom under load: many clients against uvicorn run with the production settings.

    python benchmarks/load.py                 # 50 clients, 4 workers, 10 s a phase
    python benchmarks/load.py --clients 100 --workers 2 --seconds 20
    python benchmarks/load.py --short         # a few seconds: that it runs (CI, via a test)

Starts ``uvicorn`` as the README's production command does (``app.web.serve.command_line``),
on 127.0.0.1 on a free port (loopback only), and stops it at the end. Two phases of the same
length, with the same clients: first a trivial endpoint of the same app (``/healthz`` if the
app has one, else ``/api/models/alexnet/spec``: a short text answer, no engine call), then the
classroom mix: the calculator page, its htmx fragment as students type the AlexNet listing line
by line, small and large (ResNet-152) ``POST /api/analyze``, ``/api/models/{id}``, and the
lecture page when there is one. Prints requests/s, p50/p95/p99 and errors for each, and the
targets: 0 errors; the mix at 50% or more of the trivial endpoint's requests/s; p99 under
250 ms.

Every client runs in this one process (asyncio, httpx2's AsyncClient), so the machine's cores
are shared by the clients and the server: on a small machine the figures are the pair's.
All requests come from one address, so the run raises the rate limit for its server (the
limiter would otherwise answer 429, which is what it is for).
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
RATIO_TARGET = 0.5


@dataclass
class Tally:
    """Latencies (s) and errors of one kind of request."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
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
def server(workers: int) -> Iterator[str]:
    """uvicorn with the production options, on loopback; its base URL."""
    port = _free_port()
    settings = Settings(workers=workers)
    command = command_line(settings, host="127.0.0.1", port=port)
    env = os.environ | {"ARCHCALC_RATE_PER_SECOND": "1000000", "ARCHCALC_RATE_BURST": "1000000"}
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
            tally.statuses[response.status_code] += 1
        except httpx2.HTTPError:
            ok = False
            tally.statuses[-1] += 1
        tally.latencies.append(time.perf_counter() - started)
        tally.errors += not ok


async def phase(base: str, draw: Callable[[random.Random], Request], clients: int,
                seconds: float, max_requests: int) -> tuple[dict[str, Tally], float]:
    """Run ``clients`` loops for ``seconds``; the tallies by kind and the wall time."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    limits = httpx2.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx2.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        started = time.monotonic()
        budget = [max_requests]
        await asyncio.gather(*(_client(http, draw, seed, started + seconds, budget, tallies)
                               for seed in range(clients)))
        return tallies, time.monotonic() - started


def _row(name: str, tally: Tally, wall: float) -> str:
    n = len(tally.latencies)
    return (f"| {name} | {n:,} | {n / wall:,.0f} | {tally.pct(0.50):.1f} | "
            f"{tally.pct(0.95):.1f} | {tally.pct(0.99):.1f} | {tally.errors} |")


def _merged(tallies: dict[str, Tally]) -> Tally:
    total = Tally()
    for tally in tallies.values():
        total.latencies += tally.latencies
        total.errors += tally.errors
    return total


def report(trivial_run: tuple[dict[str, Tally], float],
           mix_run: tuple[dict[str, Tally], float], clients: int) -> bool:
    """Print the table and the targets; whether every target was met."""
    print(f"\n{clients} clients\n")
    print("| requests | count | req/s | p50 ms | p95 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    (trivial_tallies, trivial_wall), (mix_tallies, mix_wall) = trivial_run, mix_run
    base = _merged(trivial_tallies)
    for name, tally in trivial_tallies.items():
        print(_row(name, tally, trivial_wall))
    mix = _merged(mix_tallies)
    print(_row("**classroom mix**", mix, mix_wall))
    for name, tally in sorted(mix_tallies.items()):
        print(_row(f"  {name}", tally, mix_wall))
    ratio = (len(mix.latencies) / mix_wall) / max(len(base.latencies) / trivial_wall, 1e-9)
    errors = base.errors + mix.errors
    p99 = mix.pct(0.99)
    checks = [(f"errors: {errors}", errors == 0),
              (f"mix at {ratio:.0%} of the trivial endpoint's requests/s (target 50%)",
               ratio >= RATIO_TARGET),
              (f"mix p99 {p99:.0f} ms (target under {P99_TARGET_MS:.0f} ms)",
               p99 < P99_TARGET_MS)]
    print()
    for text, met in checks:
        print(f"{'met' if met else 'NOT met'}: {text}")
    statuses = {k: dict(v.statuses) for k, v in mix_tallies.items() if set(v.statuses) != {200}}
    if statuses:
        print(f"answers other than 200: {statuses}")
    return all(met for _, met in checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--max-requests", type=int, default=200_000,
                        help="stop a phase after this many requests")
    parser.add_argument("--short", action="store_true",
                        help="a few seconds, 10 clients, 1 worker: that it runs")
    args = parser.parse_args(argv)
    if args.short:
        args.clients, args.workers, args.seconds, args.max_requests = 10, 1, 1.0, 2_000
    args.seconds = min(args.seconds, 120.0)
    with server(args.workers) as base:
        mix_draw, trivial_draw = classroom(base), trivial(base)
        asyncio.run(phase(base, mix_draw, min(args.clients, 8), 0.5, 200))  # warm the caches
        print(f"uvicorn --workers {args.workers}; {args.seconds:g} s a phase; loopback")
        trivial_run = asyncio.run(phase(base, trivial_draw, args.clients, args.seconds,
                                        args.max_requests))
        mix_run = asyncio.run(phase(base, mix_draw, args.clients, args.seconds,
                                    args.max_requests))
    met = report(trivial_run, mix_run, args.clients)
    errors = _merged(trivial_run[0]).errors + _merged(mix_run[0]).errors
    return 1 if errors else (0 if met or args.short else 2)


if __name__ == "__main__":
    sys.exit(main())
