"""ONNX at real sizes: a torchvision model exported at 224 x 224, imported from its graph alone.

    python benchmarks/bench_onnx_external.py [--short] [--model resnet50] [--repeat 3]

Exports the model (untrained) with torch.onnx's TorchScript exporter, saves it again as the
import page says (``onnx.save(..., save_as_external_data=True, location="graph.onnx.data")``)
and prints: the sizes of the whole file, of graph.onnx and of graph.onnx.data; the time to
import graph.onnx (``import_onnx``, in this process, median of N) and to analyse the spec; the
same import of the whole file (the upload limit raised for it); and whether the counts equal
torch's (parameters, FlopCounterMode's total / 2). ``--short`` uses resnet18 at 64 x 64.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _median(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--short", action="store_true", help="resnet18 at 64 x 64, once")
    args = parser.parse_args()
    if args.short:
        args.model, args.size, args.repeat = "resnet18", 64, 1

    from app.engine import analyze
    from app.importer.api import import_onnx
    from app.importer.onnx_file import GRAPH_ONLY_RECIPE
    from tests.importer import onnx_exports as ex

    name, size = args.model, args.size
    with tempfile.TemporaryDirectory() as tmp:
        whole = Path(tmp) / "model.onnx"
        started = time.perf_counter()
        whole.write_bytes(ex.export_module(ex.model(name), size))
        exported = time.perf_counter() - started
        started = time.perf_counter()
        _recipe(Path(tmp), GRAPH_ONLY_RECIPE)
        saved = time.perf_counter() - started
        graph = (Path(tmp) / "graph.onnx").read_bytes()
        data_bytes = (Path(tmp) / "graph.onnx.data").stat().st_size
        whole_bytes = whole.read_bytes()

        graph_s, result = _median(lambda: import_onnx(graph, "graph.onnx"), args.repeat)
        analyse_s, analysis = _median(lambda: analyze(result.spec), args.repeat)
        whole_s, whole_result = _median(
            lambda: import_onnx(whole_bytes, "graph.onnx", max_bytes=len(whole_bytes)),
            args.repeat)
    params, macs, out = ex.torch_counts(name, size)
    ours = (analysis.totals.params, analysis.totals.macs,
            (analysis.output.h, analysis.output.w, analysis.output.c))
    print(f"{name} at {size}x{size}, untrained, TorchScript exporter "
          f"(export {exported:.1f} s, graph-only save {saved:.1f} s)")
    print(f"  model.onnx (weights inside): {len(whole_bytes):,} bytes")
    print(f"  graph.onnx: {len(graph):,} bytes; graph.onnx.data: {data_bytes:,} bytes")
    print(f"  import graph.onnx: {graph_s:.2f} s; analyse the spec: {analyse_s:.2f} s "
          f"(median of {args.repeat}, this process)")
    print(f"  import model.onnx (limit raised): {whole_s:.2f} s; the same spec: "
          f"{whole_result.spec == result.spec}")
    print(f"  params {ours[0]:,} (torch {params:,}), MACs {ours[1]:,} (torch FlopCounterMode "
          f"/ 2 {macs:,}), output {ours[2]} (torch {out}): "
          f"{'equal' if ours == (params, macs, out) else 'DIFFERENT'}")


def _recipe(where: Path, lines: tuple[str, ...]) -> None:
    """The recipe as the import page prints it, run where model.onnx is."""
    import subprocess

    subprocess.run([sys.executable, "-c", "\n".join(lines)], cwd=where, check=True)


if __name__ == "__main__":
    main()
