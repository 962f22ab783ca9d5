"""The worker's settings: one object, read from ``ARCHCALC_*`` environment variables.

The web app and every worker read the same variables, so that the web side can refuse a job
the workers would refuse (the limits) and route it to the workers' queue (the device kind).

* ``ARCHCALC_BROKER_URL`` (e.g. ``redis://gpu-host:6379/0``): the Celery broker. Unset: the
  *embedded* mode, kombu's filesystem transport under ``ARCHCALC_EMBEDDED_DIR``, with one local
  worker started by the web app (when torch is installed).
* ``ARCHCALC_RESULT_BACKEND``: where results are stored; unset, the broker URL when it is Redis,
  else ``db+sqlite:///<embedded_dir>/results.sqlite``.
* ``ARCHCALC_RUN_DEVICE``: ``cpu`` or ``cuda``, the kind of device jobs run on; it names the
  queue (``archcalc.cpu``/``archcalc.cuda``), is part of the question a stored result answers,
  and picks the default limits.
* The limits: ``ARCHCALC_MAX_JOB_MACS`` (multiply-accumulates of the whole job: every batch,
  x3 for a training step), ``ARCHCALC_MAX_JOB_BYTES`` (the engine's memory estimate of the
  largest batch), ``ARCHCALC_MAX_BATCH_SIZES``, ``ARCHCALC_TIME_LIMIT_S`` (hard: the child is
  killed and replaced), ``ARCHCALC_QUEUE_MAX`` (jobs waiting; beyond it 503 with
  ``Retry-After: ARCHCALC_RETRY_AFTER_S``).
* ``ARCHCALC_WARMUP`` and ``ARCHCALC_REPEATS``: timing iterations per batch size;
  ``ARCHCALC_TORCH_THREADS``: torch's threads in a CPU job (several CPU workers on one machine
  should share its cores, not each take all of them).
* ``ARCHCALC_TEST_FAULTS``: test only. When true, a job may carry a fault to inject (a sleep,
  an address-space limit, a CUDA-style error); otherwise such a job is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DeviceKind = Literal["cpu", "cuda"]

#: the default limits by device kind: (max job MACs, max job bytes)
DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    "cpu": (2_000_000_000_000, 8 * 2**30),
    "cuda": (200_000_000_000_000, 64 * 2**30),
}


class WorkerSettings(BaseSettings):
    """Everything the job queue and its workers can be configured with."""

    model_config = SettingsConfigDict(env_prefix="ARCHCALC_", frozen=True, extra="ignore")

    broker_url: str | None = Field(default=None, description="Celery broker; unset = embedded mode")
    result_backend: str | None = Field(default=None, description="Celery result backend")
    embedded_dir: Path = Field(default=Path.home() / ".cache" / "archcalc" / "queue",
                               description="embedded mode: broker folders and result database")
    run_device: DeviceKind = Field(default="cpu", description="the device kind jobs run on")
    max_job_macs: int | None = Field(default=None, ge=1, description="multiply-accumulates per job")
    max_job_bytes: int | None = Field(default=None, ge=1,
                                      description="memory estimate per job, bytes")
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
                                  description="how long /readyz waits for workers")

    @property
    def embedded(self) -> bool:
        """No broker configured: the queue lives in files on this machine."""
        return not self.broker_url

    @property
    def queue(self) -> str:
        """The queue of this device kind's jobs."""
        return f"archcalc.{self.run_device}"

    @property
    def job_macs_limit(self) -> int:
        return self.max_job_macs or DEFAULT_LIMITS[self.run_device][0]

    @property
    def job_bytes_limit(self) -> int:
        return self.max_job_bytes or DEFAULT_LIMITS[self.run_device][1]

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
