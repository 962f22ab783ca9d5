"""The embedded mode under the production command (``python -m app.web.serve``): ready before
the first job, one job for N identical requests, /readyz cheap under 60 concurrent requests
while /healthz answers, a worker killed outright whose job is re-queued to a new local worker,
and a SIGTERM that still stops the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from app.worker.client import Runs
from app.worker.embedded import settings_env
from app.worker.models import Fault, RunRequest
from app.worker.settings import WorkerSettings
from tests.liveserver import REPO_ROOT, wait_until_ready
from tests.worker.conftest import LOST_AFTER_S, free_port, poll_api, tiny_spec, worker_settings


@dataclass
class Server:
    base: str
    proc: subprocess.Popen[bytes]
    settings: WorkerSettings

    def client(self) -> httpx2.Client:
        return httpx2.Client(base_url=self.base, timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("embedded-serve")
    settings = worker_settings(None, embedded_dir=root / "queue")
    port = free_port()
    env = os.environ | settings_env(settings) | {
        "PYTHONPATH": str(REPO_ROOT), "ARCHCALC_RATE_PER_SECOND": "1000",
        "ARCHCALC_RATE_BURST": "1000", "ARCHCALC_RUNS_PER_MINUTE": "1000",
        "ARCHCALC_RUNS_BURST": "1000"}
    log = root / "web.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.web.serve", "--port", str(port)],
                                cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/healthz", proc, log)
        yield Server(f"http://127.0.0.1:{port}", proc, settings)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _kill_workers_of(settings)


def _kill_workers_of(settings: WorkerSettings) -> None:
    """Whatever local worker a failed test left behind, by the pid in its node's progress."""
    for pid in _local_worker_pids(settings):
        os.killpg(pid, signal.SIGKILL)


def _local_worker_pids(settings: WorkerSettings) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
                env = (entry / "environ").read_bytes()
            except OSError:
                continue
            # the embedded worker runs as app.worker.embedded, which watches its parent
            if {b"app.worker", b"app.worker.embedded"} & set(cmd) \
                    and str(settings.embedded_dir).encode() in env \
                    and os.getpgid(int(entry.name)) == int(entry.name):
                out.append(int(entry.name))
    return out


def test_ready_before_the_first_job_then_one_job_for_eight_identical_requests(
        server: Server) -> None:
    with server.client() as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["notes"] == ["the embedded worker starts with the first job"]
        assert ready.json()["sends_to"] == ["archcalc.cpu"]
    answers: list[httpx2.Response] = []
    start = threading.Barrier(8)

    def ask() -> None:
        with server.client() as client:
            start.wait()
            answers.append(client.post("/api/runs", json={"spec": tiny_spec(90),
                                                          "batch_sizes": [1]}))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {a.status_code for a in answers} <= {200, 202}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.json()["token"] is not None for a in answers) == 1
    with server.client() as client:
        assert poll_api(client, answers[0].json()["id"], seconds=120)["status"] == "done"
    assert len(_local_worker_pids(server.settings)) == 1


def test_readyz_under_sixty_concurrent_requests_leaves_the_server_answering(
        server: Server) -> None:
    codes: list[int] = []
    slowest = [0.0]
    go = threading.Barrier(61)

    def ready() -> None:
        with server.client() as client:
            go.wait()
            codes.append(client.get("/readyz").status_code)

    def health() -> None:
        with server.client() as client:
            go.wait()
            for _ in range(20):
                started = time.monotonic()
                assert client.get("/healthz").status_code == 200
                slowest[0] = max(slowest[0], time.monotonic() - started)
                time.sleep(0.05)

    threads = [threading.Thread(target=ready) for _ in range(60)]
    threads.append(threading.Thread(target=health))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "requests still hanging after 60 s"
    assert len(codes) == 60 and 500 not in codes, codes
    assert codes.count(200) >= 1, codes
    # not a latency target: a bound far above a thread pool's wait, far below a deadlock
    assert slowest[0] < 5, slowest
    with server.client() as client:
        assert client.get("/readyz").status_code == 200
        assert client.get("/static/app.css").status_code == 200


def test_a_local_worker_killed_outright_has_its_job_re_queued_to_a_new_one(
        server: Server) -> None:
    runs = Runs(server.settings)  # the same files: this process only submits
    try:
        accepted = runs.submit(RunRequest(spec=tiny_spec(92), batch_sizes=[1]),
                               Fault(kind="sleep", seconds=3))
    finally:
        runs.close()
    with server.client() as client:
        body = poll_api(client, accepted.id, until=("running",), seconds=60)
        assert body["status"] == "running", body
        (worker_pid,) = _local_worker_pids(server.settings)
        os.kill(worker_pid, signal.SIGKILL)
        killed = time.monotonic()
        body = poll_api(client, accepted.id, seconds=LOST_AFTER_S + 90)
    assert body["status"] == "done", body
    assert "re-queued" in body["note"]
    assert time.monotonic() - killed < LOST_AFTER_S + 90
    assert _local_worker_pids(server.settings) not in ([], [worker_pid])


def test_sigterm_still_stops_the_server_and_its_worker(server: Server) -> None:
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(timeout=30)
    deadline = time.monotonic() + 15
    while _local_worker_pids(server.settings) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _local_worker_pids(server.settings) == []
