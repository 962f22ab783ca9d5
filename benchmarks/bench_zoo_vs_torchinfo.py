"""How much faster is the analytic engine than a real forward pass? Zoo model by zoo model.

For each model: the engine analyses it from its spec text (parse + analyze), and torchinfo
summarises the torch module of the same architecture (built by ``app.torchnet.build_module``,
outside the timing), which runs a real forward pass on a (1, C, H, W) input. Both are timed
in the same run, several repetitions each, and the medians compared. Both must report the same
parameter count; the script exits with status 1 if any model's counts differ.

Run it on an idle machine: torch's worker threads slow down many times over when other work
competes for the cores, which inflates the ratio; the script prints the load average before and
after.

    python benchmarks/bench_zoo_vs_torchinfo.py [--models resnet152,vgg16] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
import torchinfo

from app.engine import analyze
from app.torchnet import build_module
from app.zoo import get_model, load_network, model_ids, model_spec


@dataclass(frozen=True)
class Row:
    model: str
    engine_ms: float
    torchinfo_ms: float
    engine_params: int
    torchinfo_params: int

    @property
    def ratio(self) -> float:
        return self.torchinfo_ms / self.engine_ms

    @property
    def agree(self) -> bool:
        return self.engine_params == self.torchinfo_params


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs, in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def bench(model_id: str, repeat: int) -> Row:
    text = model_spec(model_id)
    params = analyze(text).totals.params
    engine_ms = median_ms(lambda: analyze(text), repeat)
    module = build_module(load_network(model_id))
    vol = get_model(model_id).input
    size = (1, vol.c, vol.h, vol.w)
    stats = torchinfo.summary(module, input_size=size, verbose=0)
    torchinfo_ms = median_ms(lambda: torchinfo.summary(module, input_size=size, verbose=0),
                             repeat)
    return Row(model_id, engine_ms, torchinfo_ms, params, stats.total_params)


def load() -> str:
    """The 1-minute load average: torch's threads slow down sharply on a busy CPU, the engine
    hardly at all, so the ratio is only meaningful on an otherwise idle machine."""
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"


def table(rows: list[Row]) -> str:
    head = (f"{'model':<28} {'engine ms':>10} {'torchinfo ms':>13} {'ratio':>8} "
            f"{'params (engine)':>16} {'params (torchinfo)':>19}  agree")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.model:<28} {r.engine_ms:>10.2f} {r.torchinfo_ms:>13.1f} "
                     f"{r.ratio:>7.0f}x {r.engine_params:>16,} {r.torchinfo_params:>19,}  "
                     f"{'yes' if r.agree else 'NO'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="", help="comma-separated zoo ids (default: all)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per model (median)")
    args = parser.parse_args(argv)
    ids = [m for m in args.models.split(",") if m] or model_ids()
    print(f"torch {torch.__version__}, torchinfo {torchinfo.__version__}, "
          f"{torch.get_num_threads()} threads, median of {args.repeat} runs, "
          f"{load()}\n")
    rows = []
    for model_id in ids:
        rows.append(bench(model_id, args.repeat))
        print(table(rows[-1:]).splitlines()[-1] if len(rows) > 1 else table(rows), flush=True)
    print(f"\nafterwards: {load()}")
    return 0 if all(r.agree for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
