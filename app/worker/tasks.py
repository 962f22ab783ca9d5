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

A job runs to completion at most once. The task first checks that its attempt is the run's
current one (:mod:`app.worker.claims`) and that nothing has answered it yet, else it drops the
message; until its outcome is stored, a thread in the child writes a heartbeat every ``heartbeat_s`` and,
should the web app have given this attempt up (its heartbeats were lost), kills the child; the
result counts only if the attempt is still current when it ends. Progress writes and
cancellation checks are best-effort: a broker blip of a few seconds costs the page a few
updates, not the job.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from celery import Task, signals
from celery.exceptions import Ignore

from app.engine import SpecError
from app.worker import store
from app.worker.claims import Claims, open_claims
from app.worker.models import JobPayload, Progress
from app.worker.settings import WorkerSettings

TASK_NAME = "archcalc.run"
log = logging.getLogger(__name__)
T = TypeVar("T")


class JobFailed(Exception):
    """The job could not be run; the message says why, for the person who asked."""


class JobLost(JobFailed):
    """The worker running the job was lost (its heartbeats stopped)."""


def best_effort(what: str, call: Callable[[], T], default: T) -> T:
    """``call()``, or ``default`` when the broker or backend cannot be reached right now."""
    try:
        return call()
    except Exception as exc:  # any transport's error: the job goes on without this write
        log.warning("%s skipped: %s: %s", what, type(exc).__name__, exc)
        return default


class Heartbeat:
    """A daemon thread: writes ``beat.<task id>`` every ``heartbeat_s`` (expiring after
    ``lost_after_s``) and kills the child when the run's current attempt is no longer this."""

    def __init__(self, claims: Claims, run_id: str, task_id: str, settings: WorkerSettings,
                 who: str) -> None:
        self.claims, self.run_id, self.task_id = claims, run_id, task_id
        self.settings, self.who = settings, who
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="archcalc-heartbeat",
                                        daemon=True)

    def start(self) -> None:
        self.beat()
        self._thread.start()
        _BEATING.append(self)

    def stop(self) -> None:
        self._stop.set()

    def beat(self) -> None:
        best_effort("heartbeat", lambda: self.claims.put(
            f"beat.{self.task_id}", self.who, self.settings.lost_after_s), None)

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.heartbeat_s):
            self.beat()
            if not current(self.claims, self.run_id, self.task_id):
                log.warning("attempt %s of run %s was given up on; stopping", self.task_id,
                            self.run_id)
                os.kill(os.getpid(), signal.SIGKILL)


#: the heartbeats of this child's task, stopped once Celery has stored its outcome
_BEATING: list[Heartbeat] = []


@signals.task_postrun.connect
def _stop_beating(**_: Any) -> None:
    while _BEATING:
        _BEATING.pop().stop()


def current(claims: Claims, run_id: str, task_id: str) -> bool:
    """Whether ``task_id`` is the run's current attempt (True when the record cannot be read:
    a blip must not kill a job)."""
    found = best_effort("attempt check", lambda: claims.get(f"cur.{run_id}"), None)
    return found is None or found.split(":", 1)[1] == task_id


def execute(task: Task[Any, Any], payload: dict[str, Any],
            run_id: str | None = None) -> dict[str, Any]:
    """Run one job (the body of the Celery task)."""
    task_id = str(task.request.id)
    run_id = run_id or task_id
    backend = task.backend
    settings: WorkerSettings = task.app.conf.archcalc_settings
    claims = open_claims(settings)
    if (not current(claims, run_id, task_id) or store.is_cancelled(backend, run_id)
            or store.job_meta(backend, task_id).get("status") in ("SUCCESS", "FAILURE")):
        raise Ignore()  # a superseded, cancelled or already answered copy of the job
    job = JobPayload.model_validate(payload)
    worker = str(task.request.hostname or socket.gethostname())
    from app.worker import measure  # torch: imported only where jobs run

    done = [-1]
    step_now = [""]

    def report(step: str) -> None:
        done[0] += 1
        step_now[0] = step
        progress = Progress(step=step, done=max(done[0] - 1, 0), total=measure.steps_of(job),
                            worker=worker, pid=os.getpid())
        best_effort("progress", lambda: task.update_state(
            state=store.PROGRESS, meta=progress.model_dump()), None)

    def cancelled() -> bool:
        return best_effort("cancel check", lambda: store.is_cancelled(backend, run_id), False)

    # beating until Celery has stored the outcome (task_postrun), which a blip may delay
    Heartbeat(claims, run_id, task_id, settings, f"{worker} pid {os.getpid()}").start()
    report("starting")
    try:
        result = measure.run(job, settings, report, cancelled, worker)
    except measure.Cancelled:
        raise Ignore() from None
    except SpecError as exc:
        raise JobFailed("; ".join(issue.message for issue in exc.issues)) from None
    except Exception as exc:  # torch raises RuntimeError for nearly anything
        raise JobFailed(describe(exc, step_now[0])) from None
    if not current(claims, run_id, task_id):
        raise Ignore()  # given up on while it ran: another attempt answers the run
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
