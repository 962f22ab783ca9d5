"""Small records kept in the Celery result backend beside the jobs' own states.

Any backend Celery can store results in (Redis, a database) holds them, so the web app and the
workers need nothing else: a job's ``QUEUED`` state (written before it is sent, so an unknown
id is told apart from a waiting one) and a run's cancellation mark (``cancel.<id>``). The
records that must be atomic (which run answers a question, which attempt of a run is current,
who may cancel it, heartbeats) are in :mod:`app.worker.claims`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from celery.backends.base import Backend

from app.worker.models import JobPayload

PREFIX = "archcalc"
QUEUED = "QUEUED"
PROGRESS = "PROGRESS"


def question_key(job: JobPayload, repeats: int, warmup: int) -> str:
    """What makes two jobs the same question: spec, options, device kind, timing counts."""
    asked = job.model_dump(mode="json", exclude={"label"})
    asked["timing"] = [warmup, repeats]
    text = json.dumps(asked, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _put(backend: Backend, record: str, value: Any) -> None:
    backend.store_result(f"{PREFIX}.{record}", value, "SUCCESS")


def _get(backend: Backend, record: str) -> Any:
    meta = backend.get_task_meta(f"{PREFIX}.{record}", cache=False)
    return meta.get("result") if meta.get("status") == "SUCCESS" else None


def mark_cancelled(backend: Backend, job_id: str) -> None:
    _put(backend, f"cancel.{job_id}", True)


def is_cancelled(backend: Backend, job_id: str) -> bool:
    return _get(backend, f"cancel.{job_id}") is True


def mark_queued(backend: Backend, job_id: str, label: str) -> None:
    backend.store_result(job_id, {"label": label}, QUEUED)


def job_meta(backend: Backend, job_id: str) -> dict[str, Any]:
    """The job's state and result (or progress, or exception) as the backend holds them."""
    meta: dict[str, Any] = backend.get_task_meta(job_id, cache=False)
    return meta
