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

The units of each level that feed the chosen unit are followed back from it exactly, row by
row (``app.engine.unitfield``): after upsampling and transposed convolutions units of one row
see differently, and the diagram draws the chosen unit's own field, not one size for the row.
Units are placed at their centres ``start_i + j*jump_i`` from ``row.rf`` (Araujo et al.,
"Computing Receptive Fields of Convolutional Neural Networks", Distill 2019). Coordinates are
in input pixels, the first pixel's centre at 0.

Pure data: no Jinja, no web framework. The template only loops over the shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.engine.result import LayerRow
from app.engine.unitfield import unit_reach
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
    pick_unit,
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
    "branches", "field_view", "levels", "num", "path_rows", "pick_unit", "pyramid", "rf_diagram",
    "shorten", "unit_index",
]


@dataclass(frozen=True, slots=True)
class RFDiagram:
    """Everything the receptive-field partial draws for one row."""

    row: LayerRow
    unit_choice: UnitChoice
    pyramids: tuple[Pyramid, ...]  # per axis, a wide and a narrow layout
    field: FieldView


def _square(path: Sequence[LayerRow], unit: tuple[int, int]) -> bool:
    first = path[0]
    return unit[0] == unit[1] and first.output.h == first.output.w and all(
        r.rf.h == r.rf.w and r.output.h == r.output.w for r in path)


def rf_diagram(rows: Sequence[LayerRow], inputs: Sequence[Sequence[int]], index: int,
               choice: UnitChoice = "centre") -> RFDiagram:
    """The pyramid(s) and the 2-D view of one unit of ``rows[index]``, the unit named by
    ``choice`` (:func:`pick_unit`); ``inputs`` are the rows each row reads
    (:func:`app.engine.unitfield.graph_inputs`)."""
    row = rows[index]
    unit = pick_unit(choice, row.output.h, row.output.w)
    path = path_rows(rows, index)
    axes: list[tuple[Axis, int, str]] = (
        [("h", unit[0], "H and W")] if _square(path, unit)
        else [("h", unit[0], "H"), ("w", unit[1], "W")])
    reach = {axis: unit_reach(rows, inputs, index, u, axis) for axis, u, _ in axes}
    pyramids = tuple(pyramid(path, axis, u, name, reach[axis], layout)
                     for axis, u, name in axes for layout in (WIDE, NARROW))
    return RFDiagram(row, choice, pyramids, field_view(rows, inputs, index, unit))
