"""``python -m app.worker [--name NAME]``: one worker process for the ``ARCHCALC_*`` settings.

One process per GPU: start it once per device with ``CUDA_VISIBLE_DEVICES=N``. Extra arguments
after ``--`` go to ``celery worker`` unchanged (e.g. ``-- --loglevel DEBUG``).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

from app.worker.settings import WorkerSettings


def worker_argv(settings: WorkerSettings, name: str) -> list[str]:
    """The ``celery worker`` arguments of an archcalc worker."""
    return ["worker", "--pool", "prefork", "--concurrency", "1", "--prefetch-multiplier", "1",
            "--max-tasks-per-child", "1", "--queues", ",".join(settings.worker_queues),
            "--hostname", name,
            "--without-gossip", "--without-mingle", "--loglevel", "INFO"]


def default_name(settings: WorkerSettings) -> str:
    gpu = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    suffix = f"-gpu{gpu}" if gpu and settings.device == "cuda" else ""
    return f"archcalc-{settings.device}{suffix}-{os.getpid()}@{socket.gethostname()}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.worker", description=__doc__)
    parser.add_argument("--name", help="the worker's node name (default: device, pid, host)")
    parser.add_argument("extra", nargs="*", help="more celery worker arguments (after --)")
    args = parser.parse_args(argv)
    settings = WorkerSettings()
    if not settings.worker_queues:
        parser.exit(2, f"python -m app.worker: none of the queues {settings.queues} is for this "
                       f"worker's device ({settings.device}); add archcalc.{settings.device} to "
                       "ARCHCALC_QUEUES or set ARCHCALC_RUN_DEVICE\n")
    from app.worker.celery_app import app

    app.worker_main([*worker_argv(settings, args.name or default_name(settings)), *args.extra])


if __name__ == "__main__":
    main(sys.argv[1:])
