"""Rows built by the walk's fast constructor (``app.engine.result.maker``) are ordinary frozen
result values: the same class, frozen, equal to and hashing as values built the usual way, and
serialised alike."""

from __future__ import annotations

import dataclasses

import pytest

from app.engine import analyze
from app.engine.result import RF, AxisRF, LayerRow, VolumeOut, maker, to_jsonable


def _rebuilt(row: LayerRow) -> LayerRow:
    """The same row through the frozen dataclass's own __init__."""
    return LayerRow(**{f.name: getattr(row, f.name) for f in dataclasses.fields(LayerRow)})


def test_walked_rows_are_frozen_layer_rows_equal_to_ones_built_normally() -> None:
    a = analyze("input 32x32x3\nconv 8 3x3 pad 1\nrelu\nresidual { conv 8 3x3 pad 1 }\n"
                "maxpool 2x2 stride 2\nfc 10")
    for row in a.layers:
        assert type(row) is LayerRow
        same = _rebuilt(row)
        assert same == row and hash(same) == hash(row)
        assert to_jsonable(same) == to_jsonable(row)
        with pytest.raises(dataclasses.FrozenInstanceError):
            row.name = "x"  # type: ignore[misc]
        with pytest.raises(dataclasses.FrozenInstanceError):
            row.rf.h.size = 0  # type: ignore[misc]
        # refused either way (a frozen slotted dataclass raises TypeError here, a CPython quirk)
        with pytest.raises((AttributeError, TypeError)):
            row.extra = 1  # type: ignore[attr-defined]


def test_maker_keeps_defaults_and_keywords() -> None:
    make = maker(VolumeOut)
    assert make(1, 2, c=3) == VolumeOut(1, 2, 3)
    axis = maker(AxisRF)(3, 1, 0.0)
    assert maker(RF)(3, 1, 0.0, axis, axis) == RF(3, 1, 0.0, AxisRF(3, 1, 0.0), AxisRF(3, 1, 0.0))
    row = _rebuilt(analyze("input 8x8x1\nconv 1 3x3").layers[1])
    fast = maker(LayerRow)(**{f.name: getattr(row, f.name) for f in dataclasses.fields(LayerRow)
                              if f.name not in ("notes", "survival")})
    assert fast.notes == () and fast.survival is None


def test_maker_refuses_a_class_it_cannot_twin() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    with pytest.raises(TypeError):
        maker(NoSlots)
