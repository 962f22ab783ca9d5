"""The columns of the per-layer table: one definition feeds the HTML table and every export.

A column says where its value comes from, how it is written, which figures' working explains
it (the output volume is explained by h, w and c), and whether it is shown by default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from app.engine.result import LayerRow
from app.present.formats import compact, mebibytes, megabytes, rf_size, thousands, volume

Value = int | float | str


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    #: the raw value (an exact integer, or "55x55x96" for a volume)
    value: Callable[[LayerRow], Value]
    #: the value as people read it in a table cell
    text: Callable[[LayerRow], str]
    #: the row.working keys whose working explains this cell
    working: tuple[str, ...]
    #: a longer description (the column header's title, the exports' legend)
    description: str
    default: bool = True
    numeric: bool = True
    #: the cell's compact form ("35K"), where one is written
    short: Callable[[LayerRow], str] | None = None


def _count(key: str) -> Callable[[LayerRow], int]:
    def get(row: LayerRow) -> int:
        value: int = getattr(row, key)
        return value

    return get


def _text(key: str) -> Callable[[LayerRow], str]:
    return lambda row: thousands(getattr(row, key))


def _short(key: str) -> Callable[[LayerRow], str]:
    return lambda row: compact(getattr(row, key))


COLUMNS: tuple[Column, ...] = (
    Column("output", "Output", lambda r: volume(r.output), lambda r: volume(r.output),
           ("h", "w", "c"), "output volume H x W x C", numeric=False),
    Column("weights", "Weights", _count("weights"), _text("weights"), ("weights",),
           "multiplicative parameters", short=_short("weights")),
    Column("biases", "Biases", _count("biases"), _text("biases"), ("biases",),
           "additive parameters", short=_short("biases")),
    Column("params", "Params", _count("params"), _text("params"), ("params",),
           "weights + biases", short=_short("params")),
    Column("macs", "MACs", _count("macs"), _text("macs"), ("macs",),
           "multiply-accumulates per image (conv and fc)", short=_short("macs")),
    Column("flops", "FLOPs", lambda r: 2 * r.macs, lambda r: thousands(2 * r.macs), ("macs",),
           "2 x MACs per image", default=False, short=lambda r: compact(2 * r.macs)),
    Column("activations", "Activations", _count("activations"), _text("activations"),
           ("activations",), "values in the output tensor, per image (the lecture's memory)",
           short=_short("activations")),
    Column("memory", "Memory", _count("activation_bytes"),
           lambda r: megabytes(r.activation_bytes), ("activations",),
           "activation bytes for the chosen dtype and batch (MB = 10^6 bytes)",
           short=lambda r: mebibytes(r.activation_bytes)),
    Column("rf", "RF", lambda r: r.rf.size, lambda r: rf_size(r.rf), ("rf",),
           "receptive field in input pixels (H x W when they differ)"),
)
BY_KEY = {c.key: c for c in COLUMNS}
DEFAULT_KEYS = tuple(c.key for c in COLUMNS if c.default)
#: the figure columns every export and the command line show: the pages' default columns
DEFAULT_COLUMNS: tuple[Column, ...] = tuple(c for c in COLUMNS if c.default)


class Identity(NamedTuple):
    """A column that names a row, before the figures: the index, the layer, its block, its op."""

    key: str
    title: str
    cell: Callable[[LayerRow], str]


IDENTITY: tuple[Identity, ...] = (
    Identity("index", "#", lambda r: str(r.index)),
    Identity("name", "layer", lambda r: r.name),
    Identity("block", "block", lambda r: r.block),
    Identity("op", "op", lambda r: r.op),
)
