"""The importer's entry points: a torchvision name, a Python factory, an ONNX file -> spec."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from app.engine.errors import visible
from app.importer.emit import spec_text
from app.importer.graph import NotSeriesParallel, Refusal
from app.importer.onnx_file import MAX_NODES, MAX_ONNX_BYTES, Bounds, OnnxRefused

DEFAULT_SIZE = 224


@dataclass(frozen=True, slots=True)
class ImportResult:
    spec: str
    refused: tuple[Refusal, ...] = ()
    notes: tuple[str, ...] = field(default=())


class ImportFailed(ValueError):
    """The model could not be read at all (not found, not traceable, not a valid file)."""


def import_module(model: Any, size: tuple[int, int, int], source: str,
                  aux: bool = False) -> ImportResult:
    """An ``nn.Module`` traced with torch.fx at input ``size`` (H, W, C); with ``aux``, in
    training mode, so that auxiliary classifiers become ``aux { }`` blocks."""
    from app.importer.fx import read_module

    try:
        graph, refused, notes = read_module(model, size, aux)
    except Exception as exc:  # fx's TraceError and whatever the module raises while traced
        raise ImportFailed(f"{source}: torch.fx could not trace it: {exc}") from exc
    return _finish(graph, refused, notes, [f"Imported from {source} with torch.fx."])


def import_torchvision(name: str, size: int | None = None) -> ImportResult:
    """torchvision's classification model ``name`` (untrained), traced with torch.fx."""
    from app.importer import tv

    if name not in tv.CLASSIFIERS:
        raise ImportFailed(f"unknown torchvision model {name!r}; known: "
                           f"{', '.join(tv.CLASSIFIERS)}")
    try:  # shapes without weights: no memory for them and no time to initialise them
        model = tv.build(name, meta=True)
    except NotImplementedError:  # a builder that computes with tensors (RegNet's widths)
        model = tv.build(name)
    h, w = tv.NOMINAL_INPUT.get(name, (DEFAULT_SIZE, DEFAULT_SIZE))
    if size is not None:
        h = w = size
    source = f"torchvision.models.{name}(weights=None)"
    if name in tv.WITH_AUX:
        try:
            return import_module(model, (h, w, 3), source, aux=True)
        except ImportFailed:  # the auxiliary heads' fixed windows need a larger input
            pass
    return import_module(model, (h, w, 3), source)


def import_factory(path: str, size: int = DEFAULT_SIZE) -> ImportResult:
    """``package.module:factory``: the factory called with no arguments (CLI only: this runs
    the user's code)."""
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ImportFailed(f"{path!r}: write the factory as package.module:function")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ImportFailed(f"{path}: {exc}") from exc
    try:
        model = factory()
    except Exception as exc:  # the user's own code
        raise ImportFailed(f"{path}: calling it raised {type(exc).__name__}: {exc}") from exc
    return import_module(model, (size, size, 3), path)


def import_onnx(data: bytes, source: str = "an ONNX file", max_bytes: int = MAX_ONNX_BYTES,
                max_nodes: int = MAX_NODES) -> ImportResult:
    """An ONNX model (its bytes), read with the ``onnx`` package; no runtime, no file but
    ``data`` opened (see app.importer.onnx_file)."""
    from app.importer.onnx_reader import read_onnx

    try:
        graph, refused = read_onnx(data, Bounds(max_bytes, max_nodes))
    except OnnxRefused as exc:
        raise ImportFailed(str(exc)) from exc
    return _finish(graph, refused, [], [f"Imported from {source} (ONNX)."])


def _finish(graph: Any, refused: list[Refusal], notes: list[str],
            header: list[str]) -> ImportResult:
    header = [*header, *notes]
    try:
        text = spec_text(graph, header, refused)
    except MemoryError:
        raise  # the import's memory limit, answered as such
    except Exception as exc:  # no graph may crash the import: what is left is refused
        node, reason = (exc.node, exc.reason) if isinstance(exc, NotSeriesParallel) else (
            graph.output or "graph", f"it could not be written ({type(exc).__name__}: "
                                     f"{str(exc)[:200]})")
        refused = [*refused, Refusal(node, "graph", reason)]
        text = "\n".join(f"# {visible(t)}" for t in header) + "\n" + "".join(
            f"# REFUSED {r}\n" for r in refused)
    return ImportResult(text, tuple(refused), tuple(notes))
