"""Real components for the worker tests: Celery workers as ``python -m app.worker`` processes
on the session's redis-server (the ``redis_server`` fixture of tests/conftest.py), and a uvicorn
server with the same settings.

Everything is small on purpose (tiny specs, one warm-up and three timed iterations, a time
limit of a few seconds) so the module runs in well under two minutes on two cores.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from app.worker.client import Runs
from app.worker.embedded import settings_env
from app.worker.models import RunStatus
from app.worker.settings import WorkerSettings
from tests.redisserver import RedisServer as RedisServer  # the fixture's type, for the tests

REPO_ROOT = Path(__file__).resolve().parents[2]
#: long enough for a tiny job on a busy two-core machine, short enough to wait for in a test
TIME_LIMIT_S = 8.0
#: a lost worker's job is noticed this long after its last heartbeat (longer than the broker
#: outage the tests make, so that outage loses nothing)
LOST_AFTER_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tiny_spec(width: int) -> str:
    """A small network; ``width`` makes each test's question distinct."""
    return (f"input {width}x{width}x3\nconv1: conv 8 3x3 pad 1\nrelu\nmaxpool 2x2\n"
            "conv2: conv 16 3x3\nbn\nrelu\nfc1: fc 10\n")


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL to the whole process group if it lingers."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()


def worker_settings(broker: str | None, **extra: Any) -> WorkerSettings:
    """The settings every test process shares: small timings, test faults allowed."""
    values: dict[str, Any] = {"broker_url": broker, "warmup": 1, "repeats": 3,
                              "time_limit_s": TIME_LIMIT_S, "test_faults": True,
                              "ping_timeout_s": 0.5, "torch_threads": 1, "heartbeat_s": 1.0,
                              "lost_after_s": LOST_AFTER_S, "ready_refresh_s": 1.0} | extra
    return WorkerSettings(**values)


@dataclass
class Worker:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path


def start_worker(settings: WorkerSettings, name: str, log: Path) -> Worker:
    env = os.environ | settings_env(settings) | {"PYTHONPATH": str(REPO_ROOT)}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.worker", "--name", name],
                                cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return Worker(name, proc, log)


def wait_for_workers(runs: Runs, names: set[str], workers: list[Worker],
                     seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for w in workers:
            if w.proc.poll() is not None:
                raise RuntimeError(f"worker {w.name} exited: {w.log.read_text()[-2000:]}")
        replies = runs.celery.control.ping(timeout=0.5) or []
        if names <= {name for reply in replies for name in reply}:
            return
    raise TimeoutError(f"workers {names} did not answer within {seconds} s")


@pytest.fixture(scope="session")
def settings(redis_server: RedisServer) -> WorkerSettings:
    return worker_settings(redis_server.url(0))


@pytest.fixture(scope="session")
def runs(settings: WorkerSettings) -> Runs:
    return Runs(settings)


@pytest.fixture(scope="session")
def worker(settings: WorkerSettings, runs: Runs,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    w = start_worker(settings, "w1@archcalc-test", tmp_path_factory.mktemp("w1") / "log.txt")
    try:
        wait_for_workers(runs, {w.name}, [w])
        yield w
    finally:
        stop(w.proc)


@dataclass
class WebServer:
    base: str
    proc: subprocess.Popen[bytes]
    log: Path

    def client(self) -> httpx2.Client:
        return httpx2.Client(base_url=self.base, timeout=10)


@pytest.fixture(scope="session")
def web(settings: WorkerSettings, worker: Worker,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """uvicorn serving app.main:app with the workers' settings (the same environment)."""
    port = free_port()
    log = tmp_path_factory.mktemp("uvicorn") / "log.txt"
    env = os.environ | settings_env(settings) | {"PYTHONPATH": str(REPO_ROOT)}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--host",
                                 "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                                cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    server = WebServer(f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + 30
    with server.client() as client:
        while True:
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                stop(proc)
                raise RuntimeError(f"uvicorn did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
    yield server
    stop(proc)


Poll = Callable[..., dict[str, Any]]


def poll_api(client: httpx2.Client, run_id: str, until: tuple[str, ...] = (
        "done", "failed", "cancelled"), seconds: float = 45) -> dict[str, Any]:
    """GET /api/runs/{id} until its status is one of ``until``."""
    deadline = time.monotonic() + seconds
    while True:
        response = client.get(f"/api/runs/{run_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in until or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def poll_runs(runs: Runs, run_id: str, until: tuple[str, ...] = (
        "done", "failed", "cancelled"), seconds: float = 45) -> RunStatus:
    deadline = time.monotonic() + seconds
    while True:
        status = runs.status(run_id)
        assert status is not None
        if status.status in until or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def tasks_run(runs: Runs) -> int:
    """How many jobs the workers have taken, by their own count (celery inspect stats)."""
    stats = runs.celery.control.inspect(timeout=1).stats() or {}
    return sum(s.get("total", {}).get("archcalc.run", 0) for s in stats.values())
