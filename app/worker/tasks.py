"""The task: one job in one child process, reported as progress, a result or a reason.

The same function serves every deployment: :func:`app.worker.celery_app.make_celery`
registers it under :data:`TASK_NAME` whatever the broker (Redis, or the embedded filesystem
transport). Faults become a failed job with a reason people can act on:

* a spec or limit error: the engine's message;
* out of memory (torch's allocator, ``MemoryError``): "out of memory at ...";
* a CUDA error: "CUDA error at ...";
* the hard time limit and a killed child are reported by Celery itself (``TimeLimitExceeded``,
  ``WorkerLostError``) and translated by :func:`app.worker.client.failure_reason`.

Every child runs one job and is replaced (``worker_max_tasks_per_child = 1``), so a CUDA
context left broken, an address-space limit or leaked memory never reaches the next job.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from celery import Task
from celery.exceptions import Ignore

from app.engine import SpecError
from app.worker import store
from app.worker.models import JobPayload, Progress
from app.worker.settings import WorkerSettings

TASK_NAME = "archcalc.run"


class JobFailed(Exception):
    """The job could not be run; the message says why, for the person who asked."""


def execute(task: Task[Any, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """Run one job (the body of the Celery task)."""
    job_id = str(task.request.id)
    backend = task.backend
    if store.is_cancelled(backend, job_id):
        raise Ignore()
    job = JobPayload.model_validate(payload)
    settings: WorkerSettings = task.app.conf.archcalc_settings
    worker = str(task.request.hostname or socket.gethostname())
    from app.worker import measure  # torch: imported only where jobs run

    done = [-1]
    current = [""]

    def report(step: str) -> None:
        done[0] += 1
        current[0] = step
        progress = Progress(step=step, done=max(done[0] - 1, 0), total=measure.steps_of(job),
                            worker=worker, pid=os.getpid())
        task.update_state(state=store.PROGRESS, meta=progress.model_dump())

    report("starting")
    try:
        result = measure.run(job, settings, report, lambda: store.is_cancelled(backend, job_id),
                             worker)
    except measure.Cancelled:
        raise Ignore() from None
    except SpecError as exc:
        raise JobFailed("; ".join(issue.message for issue in exc.issues)) from None
    except Exception as exc:  # torch raises RuntimeError for nearly anything
        raise JobFailed(describe(exc, current[0])) from None
    return result.model_dump(mode="json")


def describe(exc: BaseException, step: str) -> str:
    """A failure in words: what kind, where, and torch's own message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = f" while {step}" if step else ""
    lowered = text.lower()
    if isinstance(exc, MemoryError) or "out of memory" in lowered \
            or "can't allocate memory" in lowered or "cannot allocate memory" in lowered:
        return (f"out of memory{where}: {text}; the child process was replaced; "
                "try smaller batches")
    if "cuda" in lowered or "cudnn" in lowered or "cublas" in lowered:
        return f"CUDA error{where}: {text}; the child process was replaced"
    return f"{type(exc).__name__}{where}: {text}"
