"""The engine's speed against the tools people would run instead, side by side in one run.

    python benchmarks/bench_speed.py                  # every zoo model, 5 runs each (median)
    python benchmarks/bench_speed.py --models resnet152,vgg16 --repeat 9
    python benchmarks/bench_speed.py --short          # a few seconds: that it runs (CI)

Four measurements, each printed with its ratio and target:

1. per zoo model: the engine (parse + analyze the spec text) against ``torchinfo.summary``,
   ``torch.utils.flop_counter.FlopCounterMode`` and fvcore's ``FlopCountAnalysis`` (each a real
   forward pass of the torch module of the same architecture, built outside the timing by
   ``app.torchnet.build_module``); ResNet-152 is the headline (target 200x torchinfo);
2. the HTTP round trip of ``POST /api/analyze`` with ResNet-152's spec through uvicorn run
   with the production options on loopback, against torchinfo (target 50x);
3. the engine's time against pydantic-core's ``dump_json`` of its own result (what any server
   pays to send it; target: the engine within 3x of it);
4. the engine's time per layer for chains of 10 to 3,000 conv layers (target: flat, the
   largest per-layer time within 1.5x of the smallest).

Run on an idle machine: torch's threads slow down sharply when other work competes for the
cores; the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402
import torch  # noqa: E402
import torchinfo  # noqa: E402
from pydantic import TypeAdapter  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from app.engine import Analysis, analyze  # noqa: E402
from app.torchnet import build_module  # noqa: E402
from app.zoo import get_model, load_network, model_ids, model_spec  # noqa: E402

try:
    from fvcore.nn import FlopCountAnalysis  # type: ignore[import-untyped]
except ImportError:  # optional: the table says so
    FlopCountAnalysis = None

HEADLINE = "resnet152"
TARGETS = {"torchinfo": 200.0, "http": 50.0, "dump_json": 3.0, "flat": 1.5}


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs, in milliseconds (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


@dataclass(frozen=True)
class ModelRow:
    model: str
    engine: float
    torchinfo: float
    flop_counter: float
    fvcore: float | None


def _flop_counter(module: torch.nn.Module, x: torch.Tensor) -> None:
    with torch.no_grad(), FlopCounterMode(display=False):
        module(x)


def _fvcore(module: torch.nn.Module, x: torch.Tensor) -> None:
    assert FlopCountAnalysis is not None
    analysis = FlopCountAnalysis(module, x)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    analysis.total()


def bench_model(model_id: str, repeat: int) -> ModelRow:
    text = model_spec(model_id)
    engine_ms = median_ms(lambda: analyze(text), repeat)
    module = build_module(load_network(model_id)).eval()
    vol = get_model(model_id).input
    x = torch.zeros(1, vol.c, vol.h, vol.w)
    size = (1, vol.c, vol.h, vol.w)
    info_ms = median_ms(lambda: torchinfo.summary(module, input_size=size, verbose=0), repeat)
    flop_ms = median_ms(lambda: _flop_counter(module, x), repeat)
    fv_ms = median_ms(lambda: _fvcore(module, x), repeat) if FlopCountAnalysis else None
    return ModelRow(model_id, engine_ms, info_ms, flop_ms, fv_ms)


def print_header() -> None:
    print("| model | engine ms | torchinfo ms | x | FlopCounterMode ms | x | fvcore ms | x |")
    print("|---|---|---|---|---|---|---|---|")


def print_models(rows: list[ModelRow]) -> None:
    for r in rows:
        fv = (f"{r.fvcore:.1f} | {r.fvcore / r.engine:.0f}x" if r.fvcore is not None
              else "not installed | -")
        print(f"| {r.model} | {r.engine:.2f} | {r.torchinfo:.1f} | {r.torchinfo / r.engine:.0f}x"
              f" | {r.flop_counter:.1f} | {r.flop_counter / r.engine:.0f}x | {fv} |", flush=True)


def bench_http(repeat: int, torchinfo_ms: float) -> float:
    """Median round trip of POST /api/analyze (ResNet-152) through a real uvicorn, in ms."""
    from benchmarks.load import server

    body = {"spec": model_spec(HEADLINE)}
    with server(workers=1) as base, httpx2.Client(base_url=base, timeout=30) as http:
        def call() -> None:
            response = http.post("/api/analyze", json=body)
            assert response.status_code == 200, response.text[:300]
            response.read()

        http_ms = median_ms(call, repeat)
    print(f"\nPOST /api/analyze {HEADLINE} through uvicorn: {http_ms:.2f} ms; torchinfo "
          f"{torchinfo_ms:.1f} ms; {torchinfo_ms / http_ms:.0f}x "
          f"(target {TARGETS['http']:.0f}x)")
    return http_ms


def bench_dump(repeat: int) -> None:
    """The engine against dump_json of its result. A result fills in parts of itself (the
    working's text) when first read, so the first dump of a fresh result also does work the
    engine left for later: both the first and a repeated dump are shown."""
    text = model_spec(HEADLINE)
    adapter = TypeAdapter(Analysis)
    engine_ms = median_ms(lambda: analyze(text), repeat)
    full_ms = median_ms(lambda: adapter.dump_json(analyze(text)), repeat)
    result = analyze(text)
    size = len(adapter.dump_json(result))
    dump_ms = median_ms(lambda: adapter.dump_json(result), repeat)
    print(f"\n{HEADLINE}: engine {engine_ms:.2f} ms; engine + first dump_json "
          f"{full_ms:.2f} ms (so the first dump {full_ms - engine_ms:.2f} ms); dump_json of "
          f"the same result again {dump_ms:.2f} ms ({size:,} bytes); engine / dump_json = "
          f"{engine_ms / dump_ms:.1f}x, engine and first dump / dump_json = "
          f"{full_ms / dump_ms:.1f}x (target within {TARGETS['dump_json']:g}x)")


def bench_chains(lengths: list[int], repeat: int) -> None:
    print("\n| layers | engine ms | us a layer |")
    print("|---|---|---|")
    per_layer = []
    for n in lengths:
        text = "input 32x32x16\n" + "conv 16 3x3 pad 1\n" * n
        ms = median_ms(partial(analyze, text), repeat)
        per_layer.append(ms * 1000 / n)
        print(f"| {n:,} | {ms:.2f} | {per_layer[-1]:.1f} |", flush=True)
    spread = max(per_layer) / min(per_layer)
    print(f"per-layer time from {min(per_layer):.1f} to {max(per_layer):.1f} us: "
          f"{spread:.2f}x (target within {TARGETS['flat']:g}x)")
    # what every analysis pays whatever its length (reading the input line, the totals, the
    # result object), measured on a spec of the input line alone, set apart from the layers
    fixed = median_ms(partial(analyze, "input 32x32x16\n"), max(repeat, 20))
    marginal = [(p * n / 1000 - fixed) * 1000 / n for p, n in zip(per_layer, lengths, strict=True)]
    print(f"an analysis of the input line alone takes {fixed * 1000:.0f} us; past it, a layer "
          f"takes from {min(marginal):.1f} to {max(marginal):.1f} us: "
          f"{max(marginal) / min(marginal):.2f}x")


def load() -> str:
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="", help="comma-separated zoo ids (default: all)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs each (median)")
    parser.add_argument("--short", action="store_true", help="one small model, 1 run each")
    args = parser.parse_args(argv)
    ids = [m for m in args.models.split(",") if m] or model_ids()
    lengths = [10, 30, 100, 300, 1000, 3000]
    if args.short:
        ids, args.repeat, lengths = ["lenet5"], 1, [10, 100]
    fv = "fvcore installed" if FlopCountAnalysis else "fvcore NOT installed"
    print(f"torch {torch.__version__}, torchinfo {torchinfo.__version__}, {fv}, "
          f"{torch.get_num_threads()} threads, median of {args.repeat}, {load()}\n")
    rows = []
    print_header()
    for model_id in ids:
        rows.append(bench_model(model_id, args.repeat))
        print_models(rows[-1:])
    headline = next((r for r in rows if r.model == HEADLINE), None)
    if headline:
        print(f"\nheadline {HEADLINE}: {headline.torchinfo / headline.engine:.0f}x torchinfo "
              f"(target {TARGETS['torchinfo']:.0f}x)")
    info_ms = headline.torchinfo if headline else rows[-1].torchinfo
    if headline or args.short:
        bench_http(args.repeat, info_ms)
    bench_dump(args.repeat)
    bench_chains(lengths, args.repeat)
    print(f"\nafterwards: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
