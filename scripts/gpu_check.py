"""GPU check: start a queue and one worker, run VGG16, ResNet-50 and GoogLeNet at batch 1, 8 and
32 for inference and a training step, and print the report table (measured beside analytic).

    python scripts/gpu_check.py                      # on a GPU machine (CUDA_VISIBLE_DEVICES)
    python scripts/gpu_check.py --device cpu --tiny  # a CPU smoke run: small inputs, batch 1, 2

Needs torch and the worker extra. The queue is a redis-server on a free port where Debian's
package is installed, else the embedded one (files in a temporary folder), so a bare GPU machine
runs it too. Exit status: 0 all agree, 1 when a job failed or a measured shape, parameter count
or FLOP count differs from the engine's, 2 when CUDA is asked for and torch sees no GPU (nothing
is run then).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import zoo
from app.engine import Volume
from app.worker.client import Runs
from app.worker.local import redis_server, worker_process
from app.worker.models import RunRequest, RunStatus
from app.worker.settings import WorkerSettings

MODELS = ("vgg16", "resnet50", "googlenet")
#: --tiny: inputs small enough for a CPU (GoogLeNet's 7x7 average pool needs its 224)
TINY_INPUT = {"vgg16": Volume(64, 64, 3), "resnet50": Volume(64, 64, 3), "googlenet": None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--tiny", action="store_true", help="small inputs, batch 1 and 2")
    parser.add_argument("--batches", default=None, help="batch sizes, e.g. 1,8,32")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--broker", choices=("redis", "embedded"), default=None,
                        help="the queue (default: redis where redis-server is installed)")
    parser.add_argument("--log", type=Path, default=Path("gpu_check_worker.log"))
    args = parser.parse_args()
    if args.device == "cuda" and (missing := no_gpu()) is not None:
        print(f"no GPU: {missing}; nothing was run. The CPU check: python "
              f"scripts/gpu_check.py --device cpu --tiny", file=sys.stderr)
        return 2
    batches = [int(b) for b in (args.batches or ("1,2" if args.tiny else "1,8,32")).split(",")]
    repeats = args.repeats or (3 if args.tiny else 20)
    broker = args.broker or ("redis" if shutil.which("redis-server") else "embedded")
    with queue(broker) as (url, folder):
        settings = WorkerSettings(broker_url=url, embedded_dir=folder, run_device=args.device,
                                  warmup=2 if args.tiny else 5, repeats=repeats,
                                  time_limit_s=600, max_job_macs=10**17,
                                  max_job_bytes=1 << 40, max_batch=max(batches))
        runs = Runs(settings)
        print(f"queue: {broker}; worker log: {args.log}", file=sys.stderr, flush=True)
        with worker_process(settings, runs.celery, f"gpu-check-{args.device}@localhost",
                            log=args.log):
            statuses = [_run(runs, model, mode, batches, args.tiny)
                        for model in args.models.split(",") for mode in ("inference", "training")]
    return _print_report(statuses)


def no_gpu() -> str | None:
    """Why torch cannot use a GPU here, or None when it can."""
    import torch

    if torch.cuda.is_available():
        return None
    built = "with" if torch.version.cuda else "without"
    return (f"torch {torch.__version__} (built {built} CUDA) sees no CUDA device "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')})")


@contextmanager
def queue(broker: str) -> Iterator[tuple[str | None, Path]]:
    """(broker URL or None for the embedded queue, the embedded folder), for the run's time."""
    with tempfile.TemporaryDirectory(prefix="archcalc-gpu-check-") as folder:
        if broker == "redis":
            with redis_server() as url:
                yield url, Path(folder)
        else:
            yield None, Path(folder)


def _run(runs: Runs, model: str, mode: str, batches: list[int],
         tiny: bool) -> tuple[str, RunStatus]:
    volume = TINY_INPUT.get(model) if tiny else None
    spec = zoo.model_spec(model, input=volume)
    accepted = runs.submit(RunRequest(spec=spec, batch_sizes=batches, mode=mode))  # type: ignore[arg-type]
    print(f"{model} {mode}: job {accepted.id}", file=sys.stderr, flush=True)
    while True:
        status = runs.status(accepted.id)
        assert status is not None
        if status.status in ("done", "failed", "cancelled"):
            return model, status
        time.sleep(0.5)


def _print_report(statuses: list[tuple[str, RunStatus]]) -> int:
    bad = 0
    header = (f"{'model':<10} {'mode':<9} {'batch':>5} {'median ms':>10} {'p90 ms':>9} "
              f"{'img/s':>9} {'peak MB':>9} {'est. MB':>9} {'ratio':>6}  check")
    print(header)
    print("-" * len(header))
    for model, status in statuses:
        if status.result is None:
            print(f"{model:<10} FAILED: {status.error}")
            bad += 1
            continue
        r = status.result
        same = (r.layer_mismatches == 0 and r.measured_params == r.analytic_params
                and r.measured_flops == r.analytic_flops)
        bad += not same
        check = "shapes, params, FLOPs match" if same else f"{r.layer_mismatches} layers differ"
        for t in r.timings:
            peak = f"{t.peak_bytes / 1e6:9.1f}" if t.peak_bytes is not None else f"{'-':>9}"
            ratio = f"{t.memory_ratio:6.2f}" if t.memory_ratio is not None else f"{'-':>6}"
            print(f"{model:<10} {r.mode:<9} {t.batch:>5} "
                  f"{t.median_ms:10.2f} {t.p90_ms:9.2f} {t.images_per_s:9.1f} {peak} "
                  f"{t.analytic_bytes / 1e6:9.1f} {ratio}  {check}")
    first = next((s.result for _, s in statuses if s.result is not None), None)
    if first is not None:
        print(f"\ndevice: {first.device.name} ({first.device.kind}), torch "
              f"{first.device.torch_version}; worker {first.worker}")
        print(f"timing: {first.timing_method}\nmemory: {first.memory_method}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
