"""The embedded worker's life: one a host, and gone soon after the web app that started it dies,
however it dies.

Real processes throughout: the production server command (``python -m app.web.serve``) in the
embedded mode, a real job to start its worker, then the server killed with SIGHUP (what a closed
terminal sends) or SIGKILL, neither of which lets the app stop its worker itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from app.worker.embedded import GRACE_S, EmbeddedWorker, lock_held
from tests.liveserver import REPO_ROOT, free_port, stop, wait_until_ready
from tests.worker.conftest import tiny_spec, worker_settings

pytestmark = pytest.mark.slow

#: the worker's own warm shutdown, then the kill, with room for a busy two-core machine
GONE_WITHIN_S = GRACE_S + 12


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _embedded_workers(embedded_dir: Path) -> list[int]:
    """The pids of ``python -m app.worker.embedded`` processes serving this folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            env = (entry / "environ").read_bytes()
        except OSError:
            continue
        if b"app.worker.embedded" in argv and \
                f"ARCHCALC_EMBEDDED_DIR={embedded_dir}\0".encode() in env + b"\0":
            found.append(int(entry.name))
    # a worker's pool children share its command line: count the worker alone
    return [pid for pid in found if _alive(pid) and _parent(pid) not in found]


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@contextmanager
def _web(embedded_dir: Path, log: Path,
         **settings: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "ARCHCALC_BROKER_URL"} | {
        "ARCHCALC_EMBEDDED_DIR": str(embedded_dir), "ARCHCALC_WARMUP": "0",
        "ARCHCALC_REPEATS": "1", "PYTHONPATH": str(REPO_ROOT)} | settings
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.web.serve", "--port", str(port)],
                                cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{base}/healthz", proc, log, seconds=60)
        yield base, proc
    finally:
        if proc.poll() is None:
            stop(proc)


def _run_job(base: str, width: int) -> None:
    """A real job through that server, to its end (which starts the embedded worker)."""
    with httpx2.Client(base_url=base, timeout=30) as client:
        answer = client.post("/api/runs", json={"spec": tiny_spec(width), "batch_sizes": [1]})
        assert answer.status_code in (200, 202), answer.text
        deadline = time.monotonic() + 120
        while (body := client.get(f"/api/runs/{answer.json()['id']}").json())["status"] not in (
                "done", "failed", "cancelled"):
            assert time.monotonic() < deadline, body
            time.sleep(0.2)
    assert body["status"] == "done", body


def _group(pgid: int) -> list[int]:
    """The live processes of a process group (the worker and its pool children)."""
    pids = [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]
    out = []
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(pid)
    return out


@pytest.mark.parametrize("how", [signal.SIGHUP, signal.SIGKILL], ids=["SIGHUP", "SIGKILL"])
def test_the_worker_dies_with_its_web_app(how: signal.Signals, tmp_path: Path) -> None:
    embedded_dir = tmp_path / "queue"
    with _web(embedded_dir, tmp_path / "web.log") as (base, web):
        _run_job(base, 20 + how)
        (worker,) = _embedded_workers(embedded_dir)
        assert int((embedded_dir / "worker.lock").read_text()) == worker
        web.send_signal(how)
        web.wait(10)
        deadline = time.monotonic() + GONE_WITHIN_S
        while (_group(worker) or lock_held(embedded_dir / "worker.lock")) and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        assert _group(worker) == [], (embedded_dir / "worker.log").read_text()[-3000:]
        assert not lock_held(embedded_dir / "worker.lock")


def test_two_web_processes_share_one_worker(tmp_path: Path) -> None:
    embedded_dir = tmp_path / "queue"
    with _web(embedded_dir, tmp_path / "a.log") as (a, _), \
            _web(embedded_dir, tmp_path / "b.log") as (b, _):
        _run_job(a, 30)
        _run_job(b, 31)
        _run_job(a, 32)
        assert len(_embedded_workers(embedded_dir)) == 1


def test_a_server_of_several_processes_starts_one_worker(tmp_path: Path) -> None:
    """``ARCHCALC_WORKERS=2``: jobs sent at once over separate connections reach both server
    processes, and they share the one worker."""
    embedded_dir = tmp_path / "queue"
    with _web(embedded_dir, tmp_path / "web.log", ARCHCALC_WORKERS="2") as (base, _):
        with ThreadPoolExecutor(6) as pool:
            for done in [pool.submit(_run_job, base, 40 + i) for i in range(6)]:
                done.result(180)  # each job ran to its end
        workers = _embedded_workers(embedded_dir)
        assert len(workers) == 1, workers
        assert int((embedded_dir / "worker.lock").read_text()) == workers[0]


def test_the_worker_outlives_the_thread_that_started_it(tmp_path: Path) -> None:
    """Linux sends the parent-death signal when the forking *thread* ends: a request thread that
    starts the worker and then ends must not take the worker with it."""
    local = EmbeddedWorker(worker_settings(None, embedded_dir=tmp_path))
    starter = threading.Thread(target=local.ensure_started)
    starter.start()
    starter.join()
    try:
        assert local.process is not None
        time.sleep(GRACE_S + 1)
        assert local.process.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
        assert local.running() and lock_held(local.lock_path)
        # a second client of the same folder uses that worker instead of starting one
        other = EmbeddedWorker(worker_settings(None, embedded_dir=tmp_path))
        other.ensure_started()
        assert other.process is None and other.running()
    finally:
        local.stop()
    assert not local.running()
