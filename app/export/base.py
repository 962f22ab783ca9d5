"""What every export shares: the thing exported, the conventions it states, and the totals.

An export renders one :class:`Subject` (an analysis and the network it came from) as text. Each
format states how its numbers were counted (MACs or FLOPs, dtype, batch, MB or MiB) in its own
comment syntax; the words come from here, and the definitions themselves from the analysis'
``conventions`` (written once, in the engine).

Pure: the engine and the standard library only (no web stack, no torch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.engine import Analysis, Network, analyze, parse_json_spec, parse_spec
from app.engine.options import DTYPE_BYTES, make_options
from app.engine.result import LayerRow
from app.present.columns import COLUMNS, Column
from app.present.formats import mebibytes, megabytes

__all__ = ["IDENTITY", "TABLE_COLUMNS", "Subject", "TotalItem", "conventions_lines",
           "subject_from_spec", "total_items"]

#: the figure columns every export shows: the pages' default columns (app.present.columns)
TABLE_COLUMNS: tuple[Column, ...] = tuple(c for c in COLUMNS if c.default)
#: what names a row, before the figures: (key, title, cell)
IDENTITY: tuple[tuple[str, str, Callable[[LayerRow], str]], ...] = (
    ("index", "#", lambda r: str(r.index)),
    ("name", "layer", lambda r: r.name),
    ("block", "block", lambda r: r.block),
    ("op", "op", lambda r: r.op),
)


@dataclass(frozen=True, slots=True)
class Subject:
    """One analysis to export, with what it was computed from.

    ``title`` names it in headers and file names (a zoo id, a file name); ``source`` is the spec
    text when there is one (the PyTorch code keeps its comments); ``network`` is the parsed spec,
    which the code generator walks beside the analysis' rows.
    """

    analysis: Analysis
    network: Network
    title: str
    source: str | None = None
    #: a name for people, e.g. the zoo's "ResNet-18" (the generated class is named after it)
    label: str | None = None


def subject_from_spec(spec: str | dict[str, Any], title: str, *, dtype: str = "float32",
                      batch: int = 1, optimizer: str = "sgd", aux: bool = False) -> Subject:
    """Parse and analyse a spec (text or JSON form) into a :class:`Subject`; a bad spec raises
    the engine's SpecError with every problem found."""
    analysis = analyze(spec, make_options(dtype=dtype, batch=batch, optimizer=optimizer,
                                          aux=aux))
    network = parse_spec(spec) if isinstance(spec, str) else parse_json_spec(spec)
    return Subject(analysis, network, title, spec if isinstance(spec, str) else None)


def conventions_lines(subject: Subject) -> list[str]:
    """The conventions every export states, one plain sentence a line (no comment marks)."""
    a = subject.analysis
    opts = a.options
    bpv = DTYPE_BYTES[opts.dtype]
    aux = "auxiliary classifiers counted" if opts.aux else "auxiliary classifiers not counted"
    lines = [
        (f"archcalc analysis of {subject.title}: input {_vol(a.input)}, output {_vol(a.output)} "
        f"(H x W x C)"),
        (f"options: dtype {opts.dtype} ({bpv} bytes a value), batch {opts.batch}, "
        f"optimizer {opts.optimizer}, {aux}"),
        ("units: MACs are multiply-accumulates (FLOPs = 2 x MACs); memory in bytes, "
        "MB = 10^6 bytes, MiB = 2^20 bytes"),
    ]
    lines += [f"{key}: {text}" for key, text in a.conventions.items()]
    return lines


@dataclass(frozen=True, slots=True)
class TotalItem:
    """One line of the totals: a key, a label for people, the exact value, and a note."""

    key: str
    label: str
    value: int | float
    note: str


def total_items(analysis: Analysis) -> list[TotalItem]:
    """The totals in the order every export lists them (memory also in MB and MiB)."""
    t = analysis.totals
    bpv = DTYPE_BYTES[analysis.options.dtype]
    items = [
        TotalItem("params", "parameters", t.params,
                  f"{t.weights:,} weights + {t.biases:,} biases"),
        TotalItem("macs", "multiply-accumulates", t.macs, "MACs per image, conv and fc"),
        TotalItem("flops", "FLOPs", t.flops, "2 x MACs"),
        TotalItem("activations", "activations", t.activations,
                  "values stored per image, forward pass"),
        TotalItem("activation_bytes", "activation memory (bytes)", t.activation_bytes,
                  f"activations x {bpv} B x batch {analysis.options.batch} = "
                  f"{_mb(t.activation_bytes)}"),
        TotalItem("param_bytes", "parameter memory (bytes)", t.param_bytes,
                  f"params x {bpv} B = {_mb(t.param_bytes)}"),
        TotalItem("training_bytes", "training memory (bytes)", t.training_bytes,
                  f"activations + weights, gradients and {analysis.options.optimizer} state = "
                  f"{_mb(t.training_bytes)}"),
        TotalItem("depth", "depth", t.depth,
                  f"conv and fc layers on the longest path ({t.weight_layers} in all)"),
    ]
    if t.expected_depth is not None:
        items.append(TotalItem("expected_depth", "expected depth", t.expected_depth,
                               "stochastic depth, during training"))
    if t.expected_macs is not None:
        items.append(TotalItem("expected_macs", "expected MACs", t.expected_macs,
                               "stochastic depth, per image during training"))
    return items


def _vol(v: Any) -> str:
    return f"{v.h}x{v.w}x{v.c}"


def _mb(n: int) -> str:
    return f"{megabytes(n)} ({mebibytes(n)})"
