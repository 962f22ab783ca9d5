"""Guards before any work: the engine's estimate of a job against the workers' limits.

Pure (the engine and the zoo only): the web app calls it before queueing, and the worker calls
it again before building anything, so a job sent to the queue by other means is held to the
same limits. A refusal is an engine :class:`LimitError` naming the limit, with the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from app import zoo
from app.engine import Analysis, LimitError, SpecError, analyze
from app.worker.models import Fault, JobPayload, RunRequest
from app.worker.settings import DeviceKind, WorkerSettings

#: a training step costs about three forward passes: forward, and backward for the inputs'
#: gradients and the weights' gradients (each about one forward)
TRAINING_FACTOR = 3


@dataclass(frozen=True, slots=True)
class Estimate:
    """What the engine predicts a job costs."""

    macs_per_image: int
    images: int
    iterations: int
    factor: int
    peak_bytes: int
    peak_batch: int
    traffic_per_iteration: int

    @property
    def macs(self) -> int:
        return self.macs_per_image * self.images * self.iterations * self.factor

    @property
    def traffic(self) -> int:
        return self.traffic_per_iteration * self.iterations * self.factor


def resolve(request: RunRequest, settings: WorkerSettings, fault: Fault | None = None,
            device: DeviceKind | None = None) -> JobPayload:
    """The request with a zoo id replaced by its spec (at the requested input), for a device
    kind (this deployment's first queue's unless given)."""
    if request.model is not None:
        try:
            volume = zoo.check_volume(zoo.parse_volume(request.input)) if request.input \
                else None
            spec: str | dict[str, object] = zoo.model_spec(request.model, volume)
        except zoo.UnknownModel as exc:
            raise SpecError(str(exc), parameter="model") from None
        label = request.model if volume is None else f"{request.model} at {volume}"
    else:
        assert request.spec is not None
        spec, label = request.spec, "spec"
    return JobPayload(spec=spec, label=label, dtype=request.dtype,
                      batch_sizes=list(request.batch_sizes), mode=request.mode,
                      optimizer=request.optimizer, device=device or settings.device, fault=fault)


def analyses(job: JobPayload) -> dict[int, Analysis]:
    """The engine's analysis at each batch size (raises SpecError for a bad spec)."""
    return {b: analyze(job.spec, dtype=job.dtype, batch=b, optimizer=job.optimizer)
            for b in job.batch_sizes}


def traffic(analysis: Analysis) -> int:
    """Bytes one forward pass moves through memory at the analysis' batch size.

    Every row reads its input and writes its output once (elementwise layers included, which
    have no multiply-adds, and in-place ones, which still write), and every parameter is read
    once; what caches save is not subtracted, so it bounds the traffic from above."""
    values = sum(r.input.h * r.input.w * r.input.c + r.output.h * r.output.w * r.output.c
                 for r in analysis.layers)
    scale = analysis.options.bytes_per_value
    return values * scale * analysis.options.batch + analysis.totals.param_bytes


def estimate(job: JobPayload, settings: WorkerSettings,
             by_batch: dict[int, Analysis] | None = None) -> Estimate:
    """Multiply-accumulates and memory traffic of every timed and warm-up iteration, and the
    largest memory."""
    by_batch = by_batch or analyses(job)
    first = next(iter(by_batch.values())).totals
    memory = {b: a.totals.training_bytes if job.mode == "training"
              else a.totals.param_bytes + a.totals.activation_bytes for b, a in by_batch.items()}
    peak_batch = max(memory, key=lambda b: memory[b])
    return Estimate(macs_per_image=first.macs, images=sum(job.batch_sizes),
                    iterations=settings.warmup + settings.repeats,
                    factor=TRAINING_FACTOR if job.mode == "training" else 1,
                    peak_bytes=memory[peak_batch], peak_batch=peak_batch,
                    traffic_per_iteration=sum(traffic(a) for a in by_batch.values()))


def check(job: JobPayload, settings: WorkerSettings,
          by_batch: dict[int, Analysis] | None = None) -> Estimate:
    """Refuse a job over the limits before anything runs; the estimate when it passes."""
    check_shape(job, settings)
    by_batch = by_batch or analyses(job)
    if job.mode == "training" and next(iter(by_batch.values())).totals.params == 0:
        raise SpecError("a training step needs parameters to train, and this network has none; "
                        "time forward passes instead (mode inference)", parameter="mode")
    est = estimate(job, settings, by_batch)
    device = job.device
    training = f" x {est.factor} for a training step" if est.factor > 1 else ""
    if est.macs > settings.macs_limit(device):
        raise LimitError("max_job_macs", (
            f"the job needs an estimated {est.macs:,} multiply-accumulates "
            f"({est.macs_per_image:,} per image x {est.images:,} images x {est.iterations} "
            f"iterations{training}); this {device} worker's limit is "
            f"{settings.macs_limit(device):,} (max_job_macs): use smaller or fewer batches"),
            parameter="batch_sizes")
    if est.traffic > settings.traffic_limit(device):
        raise LimitError("max_job_traffic", (
            f"the job moves an estimated {est.traffic:,} bytes through memory "
            f"({est.traffic_per_iteration:,} per iteration over all its batches, each layer's "
            f"input read and output written once, x {est.iterations} iterations{training}); "
            f"this {device} worker's limit is {settings.traffic_limit(device):,} bytes "
            "(max_job_traffic): use fewer layers, a smaller input or smaller batches"),
            parameter="batch_sizes")
    if est.peak_bytes > settings.bytes_limit(device):
        what = "training memory" if job.mode == "training" else "parameter + activation memory"
        raise LimitError("max_job_bytes", (
            f"at batch {est.peak_batch} the job needs an estimated {est.peak_bytes:,} bytes "
            f"({what}, {est.peak_bytes / 1e6:,.1f} MB); this {device} worker's "
            f"limit is {settings.bytes_limit(device):,} bytes (max_job_bytes): use a smaller "
            "batch"), parameter="batch_sizes")
    return est


def check_shape(job: JobPayload, settings: WorkerSettings) -> None:
    """The job's own size (batch sizes, largest batch, a test fault), before any analysis."""
    if len(job.batch_sizes) > settings.max_batch_sizes:
        raise LimitError("max_batch_sizes", (
            f"{len(job.batch_sizes)} batch sizes; the limit is {settings.max_batch_sizes} "
            "(max_batch_sizes)"), parameter="batch_sizes")
    largest = max(job.batch_sizes)
    if largest > settings.max_batch:
        raise LimitError("max_run_batch", (
            f"batch size {largest:,} is over this worker's limit of {settings.max_batch:,} "
            "(max_run_batch)"), parameter="batch_sizes")
    if job.fault is not None and not settings.test_faults:
        raise SpecError("fault injection is for tests only (ARCHCALC_TEST_FAULTS)",
                        parameter="fault")
