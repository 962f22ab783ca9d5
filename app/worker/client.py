"""The web side of the job queue: submit, look up, cancel, and check readiness.

Celery, no torch. One :class:`Runs` per web app, built from :class:`WorkerSettings`; in the
embedded mode it also owns the local worker process (:mod:`app.worker.embedded`).

A *run* (the id people see) has one or two *attempts* (Celery tasks): the first task's id is
the run's; :mod:`app.worker.claims` holds which attempt is current (``cur.<run>`` =
``<n>:<task id>``), so a stale copy of a lost attempt that resurfaces is dropped by the worker
and its outcome never counts. A run's status comes from its current attempt's state::

    QUEUED (written before sending)  -> queued
    PROGRESS (the task's reports)    -> running, with the step; lost when its heartbeat is gone
    SUCCESS                          -> done, with the RunResult
    FAILURE                          -> failed, with the reason in words
    a cancellation mark              -> cancelled (whatever state the job reached last)
    PENDING (nothing stored)         -> no such run
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import uuid
from collections.abc import Callable
from typing import Any

from celery import Celery
from kombu.exceptions import KombuError

from app.worker import guards, store
from app.worker.celery_app import make_celery
from app.worker.claims import Claims, open_claims
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
from app.worker.readiness import Monitor, Readiness, check
from app.worker.settings import WorkerSettings, queue_device
from app.worker.tasks import TASK_NAME, JobLost

__all__ = ["UNREACHABLE", "NotOwner", "QueueFull", "Readiness", "Runs", "failure_reason"]

#: how long a run's records (question, attempts, owner) are kept, like its result
KEEP_S = 7 * 24 * 3600


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


class NotOwner(Exception):
    """Cancelling needs the token the run's creation answered with."""


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


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Runs:
    """Submit and follow jobs for one deployment."""

    def __init__(self, settings: WorkerSettings, celery: Celery | None = None,
                 local_worker: bool = False) -> None:
        self.settings = settings
        self.celery = celery or make_celery(settings)
        #: the embedded mode's local worker, started with the first job
        self.local = EmbeddedWorker(settings) if local_worker else None
        self.monitor = Monitor(settings, self._check)
        self._claims: Claims | None = None
        #: (queue, worker) -> when it last answered a readiness check (the monitor's thread)
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        #: broadcasts (revoke) go out one at a time: the filesystem transport is not threadsafe
        self._control = threading.Lock()

    def close(self) -> None:
        self.monitor.stop()
        if self.local is not None:
            self.local.stop()

    @property
    def backend(self) -> Any:
        return self.celery.backend

    @property
    def claims(self) -> Claims:
        with self._lock:
            if self._claims is None:
                self._claims = open_claims(self.settings)
            return self._claims

    # --- submitting ----------------------------------------------------------------------------

    def submit(self, request: RunRequest, fault: Fault | None = None,
               before_new: Callable[[], None] | None = None) -> RunAccepted:
        """Queue a job, or answer with the run that already answers the same question.

        Only the request that creates the job gets its ``token``: N identical requests at once
        make one job (the question is claimed atomically), and N-1 answers without a token.
        ``before_new`` is called once, just before a new job is made (a quota draws there, so
        an answer that makes no job costs nothing); what it raises refuses the job."""
        queue = self.route()
        job = guards.resolve(request, self.settings, fault, queue_device(queue))
        guards.check(job, self.settings)
        if self.local is not None:  # also for a question queued before the app restarted
            self.local.ensure_started()
        key = "q." + store.question_key(job, self.settings.repeats, self.settings.warmup)
        for _ in range(3):  # a failed run is replaced; lose that race and take the winner's
            existing = self.claims.get(key)
            if existing:
                known = self.status(existing)
                if known is not None and known.status not in ("failed", "cancelled"):
                    return RunAccepted(id=existing, status=known.status,
                                       cached=known.status == "done")
            waiting = self.waiting(queue)
            if waiting >= self.settings.queue_max:
                raise QueueFull(waiting, self.settings.queue_max, self.settings.retry_after_s)
            if before_new is not None:
                before_new()
                before_new = None
            run_id = uuid.uuid4().hex
            self._record(job, run_id, queue)
            won = (self.claims.replace(key, existing, run_id, KEEP_S) if existing
                   else self.claims.add(key, run_id, KEEP_S))
            if won:
                return self._send(job, run_id, queue)
        # three races lost to requests whose runs failed at once: answer with the last winner
        winner = self.claims.get(key) or run_id
        return RunAccepted(id=winner, status="queued")

    def route(self) -> str:
        """The queue for the next job: the first some live worker consumes (the first of all
        when none does, or with one queue, so the job waits for a worker there)."""
        names = self.settings.queue_names
        if len(names) == 1:
            return names[0]
        state = self.monitor.wait_first(self.settings.ping_timeout_s + 5)
        live = state.live_queues() if state is not None else []
        return live[0] if live else names[0]

    def _record(self, job: JobPayload, run_id: str, queue: str) -> None:
        """What a re-queue needs, the current attempt, and the QUEUED state: all written before
        the question names this run, so whoever reads the question finds a known run."""
        payload = json.dumps({"job": job.model_dump(mode="json"), "queue": queue})
        self.claims.put(f"job.{run_id}", payload, KEEP_S)
        self.claims.put(f"cur.{run_id}", f"0:{run_id}", KEEP_S)
        store.mark_queued(self.backend, run_id, job.label)

    def _send(self, job: JobPayload, run_id: str, queue: str) -> RunAccepted:
        token = secrets.token_urlsafe(24)
        self.claims.put(f"own.{run_id}", _digest(token), KEEP_S)
        self.celery.send_task(TASK_NAME, args=[job.model_dump(mode="json"), run_id],
                              task_id=run_id, queue=queue)
        return RunAccepted(id=run_id, status="queued", token=token, queue=queue)

    # --- following ---------------------------------------------------------------------------

    def _current(self, run_id: str) -> tuple[int, str]:
        found = self.claims.get(f"cur.{run_id}")
        if found is None:  # a task sent around the web app: the run is its one attempt
            return 0, run_id
        attempt, task_id = found.split(":", 1)
        return int(attempt), task_id

    def status(self, run_id: str) -> RunStatus | None:
        """The run's status, progress and result; None for an id no run has."""
        attempt, task_id = self._current(run_id)
        meta = store.job_meta(self.backend, task_id)
        state = str(meta.get("status", "PENDING"))
        if state not in _STATES:
            return None
        found, status = meta.get("result"), _STATES[state]
        note = (f"attempt {attempt + 1}: the first attempt's worker was lost (no heartbeat "
                f"for {self.settings.lost_after_s:g} s) and the job was re-queued"
                if attempt else None)
        if store.is_cancelled(self.backend, run_id) and status != "done":
            return RunStatus(id=run_id, status="cancelled", error="cancelled on request")
        if status == "running" and isinstance(found, dict) and "step" in found:
            progress = Progress(**found)
            if self.claims.get(f"beat.{task_id}") is None:
                return self._lost(run_id, attempt, task_id, progress)
            return RunStatus(id=run_id, status="running", progress=progress, note=note)
        if status == "done":
            return RunStatus(id=run_id, status="done", result=RunResult.model_validate(found),
                             note=note)
        if status == "failed":
            return RunStatus(id=run_id, status="failed", note=note,
                             error=failure_reason(found, self.settings.time_limit_s))
        return RunStatus(id=run_id, status=status, note=note)  # type: ignore[arg-type]

    def _lost(self, run_id: str, attempt: int, task_id: str, progress: Progress) -> RunStatus:
        """A running attempt whose heartbeat is gone: re-queue the first, fail the second.

        Of several web processes that notice at once, the one whose compare-and-set moves the
        current attempt re-queues; the others read the new state."""
        who = f"the worker {progress.worker or 'running the job'}"
        recorded = self.claims.get(f"job.{run_id}")
        if attempt == 0 and recorded is not None:
            new_id = uuid.uuid4().hex
            sent = json.loads(recorded)
            # queued before it is current, so that no reader finds a current attempt unknown
            store.mark_queued(self.backend, new_id, str(sent["job"].get("label", "")))
            if self.claims.replace(f"cur.{run_id}", f"0:{task_id}", f"1:{new_id}", KEEP_S):
                self._revoke(task_id, terminate=True)  # in case it was only slow, not gone
                if self.local is not None:
                    self.local.ensure_started()
                self.celery.send_task(TASK_NAME, args=[sent["job"], run_id], task_id=new_id,
                                      queue=sent["queue"])
            found = self.status(run_id)
            assert found is not None
            return found
        again = "; it had been re-queued once already" if attempt else ""
        reason = (f"lost: {who} stopped sending heartbeats (none for "
                  f"{self.settings.lost_after_s:g} s at step '{progress.step}'), so its process "
                  f"or machine died{again}; ask again to run it anew")
        self.backend.mark_as_failure(task_id, JobLost(reason))
        return RunStatus(id=run_id, status="failed", error=reason)

    # --- cancelling ----------------------------------------------------------------------------

    def owns(self, run_id: str, token: str | None) -> bool:
        """Whether ``token`` is the one this run's creation answered with."""
        recorded = self.claims.get(f"own.{run_id}")
        return bool(token) and recorded is not None and hmac.compare_digest(
            recorded, _digest(token or ""))

    def cancel(self, run_id: str, token: str | None) -> RunStatus | None:
        """Cancel a queued or running run (a finished one is left as it is); NotOwner without
        the run's token."""
        known = self.status(run_id)
        if known is None:
            return None
        if not self.owns(run_id, token):
            raise NotOwner(f"cancelling run '{run_id}' needs the token its creation answered "
                           "with (Authorization: Bearer <token>); only who started a run may "
                           "cancel it")
        if known.status in ("done", "failed", "cancelled"):
            return known
        store.mark_cancelled(self.backend, run_id)
        # a queued job is dropped when a worker takes it; a running one's child is killed
        self._revoke(self._current(run_id)[1], terminate=known.status == "running")
        return self.status(run_id)

    def _revoke(self, task_id: str, terminate: bool) -> None:
        with self._control:
            self.celery.control.revoke(task_id, terminate=terminate, signal="SIGKILL")

    # --- the queue and readiness -----------------------------------------------------------

    def waiting(self, queue: str | None = None) -> int:
        """Jobs in a queue (the first, unless named) that no worker has taken yet."""
        with self.celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
            channel: Any = conn.default_channel  # a kombu Channel: queue_declare is there
            declared = channel.queue_declare(queue=queue or self.settings.queue, durable=True,
                                             auto_delete=False)
            return int(declared.message_count)

    def _check(self) -> Readiness:
        local = None
        if self.local is not None:
            local = "running" if self.local.running() else "not started"
        return check(self.settings, self.celery, self.waiting, local, self._seen)

    def readiness(self) -> Readiness | None:
        """The last background check (None before the first has ended); never blocks."""
        return self.monitor.latest()
