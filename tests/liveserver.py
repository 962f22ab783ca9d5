"""A real server for end-to-end tests: a free port, a process started from the repository root,
waited for until it answers, and stopped (terminated, then killed) whatever happens."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_ready(url: str, proc: subprocess.Popen[bytes], log: Path,
                     seconds: float = 30) -> None:
    """Until ``url`` answers; a process that exits, or a server that stays silent, is an error
    that carries its log."""
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}; its log:\n"
                               f"{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server did not answer within {seconds} s; its log:\n"
                                   f"{log.read_text(errors='replace')}") from None
            time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def live_server(module_args: list[str], log: Path, port: int,
                env: Mapping[str, str] | None = None,
                ready: str = "/openapi.json") -> Iterator[str]:
    """``python -m <module_args>`` (which must listen on 127.0.0.1:``port``), its output in
    ``log``; yields the base URL once ``ready`` answers, and stops the process afterwards."""
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", *module_args], cwd=REPO_ROOT,
                                env=dict(env) if env is not None else os.environ.copy(),
                                stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base + ready, proc, log)
        yield base
    finally:
        stop(proc)
