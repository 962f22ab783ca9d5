"""Receptive-field diagrams as geometry: what the SVG draws, computed from the engine's numbers.

Two pictures of one unit of a chosen layer (row) and the input pixels it sees:

* a 1-D **pyramid** per axis: from the unit at the top down to the input, one level for every
  layer on its path that changes the receptive field; each level shows the units of that
  layer's output that feed the chosen unit. Units of a level are drawn at their centres in input
  coordinates, so a stride (jump) visibly spreads them; units that fall outside their map
  (padding) are drawn differently. Deep paths are shortened to :data:`MAX_LEVELS` levels, the
  omitted ones replaced by a band that says how many there were.
* a **2-D view** of the input (H x W) with the unit's field drawn on it, the part outside the
  input (in the padding) apart from the part inside, and at a merge each branch's field.

Everything is computed from ``row.rf`` (size, jump, start per axis) and ``row.output``: for
the chosen unit ``u`` (centre ``c = start_N + u*jump_N``, field ``size_N``) a level ``i`` with
field ``size_i``, jump ``jump_i`` and start ``start_i`` contributes the units ``j`` whose
centres ``start_i + j*jump_i`` lie within ``c +- (size_N - size_i)/2`` (Araujo et al.,
"Computing Receptive Fields of Convolutional Neural Networks", Distill 2019). Coordinates are
in input pixels, the first pixel's centre at 0.

Pure data: no Jinja, no web framework. The template only loops over the shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.engine.result import LayerRow
from app.present.rfdiagram.levels import (
    MAX_LEVELS,
    UNIT_CHOICES,
    Axis,
    Gap,
    Level,
    Span,
    UnitChoice,
    levels,
    path_rows,
    shorten,
    unit_index,
)
from app.present.rfdiagram.plane import (
    AxisField,
    Branch,
    FieldView,
    branches,
    field_view,
)
from app.present.rfdiagram.pyramid import NARROW, WIDE, Layout, Pyramid, pyramid
from app.present.rfdiagram.shapes import Poly, Rect, Text, num

__all__ = [
    "MAX_LEVELS", "NARROW", "UNIT_CHOICES", "WIDE", "AxisField", "Branch", "FieldView", "Gap",
    "Layout", "Level", "Poly", "Pyramid", "RFDiagram", "Rect", "Span", "Text", "UnitChoice",
    "branches", "field_view", "levels", "num", "path_rows", "pyramid", "rf_diagram", "shorten",
    "unit_index",
]


@dataclass(frozen=True, slots=True)
class RFDiagram:
    """Everything the receptive-field partial draws for one row."""

    row: LayerRow
    unit_choice: UnitChoice
    pyramids: tuple[Pyramid, ...]  # per axis, a wide and a narrow layout
    field: FieldView


def _square(path: Sequence[LayerRow]) -> bool:
    first = path[0]
    return first.output.h == first.output.w and all(
        r.rf.h == r.rf.w and r.output.h == r.output.w for r in path)


def rf_diagram(rows: Sequence[LayerRow], index: int, choice: UnitChoice = "centre") -> RFDiagram:
    """The pyramid(s) and the 2-D view of one unit of ``rows[index]``."""
    row = rows[index]
    unit = (unit_index(choice, row.output.h), unit_index(choice, row.output.w))
    path = path_rows(rows, index)
    axes: list[tuple[Axis, int, str]] = (
        [("h", unit[0], "H and W")] if _square(path) else [("h", unit[0], "H"), ("w", unit[1], "W")])
    pyramids = tuple(pyramid(path, axis, u, name, layout)
                     for axis, u, name in axes for layout in (WIDE, NARROW))
    return RFDiagram(row, choice, pyramids, field_view(rows, index, unit))
