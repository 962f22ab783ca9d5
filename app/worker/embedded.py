"""The embedded mode: no Redis configured, one local worker process started by the web app.

The broker is kombu's filesystem transport (messages as files, broadcast included, so pings
and cancellation work as with Redis) and the results a SQLite database, both under
``ARCHCALC_EMBEDDED_DIR``. The worker is the same ``python -m app.worker`` a GPU machine runs,
started on the first job and stopped with the app. It needs torch on this machine; without it
the web app says how to get it (:data:`ENABLE_HINT`).

One worker a host, tied to the process that started it:

* ``worker.lock`` in the embedded folder is locked (``flock``) for as long as the worker lives:
  the web process that takes the lock starts the worker and hands it the locked descriptor,
  and a second web process (another ``ARCHCALC_WORKERS`` process, a second server, the CLI)
  that finds the lock taken uses that worker, through the same queue folders, instead of
  starting one. The file holds the worker's pid for people to read; the lock, not the pid,
  decides (a pid can be reused, a lock dies with its holders).
* The worker exits when its parent dies, however it dies (SIGKILL and SIGHUP included): it
  holds the read end of a pipe whose only writer is the parent, and end-of-file on it means
  the parent is gone; on Linux the kernel also sends it SIGTERM then (``PR_SET_PDEATHSIG``).
  It then shuts down warm and, after :data:`GRACE_S`, is killed with its pool.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import importlib.util
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from app.worker.settings import WorkerSettings

ENABLE_HINT = ("real runs need torch on this machine: pip install -e '.[torch]' (or set "
               "ARCHCALC_BROKER_URL to a Redis that GPU workers serve)")
WORKER_HINT = ("real runs need the worker extra (Celery): pip install -e '.[worker]', and "
               "torch where the jobs run: pip install -e '.[torch]'")


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


def celery_installed() -> bool:
    return importlib.util.find_spec("celery") is not None


def settings_env(settings: WorkerSettings) -> dict[str, str]:
    """The settings as the ``ARCHCALC_*`` variables a worker process reads."""
    out: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is not None:
            out[f"ARCHCALC_{name.upper()}"] = str(value).lower() if isinstance(value, bool) \
                else str(value)
    return out


#: after its parent died, how long the worker has to shut down warm before it is killed
GRACE_S = 3.0
#: Linux's prctl option that asks for a signal when the parent dies (linux/prctl.h)
PR_SET_PDEATHSIG = 1


class _Spawner:
    """Starts processes from one thread that lives as long as this process.

    Linux sends the parent-death signal when the *thread* that forked a child ends, not the
    process; a web server's request threads come and go, so the worker is forked here."""

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue[tuple[list[str], dict[str, Any],
                                                Future[subprocess.Popen[bytes]]]] = \
            queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, daemon=True,
                                                name="archcalc-embedded-spawner")
                self._thread.start()
        done: Future[subprocess.Popen[bytes]] = Future()
        self._requests.put((argv, kwargs, done))
        return done.result()

    def _serve(self) -> None:
        while True:
            argv, kwargs, done = self._requests.get()
            try:
                done.set_result(subprocess.Popen(argv, **kwargs))
            except BaseException as exc:  # handed to the caller, who raises it
                done.set_exception(exc)


_SPAWNER = _Spawner()


def _try_lock(path: Path) -> int | None:
    """An open descriptor of ``path`` holding its exclusive lock, or None if it is held."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def lock_held(path: Path) -> bool:
    """Whether a live worker holds the lock file ``path``."""
    if not path.exists():
        return False
    fd = _try_lock(path)
    if fd is None:
        return True
    os.close(fd)  # closing the only descriptor releases the lock at once
    return False


class EmbeddedWorker:
    """One local worker process for the host, started once, stopped with the app."""

    def __init__(self, settings: WorkerSettings, repo_root: Path | None = None) -> None:
        self.settings = settings
        self.repo_root = repo_root or Path(__file__).resolve().parents[2]
        self.process: subprocess.Popen[bytes] | None = None
        #: the write end of the pipe the worker watches; closed when this process dies
        self._parent_end: int | None = None
        self._lock = threading.Lock()

    @property
    def log_path(self) -> Path:
        return self.settings.embedded_dir / "worker.log"

    @property
    def lock_path(self) -> Path:
        return self.settings.embedded_dir / "worker.lock"

    def ensure_started(self) -> None:
        """Start the worker unless one runs on this host (again, if it died)."""
        with self._lock:
            if self.process is not None and self.process.poll() is None:
                return
            self._close_parent_end()
            self.settings.embedded_dir.mkdir(parents=True, exist_ok=True)
            lock_fd = _try_lock(self.lock_path)
            if lock_fd is None:  # another process's worker serves the same queue folders
                return
            try:
                self.process = self._spawn(lock_fd)
            finally:
                os.close(lock_fd)  # the worker holds the lock now, through its copy

    def _spawn(self, lock_fd: int) -> subprocess.Popen[bytes]:
        env = os.environ | settings_env(self.settings)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(self.repo_root), env.get("PYTHONPATH", "")) if p)
        watch_end, parent_end = os.pipe()  # neither is inherited unless passed
        argv = [sys.executable, "-m", "app.worker.embedded", "--watch-fd", str(watch_end),
                "--lock-fd", str(lock_fd), "--parent-pid", str(os.getpid()), "--",
                "--name", f"archcalc-embedded-{os.getpid()}@localhost"]
        try:
            with self.log_path.open("ab") as log:
                process = _SPAWNER.popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         pass_fds=(watch_end, lock_fd))
        except BaseException:
            os.close(parent_end)
            raise
        finally:
            os.close(watch_end)
        self._parent_end = parent_end
        return process

    def _close_parent_end(self) -> None:
        if self._parent_end is not None:
            os.close(self._parent_end)
            self._parent_end = None

    def running(self) -> bool:
        """This process's worker, or another's on the same queue folders, is alive."""
        if self.process is not None and self.process.poll() is None:
            return True
        return lock_held(self.lock_path)

    def stop(self, timeout: float = 10.0) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL if it has not stopped in ``timeout``. A worker
        another process started is left to it."""
        with self._lock:
            proc, self.process = self.process, None
            if proc is None or proc.poll() is not None:
                self._close_parent_end()
                return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:  # the worker and its child, as one process group
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        with self._lock:
            self._close_parent_end()


# --- in the worker process ----------------------------------------------------------------------


def _ask_for_parent_death_signal() -> None:
    """Linux: SIGTERM when the parent dies. Elsewhere the pipe alone tells."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def _watch_parent(watch_fd: int) -> None:
    """Block until the parent's end of the pipe closes; then shut down, warm, then cold."""
    while os.read(watch_fd, 1):  # the parent never writes: any return is end-of-file
        pass
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_S)
    os.killpg(os.getpgrp(), signal.SIGKILL)


def main(argv: list[str] | None = None) -> None:
    """``python -m app.worker.embedded``: the embedded worker, watching its parent."""
    parser = argparse.ArgumentParser(prog="python -m app.worker.embedded")
    parser.add_argument("--watch-fd", type=int, required=True)
    parser.add_argument("--lock-fd", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("worker_args", nargs="*", help="python -m app.worker's arguments")
    args = parser.parse_args(argv)
    _ask_for_parent_death_signal()
    if os.getppid() != args.parent_pid:  # it died before the signal was asked for
        sys.exit(1)
    os.ftruncate(args.lock_fd, 0)
    os.pwrite(args.lock_fd, f"{os.getpid()}\n".encode(), 0)
    threading.Thread(target=_watch_parent, args=(args.watch_fd,), daemon=True,
                     name="archcalc-parent-watch").start()
    from app.worker.__main__ import main as worker_main

    try:
        worker_main(args.worker_args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    else:
        code = 0
    # after a warm shutdown nothing is left to save (results are stored by then), and the
    # interpreter's teardown of torch holds the exit back for seconds: skip it
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
