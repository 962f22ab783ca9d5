"""A Redis server and workers on this machine, for scripts and benchmarks (not the web app).

``redis_server()`` starts Debian's ``redis-server`` on a free loopback port (no persistence)
and stops it; ``worker_process()`` starts ``python -m app.worker`` with given settings and
waits until it answers a ping. Both stop what they started, by process id, on exit.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from celery import Celery

from app.worker.embedded import settings_env
from app.worker.settings import WorkerSettings

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextmanager
def redis_server() -> Iterator[str]:
    """Yields the URL of a fresh redis-server's database 0."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="archcalc-redis-") as workdir:
        proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", workdir],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            _wait_for_port(port, proc)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            _stop(proc)


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"redis-server did not listen on port {port} within {seconds} s")


@contextmanager
def worker_process(settings: WorkerSettings, celery: Celery, name: str,
                   log: Path | None = None, seconds: float = 120) -> Iterator[str]:
    """Start a worker with these settings; yields its node name once it answers a ping."""
    env = os.environ | settings_env(settings)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", ""))
                                        if p)
    out = log.open("wb") if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "app.worker", "--name", name], env=env,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + seconds
        while name not in {n for reply in celery.control.ping(timeout=0.5) or [] for n in reply}:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {name} did not start (exit {proc.returncode})")
        yield name
    finally:
        _stop(proc)
        if log is not None and not isinstance(out, int):
            out.close()
