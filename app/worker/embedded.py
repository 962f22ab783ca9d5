"""The embedded mode: no Redis configured, one local worker process started by the web app.

The broker is kombu's filesystem transport (messages as files, broadcast included, so pings
and cancellation work as with Redis) and the results a SQLite database, both under
``ARCHCALC_EMBEDDED_DIR``. The worker is the same ``python -m app.worker`` a GPU machine runs,
started on the first job and stopped with the app. It needs torch on this machine; without it
the web app says how to get it (:data:`ENABLE_HINT`).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

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


class EmbeddedWorker:
    """One local worker process, started once, stopped with the app."""

    def __init__(self, settings: WorkerSettings, repo_root: Path | None = None) -> None:
        self.settings = settings
        self.repo_root = repo_root or Path(__file__).resolve().parents[2]
        self.process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def log_path(self) -> Path:
        return self.settings.embedded_dir / "worker.log"

    def ensure_started(self) -> None:
        """Start the worker unless it is running (again, if it died)."""
        with self._lock:
            if self.process is not None and self.process.poll() is None:
                return
            self.settings.embedded_dir.mkdir(parents=True, exist_ok=True)
            env = os.environ | settings_env(self.settings)
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(self.repo_root), env.get("PYTHONPATH", "")) if p)
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "app.worker", "--name",
                     f"archcalc-embedded-{os.getpid()}@localhost"],
                    env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL if it has not stopped in ``timeout``."""
        with self._lock:
            proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:  # the worker and its child, as one process group
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
