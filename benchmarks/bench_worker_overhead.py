"""The worker's timed run against a bare torch timing loop on the same model: the overhead.

    python benchmarks/bench_worker_overhead.py [--model resnet18] [--input 112x112x3]
                                               [--batches 1,8] [--repeats 20] [--device cpu]

Starts redis-server and one worker, submits one inference job, and times the same module
(built by app.torchnet from the same spec, same dtype, threads and iteration counts) with a
bare loop in this process, once before and once after the job. Prints, per batch size, the
worker's median latency, the bare loops' medians, and the ratio worker / bare (target: within
5%, a ratio of at most 1.05), then the job's wall time from submission to result.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from app import zoo
from app.engine import parse_spec
from app.torchnet import build_module
from app.worker.client import Runs
from app.worker.local import redis_server, worker_process
from app.worker.models import RunRequest
from app.worker.settings import WorkerSettings


def bare_median_ms(spec: str, batch: int, warmup: int, repeats: int, device: str) -> float:
    """The plainest timing loop: eval, inference_mode, perf_counter, synchronize on CUDA."""
    module = build_module(parse_spec(spec)).to(device)
    module.eval()
    x = torch.randn(batch, *module.input_shape, device=device)
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            module(x)
            if device == "cuda":
                torch.cuda.synchronize()
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def worker_medians(runs: Runs, spec: str, batches: list[int]) -> tuple[dict[int, float], float]:
    """One job's median per batch size, and its wall time from submission to result."""
    submitted = time.perf_counter()
    accepted = runs.submit(RunRequest(spec=spec, batch_sizes=batches))
    while (status := runs.status(accepted.id)) is not None and status.status not in (
            "done", "failed", "cancelled"):
        time.sleep(0.05)
    if status is None or status.result is None:
        raise RuntimeError(f"the job did not finish: {status}")
    return {t.batch: t.median_ms for t in status.result.timings}, time.perf_counter() - submitted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--input", default="64x64x3")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec = zoo.model_spec(args.model, input=zoo.parse_volume(args.input))
    batches = [int(b) for b in args.batches.split(",")]
    bare: dict[int, list[float]] = {b: [] for b in batches}
    worker: dict[int, list[float]] = {b: [] for b in batches}
    walls = []
    with redis_server() as url:
        settings = WorkerSettings(broker_url=url, run_device=args.device, warmup=args.warmup,
                                  repeats=args.repeats, torch_threads=args.threads,
                                  max_batch=max(batches), time_limit_s=600)
        runs = Runs(settings)
        with worker_process(settings, runs.celery, "bench@localhost"):
            for n in range(args.rounds):  # interleaved, so both see the same machine load
                for b in batches:
                    bare[b].append(bare_median_ms(spec, b, args.warmup, args.repeats,
                                                  args.device))
                # a comment makes each round a new question (else the stored result answers)
                medians, wall = worker_medians(runs, f"# round {n}\n{spec}", batches)
                walls.append(wall)
                for b in batches:
                    worker[b].append(medians[b])
    print(f"{args.model} at {args.input}, {args.device}, {args.threads} thread(s), warm-up "
          f"{args.warmup}, {args.repeats} timed iterations, {args.rounds} interleaved rounds")
    print(f"{'batch':>5} {'worker ms':>10} {'bare ms':>9} {'ratio':>7}   (best round of each; "
          "per-round ratios)")
    worst = 0.0
    for b in batches:
        ratio = min(worker[b]) / min(bare[b])
        worst = max(worst, ratio)
        rounds = " ".join(f"{w / m:.2f}" for w, m in zip(worker[b], bare[b], strict=True))
        print(f"{b:>5} {min(worker[b]):10.2f} {min(bare[b]):9.2f} {ratio:7.3f}   ({rounds})")
    print(f"worst ratio {worst:.3f}: overhead {100 * (worst - 1):+.1f}% (target within 5%)")
    print(f"job wall time, submission to result: median {statistics.median(walls):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
