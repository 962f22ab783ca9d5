"""Interim column definitions of the per-layer table, until ``app.present.columns`` lands.

The lead is writing ``app/present/columns.py`` (issue 6): one ``COLUMNS`` list that the HTML
table and every export share. Until it is on main the exports read this one, which mirrors the
HTML table's columns (``templates/partials/_result.html``) with the same interface
(``key``, ``title``, ``value(row)`` raw, ``text(row)`` for people), so switching is one import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.engine.result import LayerRow


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its key, its title, the raw value and the text people read."""

    key: str
    title: str
    value: Callable[[LayerRow], int | str]
    text: Callable[[LayerRow], str]
    numeric: bool = False


def _count(key: str, title: str) -> Column:
    def value(row: LayerRow) -> int:
        return int(getattr(row, key))

    def text(row: LayerRow) -> str:
        return f"{int(getattr(row, key)):,}"

    return Column(key, title, value, text, numeric=True)


def _output(row: LayerRow) -> str:
    return f"{row.output.h}x{row.output.w}x{row.output.c}"


def _rf(row: LayerRow) -> str:
    h, w = row.rf.h.size, row.rf.w.size
    return str(h) if h == w else f"{h}x{w}"


COLUMNS: tuple[Column, ...] = (
    Column("index", "#", lambda r: r.index, lambda r: str(r.index), numeric=True),
    Column("name", "layer", lambda r: r.name, lambda r: r.name),
    Column("block", "block", lambda r: r.block, lambda r: r.block),
    Column("op", "op", lambda r: r.op, lambda r: r.op),
    Column("output", "output", _output, _output),
    _count("weights", "weights"),
    _count("biases", "biases"),
    _count("params", "params"),
    _count("macs", "MACs"),
    _count("activations", "activations"),
    Column("rf", "RF", _rf, _rf, numeric=True),
)
