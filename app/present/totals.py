"""The totals of an analysis, as one list every renderer walks: the calculator page, every
export and the command line show the same figures, in the same order, with the same words.

An item holds the exact value and why it is what it is (``activations x 4 B x batch 1``);
each renderer writes the value its own way. A byte count is headed in MB on the page, with the
exact bytes in its note, while an export gives the exact bytes with MB and MiB in the note.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.engine.options import DTYPE_BYTES
from app.engine.result import Analysis
from app.present.formats import mebibytes, megabytes

__all__ = ["TotalItem", "total_items", "total_text"]

Unit = Literal["count", "bytes"]
#: the whole-network counts, without the expectations under stochastic depth (``compare``
#: lists these for every model; the expectations exist only for some)
ALWAYS = ("params", "macs", "flops", "activations", "activation_bytes", "param_bytes",
          "training_bytes", "depth")


@dataclass(frozen=True, slots=True)
class TotalItem:
    """One total: a key, its name for people, the exact value, and how it is made."""

    key: str
    name: str
    value: int | float
    #: how the value is made or what it counts, without the value itself
    why: str
    unit: Unit = "count"
    #: a heading where room is short (the page's "MACs", as its table column is headed)
    short: str = ""

    @property
    def heading(self) -> str:
        return self.short or self.name

    @property
    def label(self) -> str:
        """The name where the value is written exactly: "activation memory (bytes)"."""
        return f"{self.name} (bytes)" if self.unit == "bytes" else self.name

    @property
    def note(self) -> str:
        """``why``, and a byte count also in MB and MiB: "params x 4 B = 0.248 MB (...)"."""
        if self.unit == "bytes":
            return f"{self.why} = {megabytes(self.value)} ({mebibytes(self.value)})"
        return self.why

    @property
    def text(self) -> str:
        """The exact value: 34,944; an expectation to two decimals."""
        return total_text(self.value)


def total_text(value: int | float) -> str:
    """A total written exactly: a count with thousands separators, a fraction to two places."""
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def total_items(analysis: Analysis) -> list[TotalItem]:
    """The totals in the order every renderer lists them."""
    t = analysis.totals
    opts = analysis.options
    bpv = DTYPE_BYTES[opts.dtype]
    items = [
        TotalItem("params", "parameters", t.params,
                  f"{t.weights:,} weights + {t.biases:,} biases"),
        TotalItem("macs", "multiply-accumulates", t.macs, "MACs per image, conv and fc",
                  short="MACs"),
        TotalItem("flops", "FLOPs", t.flops, "2 x MACs"),
        TotalItem("activations", "activations", t.activations,
                  "values stored per image, forward pass"),
        TotalItem("activation_bytes", "activation memory", t.activation_bytes,
                  f"activations x {bpv} B x batch {opts.batch}", "bytes"),
        TotalItem("param_bytes", "parameter memory", t.param_bytes, f"params x {bpv} B",
                  "bytes"),
        TotalItem("training_bytes", "training memory", t.training_bytes,
                  f"activations + weights, gradients and {opts.optimizer} state", "bytes"),
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
