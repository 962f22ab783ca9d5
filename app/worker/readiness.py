"""What ``/readyz`` answers, refreshed in the background so that asking costs nothing.

One daemon thread per web process asks the broker every ``ready_refresh_s`` seconds how many
jobs wait on each queue the web app sends to and which workers consume each of them (Celery's
``active_queues`` broadcast, bounded by ``ping_timeout_s``); ``/readyz`` only reads the last
snapshot. However many requests ask, the broker sees one question every few seconds, and no
request thread ever waits on it. Whatever the broker raises becomes a problem in words.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.worker.settings import WorkerSettings

if TYPE_CHECKING:
    from celery import Celery

#: what a snapshot is before the first check has ended
UNKNOWN = "readiness is being checked for the first time; ask again in a few seconds"


@dataclass(frozen=True, slots=True)
class Readiness:
    broker: str
    #: queue -> the workers consuming it (only the queues the web app sends to)
    queues: dict[str, list[str]]
    #: queue -> jobs waiting on it (None when the broker could not say)
    waiting: dict[str, int | None]
    problems: list[str]
    notes: list[str] = field(default_factory=list)
    checked_at: float = 0.0
    #: the queues jobs go to now: those a worker consumes (the embedded worker: all of them)
    sends_to: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.problems

    @property
    def workers(self) -> list[str]:
        return sorted({w for names in self.queues.values() for w in names})

    def live_queues(self) -> list[str]:
        """The queues jobs go to now, in the web app's order of preference."""
        return list(self.sends_to)


def check(settings: WorkerSettings, celery: Celery, waiting: Callable[[str], int],
          local_state: str | None, seen: dict[tuple[str, str], float] | None = None
          ) -> Readiness:
    """One readiness check (blocking, bounded by the broker's timeouts and the ping timeout).

    ``local_state`` is the embedded worker's: ``None`` when there is none, else "running" or
    "not started". ``seen`` remembers when each (queue, worker) last answered, across checks:
    a worker too busy to answer one broadcast in time still counts for ``lost_after_s``."""
    broker = celery.connection_for_write().as_uri()
    names = settings.queue_names
    try:
        counts: dict[str, int | None] = {q: waiting(q) for q in names}
    except Exception as exc:  # whatever the transport raises, the answer is words
        return Readiness(broker, {q: [] for q in names}, {q: None for q in names},
                         [f"the broker {broker} is unreachable: {_text(exc)}"],
                         checked_at=time.time())
    consumers = _consumers(celery, settings.ping_timeout_s)
    now, seen = time.time(), seen if seen is not None else {}
    for queue, workers in consumers.items():
        for worker in workers:
            seen[(queue, worker)] = now
    for key in [k for k, t in seen.items() if now - t > settings.lost_after_s]:
        del seen[key]
    queues = {q: sorted(w for (sq, w) in seen if sq == q) for q in names}
    problems: list[str] = []
    notes: list[str] = []
    live = [q for q in names if queues[q]]
    if not live and local_state is not None:
        # the embedded worker starts with the first job (or is starting): let that job in
        notes.append("the embedded worker starts with the first job" if local_state ==
                     "not started" else "the embedded worker is starting")
        live = list(names)
    elif not live:
        problems.append(f"no worker consumes the queue{'s' if len(names) > 1 else ''} "
                        f"{', '.join(names)} (none answered within "
                        f"{settings.ping_timeout_s:g} s)")
    considered = live or names
    if all((counts[q] or 0) >= settings.queue_max for q in considered):
        full = ", ".join(f"{q}: {counts[q]} jobs waiting" for q in considered)
        problems.append(f"the queue is full ({full}; queue_max {settings.queue_max})")
    return Readiness(broker, queues, counts, problems, notes, time.time(), live)


def _consumers(celery: Celery, timeout: float) -> dict[str, list[str]]:
    try:
        replies: dict[str, Any] = celery.control.inspect(timeout=timeout).active_queues() or {}
    except Exception:  # an unreachable broker was reported by the waiting count already
        return {}
    out: dict[str, list[str]] = {}
    for worker, queues in replies.items():
        for queue in queues or []:
            out.setdefault(str(queue.get("name")), []).append(worker)
    return out


def _text(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class Monitor:
    """Refreshes a :class:`Readiness` in one daemon thread, started on first use."""

    def __init__(self, settings: WorkerSettings, probe: Callable[[], Readiness]) -> None:
        self.settings = settings
        self._probe = probe
        self._latest: Readiness | None = None
        self._first = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="archcalc-readiness",
                                                daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def latest(self) -> Readiness | None:
        """The last snapshot (None before the first check ends); starts the thread."""
        self.start()
        return self._latest

    def wait_first(self, seconds: float) -> Readiness | None:
        """The first snapshot, waiting for it at most ``seconds`` (for a blocking caller)."""
        self.start()
        self._first.wait(seconds)
        return self._latest

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._latest = self._probe()
            except Exception as exc:  # a check must never end the thread
                self._latest = Readiness("", {}, {}, [f"readiness check failed: {_text(exc)}"],
                                         checked_at=time.time())
            self._first.set()
            self._stop.wait(self.settings.ready_refresh_s)
