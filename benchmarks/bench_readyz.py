"""How much /readyz costs under concurrency, and what /healthz feels meanwhile.

Starts a redis-server on a free port, one worker (``--worker``, optional: it imports torch) and
the production server (``python -m app.web.serve``) on the same settings, then sends
``--clients`` concurrent clients each making ``--requests`` GET /readyz, while one more client
times GET /healthz. Prints the latency percentiles of both, how many answers of each status came
back, and the broker's command count over the run (each readiness check asks it a few things,
every ``ARCHCALC_READY_REFRESH_S``, however many clients ask).

    python benchmarks/bench_readyz.py [--clients 60] [--requests 20] [--worker]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from app.worker.embedded import settings_env  # noqa: E402
from app.worker.local import free_port, redis_server, worker_process  # noqa: E402
from app.worker.settings import WorkerSettings  # noqa: E402


def _get(url: str) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            answer.read()
            code = answer.status
    except urllib.error.HTTPError as exc:
        code = exc.code
    return code, time.perf_counter() - started


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1e3


def _hammer(base: str, clients: int, requests: int) -> tuple[list[float], list[float], Counter]:
    ready: list[float] = []
    health: list[float] = []
    codes: Counter[int] = Counter()
    go = threading.Barrier(clients + 1)
    done = threading.Event()

    def client() -> None:
        go.wait()
        for _ in range(requests):
            code, took = _get(base + "/readyz")
            codes[code] += 1
            ready.append(took)

    def watch() -> None:
        go.wait()
        while not done.is_set():
            code, took = _get(base + "/healthz")
            assert code == 200, code
            health.append(took)
            time.sleep(0.02)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    watcher = threading.Thread(target=watch)
    for t in [*threads, watcher]:
        t.start()
    for t in threads:
        t.join()
    done.set()
    watcher.join()
    return ready, health, codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=60)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--worker", action="store_true", help="start a worker too (torch)")
    args = parser.parse_args()
    import redis

    with redis_server() as url:
        settings = WorkerSettings(broker_url=url)
        port = free_port()
        env = os.environ | settings_env(settings) | {
            "PYTHONPATH": str(REPO_ROOT), "ARCHCALC_RATE_PER_SECOND": "100000",
            "ARCHCALC_RATE_BURST": "100000"}
        web = subprocess.Popen([sys.executable, "-m", "app.web.serve", "--port", str(port)],
                               cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    _get(base + "/healthz")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            if args.worker:
                from app.worker.client import Runs

                with worker_process(settings, Runs(settings).celery, "bench@localhost"):
                    _report(base, args, redis.Redis.from_url(url))
            else:
                _report(base, args, redis.Redis.from_url(url))
        finally:
            web.terminate()
            web.wait(15)


def _report(base: str, args: argparse.Namespace, client: object) -> None:
    _get(base + "/readyz")  # the first check starts the background thread
    load = os.getloadavg()[0]
    before = int(client.info("stats")["total_commands_processed"])  # type: ignore[attr-defined]
    started = time.monotonic()
    ready, health, codes = _hammer(base, args.clients, args.requests)
    took = time.monotonic() - started
    after = int(client.info("stats")["total_commands_processed"])  # type: ignore[attr-defined]
    print(f"{args.clients} clients x {args.requests} GET /readyz in {took:.1f} s "
          f"(load average {load:.2f} on {os.cpu_count()} CPUs)")
    print(f"answers: {dict(sorted(codes.items()))}")
    print(f"/readyz  p50 {_pct(ready, 50):7.1f} ms  p99 {_pct(ready, 99):7.1f} ms  "
          f"max {max(ready) * 1e3:7.1f} ms")
    print(f"/healthz p50 {_pct(health, 50):7.1f} ms  p99 {_pct(health, 99):7.1f} ms  "
          f"max {max(health) * 1e3:7.1f} ms  ({len(health)} requests)")
    print(f"broker commands during the run: {after - before} "
          f"({(after - before) / took:.1f} a second)")


if __name__ == "__main__":
    main()
