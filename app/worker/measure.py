"""Run a job for real: build the spec in torch, measure it, set it beside the engine's numbers.

Imported only inside a worker's child process (it imports torch). What is measured:

* **shapes, parameters, FLOPs**: one batch-1 forward measured by
  :func:`app.torchnet.measure_module` (each spec layer's and block's output (H, W, C), own
  parameters and own FLOPs), beside 2 x the engine's multiply-accumulates; for a training job
  the FLOPs of one forward + backward too;
* **latency**: ``warmup`` untimed iterations, then ``repeats`` timed ones, each timed with
  ``time.perf_counter`` (on CUDA between ``torch.cuda.synchronize()`` calls); median and 90th
  percentile; images/s = batch / median. A training iteration is forward, loss (the mean of the
  output), backward and the optimizer's step;
* **peak memory**: see :data:`CUDA_MEMORY` and :data:`CPU_MEMORY`, the texts every result carries.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import socket
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from app.engine import Analysis, LayerRow, Network, parse_json_spec, parse_spec
from app.torchnet import Measurement, SpecNet, build_module, measure_module
from app.worker import guards
from app.worker.models import DeviceInfo, JobPayload, LayerCheck, RunResult, Timing
from app.worker.settings import WorkerSettings

CUDA_MEMORY = ("torch.cuda.max_memory_allocated() after torch.cuda.reset_peak_memory_stats(), "
               "per measurement: every tensor the caching allocator handed out (parameters, "
               "gradients, optimizer state, input, activations, workspace), not its reserve")
CPU_MEMORY = ("the child process's peak resident set size during the measurement (Linux VmHWM, "
              "reset through /proc/self/clear_refs) minus its resident size just before (after "
              "malloc_trim), plus the bytes of the tensors already alive then (parameters, "
              "buffers, gradients, optimizer state, input): activations, workspace and "
              "allocator overhead included")
TIMING = ("time.perf_counter around each iteration after {warmup} untimed warm-up iterations"
          "{sync}; median and 90th percentile of {repeats} iterations")

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}

Report = Callable[[str], None]
"""Called with the step the job is starting, e.g. 'timing batch 8'."""


class Cancelled(Exception):
    """The job was cancelled between two steps."""


class CudaStyleError(RuntimeError):
    """Test only: raised where a real CUDA fault would surface."""


def steps_of(job: JobPayload) -> int:
    """Steps a job reports: build, shapes and FLOPs, then one per batch size."""
    return 2 + len(job.batch_sizes)


def run(job: JobPayload, settings: WorkerSettings, report: Report,
        cancelled: Callable[[], bool], worker: str) -> RunResult:
    """Measure the job; raises Cancelled, a LimitError/SpecError, or what torch raises."""
    started = time.perf_counter()
    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    guards.check_shape(job, settings)
    by_batch = guards.analyses(job)
    guards.check(job, settings, by_batch)
    device = _device(job)
    report("building the module")
    net = _network(job)
    module = build_module(net).to(device=device, dtype=DTYPES[job.dtype])
    _checkpoint(cancelled)
    report("measuring shapes, parameters and FLOPs")
    first = by_batch[min(by_batch)]
    layers = _layer_checks(module, first, device, DTYPES[job.dtype])
    training_flops = (_training_flops(module, device, DTYPES[job.dtype])
                      if job.mode == "training" else None)
    _inject(job)
    timings = [_time_batch(module, job, settings, b, by_batch[b], device, report, cancelled)
               for b in job.batch_sizes]
    return RunResult(
        label=job.label, device=_device_info(device), worker=worker,
        hostname=socket.gethostname(), input=(net.input.h, net.input.w, net.input.c),
        batch_sizes=list(job.batch_sizes), dtype=job.dtype,
        mode=job.mode, optimizer=job.optimizer, layers=layers,
        analytic_params=first.totals.params,
        measured_params=sum(p.numel() for p in module.parameters()),
        analytic_flops=first.totals.flops, measured_flops=sum(
            r.measured_flops or 0 for r in layers), measured_training_flops=training_flops,
        timings=timings, timing_method=TIMING.format(
            warmup=settings.warmup, repeats=settings.repeats,
            sync=", between torch.cuda.synchronize() calls" if device.type == "cuda" else ""),
        memory_method=CUDA_MEMORY if device.type == "cuda" else CPU_MEMORY,
        seconds=time.perf_counter() - started)


def _checkpoint(cancelled: Callable[[], bool]) -> None:
    if cancelled():
        raise Cancelled


def _network(job: JobPayload) -> Network:
    return parse_spec(job.spec) if isinstance(job.spec, str) else parse_json_spec(job.spec)


def _device(job: JobPayload) -> torch.device:
    if job.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("this worker was asked for CUDA but torch sees no CUDA device "
                           f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r})")
    return torch.device(job.device)


def _device_info(device: torch.device) -> DeviceInfo:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = _cpu_name()
    return DeviceInfo(kind="cuda" if device.type == "cuda" else "cpu", name=name,
                      torch_version=torch.__version__, threads=torch.get_num_threads())


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# --- shapes, parameters, FLOPs ----------------------------------------------------------------


def _layer_checks(module: SpecNet, analysis: Analysis, device: torch.device,
                  dtype: torch.dtype) -> list[LayerCheck]:
    """One batch-1 forward measured by :func:`app.torchnet.measure_module`, row by row."""
    seen = measure_module(module, _input(module, 1, device, dtype))
    return [_check_row(row, seen) for row in analysis.layers]


def _check_row(row: LayerRow, seen: Measurement) -> LayerCheck:
    is_input = row.index == 0
    return LayerCheck(
        name=row.name, op=row.op,
        analytic_shape=(row.output.h, row.output.w, row.output.c),
        measured_shape=seen.shapes.get(row.name),
        analytic_params=row.params, analytic_flops=2 * row.macs,
        measured_params=0 if is_input else seen.layer_params.get(row.name),
        measured_flops=0 if is_input else seen.layer_flops.get(row.name))


def _training_flops(module: SpecNet, device: torch.device, dtype: torch.dtype) -> int:
    """FLOPs of one forward + backward per image (counted at batch 2: batch-norm needs two)."""
    x = _input(module, 2, device, dtype)
    module.train()
    counter = FlopCounterMode(display=False)
    with counter:
        module(x).float().mean().backward()
    module.zero_grad(set_to_none=True)
    return counter.get_total_flops() // 2


def _input(module: SpecNet, batch: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    return torch.randn(batch, *module.input_shape, device=device, dtype=dtype)


# --- faults (test only) ------------------------------------------------------------------------


def _inject(job: JobPayload) -> None:
    fault = job.fault
    if fault is None:
        return
    if fault.kind == "sleep":
        time.sleep(fault.seconds)
    elif fault.kind == "address_space":
        # the child may grow by only this much more address space from here on
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (_vm_size() + fault.bytes, hard))
    elif fault.kind == "cuda_error":
        raise CudaStyleError("CUDA error: an illegal memory access was encountered (injected "
                             "by the test-only fault setting)")


def _vm_size() -> int:
    return _proc_status_kb("VmSize") * 1024


# --- timing and memory -------------------------------------------------------------------------


def _time_batch(module: SpecNet, job: JobPayload, settings: WorkerSettings, batch: int,
                analysis: Analysis, device: torch.device, report: Report,
                cancelled: Callable[[], bool]) -> Timing:
    _checkpoint(cancelled)
    report(f"{'training' if job.mode == 'training' else 'inference'} at batch {batch}")
    x = _input(module, batch, device, DTYPES[job.dtype])
    step, state = _step(module, job, x)
    with _peak_memory(device, lambda: _alive_bytes(module, state, x)) as peak:
        times = [_timed(step, device) for _ in range(settings.warmup + settings.repeats)]
    timed = times[settings.warmup:]
    median = statistics.median(timed)
    p90 = statistics.quantiles(timed, n=10, method="inclusive")[8] if len(timed) > 1 else median
    totals = analysis.totals
    estimate = (totals.training_bytes if job.mode == "training"
                else totals.param_bytes + totals.activation_bytes)
    return Timing(batch=batch, mode=job.mode, warmup=settings.warmup, repeats=settings.repeats,
                  median_ms=median * 1e3, p90_ms=p90 * 1e3, images_per_s=batch / median,
                  peak_bytes=peak[0], analytic_bytes=estimate)


def _step(module: SpecNet, job: JobPayload, x: Tensor
          ) -> tuple[Callable[[], None], list[torch.optim.Optimizer]]:
    """One iteration of the job's mode, and the optimizer whose state it keeps (if any)."""
    if job.mode == "inference":
        module.eval()

        def forward() -> None:
            with torch.inference_mode():
                module(x)
        return forward, []
    module.train()
    opt: torch.optim.Optimizer = (
        torch.optim.SGD(module.parameters(), lr=1e-3, momentum=0.9) if job.optimizer == "sgd"
        else torch.optim.Adam(module.parameters(), lr=1e-3))

    def train_step() -> None:
        opt.zero_grad(set_to_none=True)
        module(x).float().mean().backward()
        opt.step()
    return train_step, [opt]


def _timed(step: Callable[[], None], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def _alive_bytes(module: nn.Module, opts: list[torch.optim.Optimizer], x: Tensor) -> int:
    tensors = [*module.parameters(), *module.buffers(), x]
    tensors += [p.grad for p in module.parameters() if p.grad is not None]
    tensors += [v for opt in opts for s in opt.state.values() for v in s.values()
                if isinstance(v, Tensor)]
    return sum(t.numel() * t.element_size() for t in tensors)


@contextmanager
def _peak_memory(device: torch.device, alive: Callable[[], int]) -> Iterator[list[int | None]]:
    """Yields a one-item list that holds the peak bytes once the block has run."""
    out: list[int | None] = [None]
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        yield out
        torch.cuda.synchronize(device)
        out[0] = int(torch.cuda.max_memory_allocated(device))
        return
    before_alive = alive()
    _malloc_trim()
    can_reset = _reset_peak_rss()
    before = _proc_status_kb("VmRSS") * 1024 if can_reset else 0
    yield out
    if can_reset:
        out[0] = _proc_status_kb("VmHWM") * 1024 - before + before_alive


def _malloc_trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _proc_status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")
