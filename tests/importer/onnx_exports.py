"""Real ONNX files: torchvision models exported by torch.onnx, made once a test session, and
torch's own counts of the same modules to hold the importer to.

The TorchScript exporter (``dynamo=False``) is asked to keep BatchNorm (``training=PRESERVE``,
no constant folding), so the file has the model's own layers. The dynamo exporter needs
``onnxscript``; it folds BatchNorm into the convolutions, so its files are held to their own
initializers. A file whose weights exceed the upload limit is kept as its graph alone, saved
the way the import page tells users to (``save_as_external_data``), weights left behind.
"""

from __future__ import annotations

import functools
import io
import math
import tempfile
import warnings
from pathlib import Path
from typing import Any

import onnx
import torch
from torch.utils.flop_counter import FlopCounterMode

from app.importer.onnx_file import MAX_ONNX_BYTES
from app.importer.tv import torchvision_models


@functools.cache
def model(name: str) -> Any:
    """torchvision's ``name``, untrained, in eval mode. GoogLeNet and Inception-v3 without
    their auxiliary classifiers: in eval mode those never run, so no export has them, and
    torch's parameter count would include them."""
    kwargs: dict[str, Any] = {"weights": None}
    if name in ("googlenet", "inception_v3"):
        kwargs |= {"aux_logits": False, "init_weights": False}
    return getattr(torchvision_models(), name)(**kwargs).eval()


def export_module(module: Any, size: int, dynamo: bool = False) -> bytes:
    """``module`` exported at a 1 x 3 x size x size input."""
    x = (torch.zeros(1, 3, size, size),)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            program = torch.onnx.export(module, x, dynamo=True, verbose=False)
            assert program is not None
            return bytes(program.model_proto.SerializeToString())
        f = io.BytesIO()
        torch.onnx.export(module, x, f, dynamo=False, do_constant_folding=False,
                          training=torch.onnx.TrainingMode.PRESERVE)
        return f.getvalue()


def graph_only(data: bytes, threshold: int = 1024) -> bytes:
    """The .onnx file of ``data`` saved with its tensors as external data (the recipe on the
    import page), without the data file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "graph.onnx"
        onnx.save(onnx.load_model_from_string(data), path, save_as_external_data=True,
                  location="graph.onnx.data", size_threshold=threshold)
        return path.read_bytes()


@functools.cache
def exported(name: str, size: int, dynamo: bool = False) -> bytes:
    """``name`` exported at ``size``; its graph alone when the weights are over the limit."""
    data = export_module(model(name), size, dynamo)
    return graph_only(data) if len(data) > MAX_ONNX_BYTES else data


@functools.cache
def torch_counts(name: str, size: int) -> tuple[int, int, tuple[int, int, int]]:
    """Parameters, multiply-adds (FlopCounterMode's total / 2) and output (H, W, C)."""
    return measure(model(name), size)


def measure(module: Any, size: int) -> tuple[int, int, tuple[int, int, int]]:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        out = module(torch.zeros(1, 3, size, size))
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    shape = tuple(out.shape)
    hwc = (shape[2], shape[3], shape[1]) if len(shape) == 4 else (1, 1, math.prod(shape[1:]))
    return sum(p.numel() for p in module.parameters()), flops // 2, hwc


def stored_weights(data: bytes) -> int:
    """How many values the file's Conv, Gemm, MatMul, BatchNormalization and LayerNormalization
    nodes read from initializers, each read counted (an exporter stores equal weights once)."""
    m = onnx.load_model_from_string(data)
    dims = {t.name: list(t.dims) for t in m.graph.initializer}
    alias = {n.output[0]: n.input[0] for n in m.graph.node if n.op_type in ("Identity",
                                                                             "Transpose")}
    total = 0
    for n in m.graph.node:
        if n.op_type in ("Conv", "Gemm", "MatMul", "BatchNormalization", "LayerNormalization"):
            for v in n.input[1:3]:  # weight and bias; BatchNorm's running stats are not
                v = alias.get(v, v)
                total += math.prod(dims[v]) if v in dims else 0
        elif n.op_type in ("Add", "Mul"):  # a bias or a layer scale beside the layer
            total += sum(math.prod(dims[alias.get(v, v)]) for v in n.input
                         if alias.get(v, v) in dims)
    return total
