"""The Celery app: one per settings, the same task in every one.

``celery -A app.worker.celery_app worker`` (or ``python -m app.worker``, which adds the right
options) starts a worker from the ``ARCHCALC_*`` environment. The configuration is what a job
queue for GPUs needs:

* one job at a time per worker process (concurrency 1), one message reserved at a time
  (prefetch 1), one job per child (``worker_max_tasks_per_child = 1``: a fresh child, with a
  fresh CUDA context, for every job; torch is imported in the parent first, so a child costs a
  fork, not an import);
* late acknowledgement: a job is acknowledged when it ends, so a message is never lost with a
  worker; a lost worker's job is noticed sooner from its heartbeats and re-queued by the web
  app (:mod:`app.worker.client`), and the copy Redis redelivers after the visibility timeout is
  dropped (:mod:`app.worker.tasks`); a *child* that died (killed, out of memory, past the
  hard time limit) is not re-queued (``task_reject_on_worker_lost = False``): the job is
  reported failed with the reason, the child replaced, and the next job runs;
* JSON only, results kept a week, short timeouts towards the broker so the web app answers;
  a worker's own writes of a result are retried through a broker blip (the web app's are not:
  a page would rather say "reconnecting" than wait);
* a child dies with its worker (``PR_SET_PDEATHSIG``): a worker killed outright leaves no
  orphan to finish a job that the web app re-queues.
"""

from __future__ import annotations

import ctypes
import signal
import sys
from typing import Any

from celery import Celery, Task, signals

from app.worker.settings import WorkerSettings
from app.worker.tasks import TASK_NAME, execute

WEEK_S = 7 * 24 * 3600


def make_celery(settings: WorkerSettings | None = None, worker: bool = False) -> Celery:
    """A Celery app for these settings, with the archcalc task registered (``worker``: the
    one a worker process runs, whose result writes wait out a broker blip)."""
    settings = settings or WorkerSettings()
    if settings.embedded:
        for name in ("data", "control"):
            (settings.embedded_dir / name).mkdir(parents=True, exist_ok=True)
    celery = Celery("archcalc", broker=settings.broker(), backend=settings.backend())
    celery.conf.update(
        archcalc_settings=settings,
        task_serializer="json", result_serializer="json", accept_content=["json"],
        task_default_queue=settings.queue, task_routes={TASK_NAME: {"queue": settings.queue}},
        task_acks_late=True, task_reject_on_worker_lost=False,
        task_time_limit=settings.time_limit_s,
        worker_prefetch_multiplier=1, worker_concurrency=1, worker_max_tasks_per_child=1,
        result_expires=WEEK_S, broker_transport_options=settings.transport_options(),
        broker_connection_retry_on_startup=True, broker_connection_timeout=3,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0,
                                   "interval_step": 0.2, "interval_max": 0.5},
        redis_socket_connect_timeout=3, redis_socket_timeout=10,
        worker_hijack_root_logger=False, worker_send_task_events=True,
        task_send_sent_event=True,
    )
    if worker:
        celery.conf.update(result_backend_always_retry=True, result_backend_max_retries=60,
                           result_backend_base_sleep_between_retries_ms=250,
                           result_backend_max_sleep_between_retries_ms=1000)
    celery.task(name=TASK_NAME, bind=True, shared=False)(_run)
    return celery


def _run(self: Task[Any, Any], payload: dict[str, Any], run_id: str | None = None
         ) -> dict[str, Any]:
    return execute(self, payload, run_id)


@signals.worker_process_init.connect
def _die_with_the_worker(**_: Any) -> None:
    """Ask Linux to kill this child when its worker process dies (PR_SET_PDEATHSIG = 1)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass


@signals.worker_init.connect
def _import_torch_in_parent(**_: Any) -> None:
    """Import torch and the measurement code once, before the pool forks its children.

    Also ``torch._dynamo``, which the FLOP counter and the optimizers import on first use (3 s
    of imports per job otherwise). Nothing is run: no thread pool or CUDA context exists before
    the fork."""
    import torch._dynamo  # noqa: F401

    from app.worker import measure  # noqa: F401


#: the app the ``celery -A app.worker.celery_app`` command finds
app = make_celery(worker=True)
