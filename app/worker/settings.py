"""The worker's settings: one object, read from ``ARCHCALC_*`` environment variables.

The web app and every worker read the same variables, so that the web side can refuse a job
the workers would refuse (the limits) and route it to the workers' queue (the device kind).

* ``ARCHCALC_BROKER_URL`` (e.g. ``redis://gpu-host:6379/0``): the Celery broker. Unset: the
  *embedded* mode, kombu's filesystem transport under ``ARCHCALC_EMBEDDED_DIR``, with one local
  worker started by the web app (when torch is installed).
* ``ARCHCALC_RESULT_BACKEND``: where results are stored; unset, the broker URL when it is Redis,
  else ``db+sqlite:///<embedded_dir>/results.sqlite``.
* ``ARCHCALC_QUEUES``: the queue(s) jobs travel on, comma-separated, each ``archcalc.cpu`` or
  ``archcalc.cuda`` (optionally with a pool suffix, ``archcalc.cuda.big``). The web app sends a
  job to the first of them that a live worker consumes (the device kind in the queue's name
  becomes the job's device); a worker consumes those of them that name its device. Unset: the
  one queue of ``ARCHCALC_RUN_DEVICE``.
* ``ARCHCALC_RUN_DEVICE``: ``cpu`` or ``cuda``, the kind of device a worker runs jobs on; it is
  part of the question a stored result answers and picks the default limits. Unset: the device
  of the first queue, else ``cpu``.
* The limits: ``ARCHCALC_MAX_JOB_MACS`` (multiply-accumulates of the whole job: every batch,
  x3 for a training step), ``ARCHCALC_MAX_JOB_TRAFFIC`` (bytes the whole job moves through
  memory: what bounds elementwise work that has no multiply-adds), ``ARCHCALC_MAX_JOB_BYTES``
  (the engine's memory estimate of the largest batch), ``ARCHCALC_MAX_BATCH_SIZES``,
  ``ARCHCALC_TIME_LIMIT_S`` (hard: the child is killed and replaced), ``ARCHCALC_QUEUE_MAX``
  (jobs waiting; beyond it 503 with ``Retry-After: ARCHCALC_RETRY_AFTER_S``).
* ``ARCHCALC_WARMUP`` and ``ARCHCALC_REPEATS``: timing iterations per batch size;
  ``ARCHCALC_TORCH_THREADS``: torch's threads in a CPU job (several CPU workers on one machine
  should share its cores, not each take all of them).
* ``ARCHCALC_HEARTBEAT_S`` and ``ARCHCALC_LOST_AFTER_S``: a running job's child writes a
  heartbeat this often; a job whose heartbeat is older than ``lost_after_s`` was lost with its
  worker and is re-queued once, then failed. ``ARCHCALC_READY_REFRESH_S``: how often the web
  app refreshes what ``/readyz`` answers (in the background).
* ``ARCHCALC_TEST_FAULTS``: test only. When true, a job may carry a fault to inject (a sleep,
  an address-space limit, a CUDA-style error); otherwise such a job is refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, cast

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DeviceKind = Literal["cpu", "cuda"]

#: the default limits by device kind: (max job MACs, max job bytes)
DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    "cpu": (2_000_000_000_000, 8 * 2**30),
    "cuda": (200_000_000_000_000, 64 * 2**30),
}
#: bytes a whole job may move through memory by device kind: a few minutes of a CPU core's
#: memory bandwidth, and a GPU's
DEFAULT_TRAFFIC: dict[str, int] = {"cpu": 2_000_000_000_000, "cuda": 200_000_000_000_000}

_QUEUE = re.compile(r"archcalc\.(cpu|cuda)(\.[a-z0-9_-]{1,40})?")


def queue_device(queue: str) -> DeviceKind:
    """The device kind a queue's name says (``archcalc.cuda.big`` -> ``cuda``)."""
    found = _QUEUE.fullmatch(queue)
    if found is None:
        raise ValueError(f"queue '{queue}': a queue is archcalc.cpu or archcalc.cuda, "
                         "optionally with a suffix such as archcalc.cuda.big")
    return cast(DeviceKind, found[1])


class WorkerSettings(BaseSettings):
    """Everything the job queue and its workers can be configured with."""

    model_config = SettingsConfigDict(env_prefix="ARCHCALC_", frozen=True, extra="ignore")

    broker_url: str | None = Field(default=None, description="Celery broker; unset = embedded mode")
    result_backend: str | None = Field(default=None, description="Celery result backend")
    embedded_dir: Path = Field(default=Path.home() / ".cache" / "archcalc" / "queue",
                               description="embedded mode: broker folders and result database")
    queues: str | None = Field(default=None, description="the queues jobs travel on, "
                               "comma-separated (archcalc.cpu, archcalc.cuda)")
    run_device: DeviceKind | None = Field(default=None,
                                          description="the device kind a worker runs jobs on")
    max_job_macs: int | None = Field(default=None, ge=1, description="multiply-accumulates per job")
    max_job_bytes: int | None = Field(default=None, ge=1,
                                      description="memory estimate per job, bytes")
    max_job_traffic: int | None = Field(default=None, ge=1,
                                        description="bytes moved through memory per job")
    max_batch_sizes: int = Field(default=6, ge=1, le=32, description="batch sizes per job")
    max_batch: int = Field(default=256, ge=1, description="largest batch size of a job")
    time_limit_s: float = Field(default=300.0, gt=0, description="hard time limit per job, seconds")
    queue_max: int = Field(default=50, ge=1, description="jobs waiting before new ones get 503")
    retry_after_s: int = Field(default=30, ge=1, description="Retry-After of a 503, seconds")
    warmup: int = Field(default=3, ge=0, description="untimed iterations per measurement")
    repeats: int = Field(default=10, ge=1, description="timed iterations per measurement")
    torch_threads: int | None = Field(default=None, ge=1, description="torch's intra-op threads in "
                                      "a child (default: torch's own choice)")
    test_faults: bool = Field(default=False,
                              description="test only: accept jobs with injected faults")
    ping_timeout_s: float = Field(default=1.0, gt=0,
                                  description="how long a readiness check waits for workers")
    ready_refresh_s: float = Field(default=5.0, ge=0.5, le=300,
                                   description="how often /readyz's answer is refreshed")
    heartbeat_s: float = Field(default=2.0, gt=0, le=60,
                               description="how often a running job's child beats")
    lost_after_s: float = Field(default=15.0, gt=0, le=3600,
                                description="heartbeat age after which a job is lost")

    @field_validator("queues")
    @classmethod
    def _known_queues(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        names = [q.strip() for q in value.split(",") if q.strip()]
        for name in names:
            queue_device(name)
        return ",".join(dict.fromkeys(names))

    @property
    def embedded(self) -> bool:
        """No broker configured: the queue lives in files on this machine."""
        return not self.broker_url

    @property
    def queue_names(self) -> list[str]:
        """Every queue the web app may send to, in order of preference."""
        if self.queues:
            return self.queues.split(",")
        return [f"archcalc.{self.run_device or 'cpu'}"]

    @property
    def device(self) -> DeviceKind:
        """The device kind this worker runs jobs on."""
        return self.run_device or queue_device(self.queue_names[0])

    @property
    def worker_queues(self) -> list[str]:
        """The queues a worker with these settings consumes: those naming its device."""
        return [q for q in self.queue_names if queue_device(q) == self.device]

    @property
    def queue(self) -> str:
        """The first queue (the only one, unless several are named)."""
        return self.queue_names[0]

    def macs_limit(self, device: DeviceKind) -> int:
        return self.max_job_macs or DEFAULT_LIMITS[device][0]

    def bytes_limit(self, device: DeviceKind) -> int:
        return self.max_job_bytes or DEFAULT_LIMITS[device][1]

    def traffic_limit(self, device: DeviceKind) -> int:
        return self.max_job_traffic or DEFAULT_TRAFFIC[device]

    @property
    def job_macs_limit(self) -> int:
        return self.macs_limit(self.device)

    @property
    def job_bytes_limit(self) -> int:
        return self.bytes_limit(self.device)

    def broker(self) -> str:
        return self.broker_url or "filesystem://localhost/"

    def backend(self) -> str:
        if self.result_backend:
            return self.result_backend
        if self.broker_url and self.broker_url.startswith(("redis://", "rediss://")):
            return self.broker_url
        return f"db+sqlite:///{self.embedded_dir / 'results.sqlite'}"

    def transport_options(self) -> dict[str, object]:
        """Kombu options: the embedded folders, or Redis' redelivery of a lost worker's job."""
        if self.embedded:
            folders = {name: str(self.embedded_dir / name) for name in ("data", "control")}
            return {"data_folder_in": folders["data"], "data_folder_out": folders["data"],
                    "control_folder": folders["control"], "polling_interval": 0.1}
        # a job a worker took but never acknowledged (the machine died) goes back to the
        # queue after this long; longer than any job may run
        return {"visibility_timeout": int(self.time_limit_s * 2 + 60)}
