"""The web side of the job queue: submit, look up, cancel, and check readiness.

Celery, no torch. One :class:`Runs` per web app, built from :class:`WorkerSettings`; in the
embedded mode it also owns the local worker process (:mod:`app.worker.embedded`).

A job's status comes from the result backend::

    QUEUED (written before sending)  -> queued
    PROGRESS (the task's reports)    -> running, with the step
    SUCCESS                          -> done, with the RunResult
    FAILURE                          -> failed, with the reason in words
    a cancellation mark              -> cancelled (whatever state the job reached last)
    PENDING (nothing stored)         -> no such job
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from celery import Celery
from kombu.exceptions import KombuError

from app.worker import guards, store
from app.worker.celery_app import make_celery
from app.worker.embedded import EmbeddedWorker
from app.worker.models import (
    Fault,
    JobPayload,
    Progress,
    RunAccepted,
    RunRequest,
    RunResult,
    RunStatus,
)
from app.worker.settings import WorkerSettings
from app.worker.tasks import TASK_NAME


def _unreachable() -> tuple[type[BaseException], ...]:
    """The exceptions that mean the broker or the result backend cannot be reached."""
    kinds: list[type[BaseException]] = [OSError, KombuError]
    try:
        from redis.exceptions import RedisError
        kinds.append(RedisError)
    except ImportError:  # the embedded mode needs no redis client
        pass
    try:
        from sqlalchemy.exc import SQLAlchemyError
        kinds.append(SQLAlchemyError)
    except ImportError:
        pass
    return tuple(kinds)


#: catch these around every call to the broker or the backend
UNREACHABLE = _unreachable()

_STATES = {store.QUEUED: "queued", store.PROGRESS: "running", "STARTED": "running",
           "RETRY": "queued", "SUCCESS": "done", "FAILURE": "failed", "REVOKED": "cancelled"}


class QueueFull(Exception):
    """Too many jobs are waiting; try again after ``retry_after`` seconds."""

    def __init__(self, waiting: int, limit: int, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"{waiting} jobs are waiting, the most this queue holds is {limit} "
                         f"(queue_max); try again in {retry_after} s")


@dataclass(frozen=True, slots=True)
class Readiness:
    broker: str
    workers: list[str]
    waiting: int | None
    problems: list[str]

    @property
    def ready(self) -> bool:
        return not self.problems


def failure_reason(result: Any, time_limit: float) -> str:
    """What a FAILURE's stored exception means, in words."""
    if isinstance(result, dict):  # an exception Celery could not rebuild: type and message
        kind, text = str(result.get("exc_type", "")), str(result.get("exc_message", ""))
    else:
        kind, text = type(result).__name__, str(result)
    if kind == "TimeLimitExceeded":
        return (f"killed: the job ran past the hard time limit of {time_limit:g} s; its "
                "child process was replaced")
    if kind == "WorkerLostError":
        how = text.split("prematurely:")[-1].split("Job:")[0].strip(" .")
        return (f"the child process running the job died ({how}); it was replaced; a "
                "signal 9 (SIGKILL) means it was killed from outside or by the kernel's "
                "out-of-memory killer")
    return text or kind


class Runs:
    """Submit and follow jobs for one deployment."""

    def __init__(self, settings: WorkerSettings, celery: Celery | None = None,
                 local_worker: bool = False) -> None:
        self.settings = settings
        self.celery = celery or make_celery(settings)
        #: the embedded mode's local worker, started with the first job
        self.local = EmbeddedWorker(settings) if local_worker else None

    def close(self) -> None:
        if self.local is not None:
            self.local.stop()

    @property
    def backend(self) -> Any:
        return self.celery.backend

    def submit(self, request: RunRequest, fault: Fault | None = None) -> RunAccepted:
        """Queue a job, or answer with the job that already answers the same question."""
        job = guards.resolve(request, self.settings, fault)
        guards.check(job, self.settings)
        if self.local is not None:  # also for a question queued before the app restarted
            self.local.ensure_started()
        key = store.question_key(job, self.settings.repeats, self.settings.warmup)
        earlier = self._earlier(key)
        if earlier is not None:
            return earlier
        waiting = self.waiting()
        if waiting >= self.settings.queue_max:
            raise QueueFull(waiting, self.settings.queue_max, self.settings.retry_after_s)
        return self._send(job, key)

    def _earlier(self, key: str) -> RunAccepted | None:
        job_id = store.job_for_question(self.backend, key)
        if job_id is None:
            return None
        known = self.status(job_id)
        if known is None or known.status in ("failed", "cancelled"):
            return None
        return RunAccepted(id=job_id, status=known.status, cached=known.status == "done")

    def _send(self, job: JobPayload, key: str) -> RunAccepted:
        job_id = uuid.uuid4().hex
        store.mark_queued(self.backend, job_id, job.label)
        store.remember_question(self.backend, key, job_id)
        self.celery.send_task(TASK_NAME, args=[job.model_dump(mode="json")], task_id=job_id,
                              queue=self.settings.queue)
        return RunAccepted(id=job_id, status="queued")

    def status(self, job_id: str) -> RunStatus | None:
        """The job's status, progress and result; None for an id no job has."""
        meta = store.job_meta(self.backend, job_id)
        state = str(meta.get("status", "PENDING"))
        if state not in _STATES:
            return None
        found, status = meta.get("result"), _STATES[state]
        if store.is_cancelled(self.backend, job_id) and status != "done":
            return RunStatus(id=job_id, status="cancelled", error="cancelled on request")
        if status == "running" and isinstance(found, dict) and "step" in found:
            return RunStatus(id=job_id, status="running", progress=Progress(**found))
        if status == "done":
            return RunStatus(id=job_id, status="done", result=RunResult.model_validate(found))
        if status == "failed":
            return RunStatus(id=job_id, status="failed",
                             error=failure_reason(found, self.settings.time_limit_s))
        return RunStatus(id=job_id, status=status)  # type: ignore[arg-type]

    def cancel(self, job_id: str) -> RunStatus | None:
        """Cancel a queued or running job (a finished one is left as it is)."""
        known = self.status(job_id)
        if known is None or known.status in ("done", "failed", "cancelled"):
            return known
        store.mark_cancelled(self.backend, job_id)
        # a queued job is dropped when a worker takes it; a running one's child is killed
        self.celery.control.revoke(job_id, terminate=known.status == "running",
                                   signal="SIGKILL")
        return self.status(job_id)

    def waiting(self) -> int:
        """Jobs in the queue that no worker has taken yet."""
        with self.celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
            channel: Any = conn.default_channel  # a kombu Channel: queue_declare is there
            declared = channel.queue_declare(queue=self.settings.queue, durable=True,
                                             auto_delete=False)
            return int(declared.message_count)

    def readiness(self) -> Readiness:
        """Broker reachable, at least one worker answering a ping, the queue not full."""
        problems: list[str] = []
        broker = self.celery.connection_for_write().as_uri()
        try:
            waiting = self.waiting()
        except UNREACHABLE as exc:
            return Readiness(broker, [], None, [f"the broker {broker} is unreachable: {exc}"])
        replies = self.celery.control.ping(timeout=self.settings.ping_timeout_s) or []
        workers = sorted(name for reply in replies for name in reply)
        if not workers and self.local is not None and not self.local.running():
            problems.append("the embedded worker is not running; it starts with the first job")
        elif not workers:
            problems.append(f"no worker answered within {self.settings.ping_timeout_s:g} s "
                            f"(queue {self.settings.queue})")
        if waiting >= self.settings.queue_max:
            problems.append(f"the queue is full: {waiting} jobs waiting, queue_max "
                            f"{self.settings.queue_max}")
        return Readiness(broker, workers, waiting, problems)
