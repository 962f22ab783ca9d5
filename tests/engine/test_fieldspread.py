"""The range of a row's units' fields where they differ by position (``rf.spread``), written as
the receptive-field arithmetic; the torch cross-check is in tests/torch/test_torch_unit_field.py."""

from __future__ import annotations

import pytest

from app.engine import analyze, analyze_network, parse_spec
from app.engine.result import to_jsonable
from app.engine.unitfield import graph_inputs, unit_reach
from app.present.formats import rf_size
from app.zoo import analyze_model, model_ids


def test_a_transposed_conv_alternates_two_sizes() -> None:
    # conv 3x3: each unit sees 3 pixels at jump 1. A 3x3 stride-2 transposed conv: output 2m
    # reads inputs m-1 and m (taps 0 and 2), output 2m+1 only input m (tap 1): 3 + 1 and 3
    a = analyze("input 16x16x1\nconv 1 3x3\nconvtranspose 1 3x3 stride 2\nconv 1 3x3")
    up, after = a.layers[2], a.layers[3]
    assert up.rf.spread is not None and up.rf.spread.h is not None
    assert (up.rf.spread.h.smallest, up.rf.spread.h.largest) == (3, 3 + 1)
    assert up.rf.spread.h.whole and up.rf.spread.h.units == 2  # a period of 2 units
    # then a 3x3 at jump 1/2: units 2m-1..2m+1 read inputs m-1..m (3+1) or m-1..m+1 (3+2)
    assert after.rf.spread is not None and after.rf.spread.h is not None
    assert (after.rf.spread.h.smallest, after.rf.spread.h.largest) == (3 + 1, 3 + 2)
    assert after.rf.h.size == after.rf.spread.h.largest  # the row's one field: its widest unit
    assert rf_size(after.rf) == "4–5"
    assert "by position: 4 to 5" in after.formulas["rf"]
    assert to_jsonable(after)["rf"]["spread"]["w"]["largest"] == 5


def test_a_2x2_transposed_conv_keeps_the_size_and_moves_the_centres() -> None:
    # conv 3x3 stride 2 pad 1: jump 2; a 2x2 stride-2 transposed conv: outputs 2m and 2m+1
    # both read input m, so both see conv unit m's 3 pixels, centred at 2m, not 2m - 0.5 and
    # 2m + 0.5 as start -0.5 and jump 1 place them: half a pixel off
    a = analyze("input 16x16x1\nconv 1 3x3 stride 2 pad 1\nconvtranspose 1 2x2 stride 2")
    spread = a.layers[-1].rf.spread
    assert spread is not None and spread.h is not None
    assert (spread.h.smallest, spread.h.largest, spread.h.offset) == (3, 3, 0.5)
    assert rf_size(a.layers[-1].rf) == "3"


def test_a_stride_after_an_upsample_can_end_the_pattern() -> None:
    # upsample 2 then a 2x2 stride-2 conv: output o reads upsampled 2o, 2o+1, both input o
    a = analyze("input 8x8x1\nupsample 2\nconv 1 2x2 stride 2")
    last = a.layers[-1]
    assert last.rf.spread is not None and last.rf.spread.h is not None
    assert (last.rf.spread.h.smallest, last.rf.spread.h.largest) == (1, 1)
    assert last.rf.h.size == 1.5  # what one size, jump and start make of it


@pytest.mark.parametrize("spec", [
    "input 32x32x3\nconv 8 3x3 stride 2 pad 1\nmaxpool 2x2\nconv 8 3x3\ngap\nfc 10",
    "input 16x16x2\nresidual { conv 2 3x3 pad 1 }\nadaptiveavgpool 4x4\nflatten\nfc 3",
])
def test_rows_whose_units_see_alike_have_no_spread(spec: str) -> None:
    rows = analyze(spec).layers
    assert all(r.rf.spread is None for r in rows if r.op in ("conv", "maxpool", "fc", "gap",
                                                              "adaptiveavgpool", "flatten"))
    assert rows[-1].rf.spread is None  # fc sees every pixel, whatever came before


def test_after_a_transposed_conv_fc_sees_exactly_the_input() -> None:
    # one size, jump and start carry half a pixel too many through the whole-input window
    # (3 + (12 - 1)*0.5 = 8.5 on an 8-pixel input); the units' own fields say 8
    a = analyze("input 8x8x1\nconv 1 3x3\nconvtranspose 1 2x2 stride 2\nflatten\nfc 4")
    fc = a.layers[-1]
    assert fc.rf.h.size == 3 + (12 - 1) * 0.5
    assert fc.rf.spread is not None and fc.rf.spread.h is not None
    assert (fc.rf.spread.h.smallest, fc.rf.spread.h.largest) == (8, 8)
    assert rf_size(fc.rf) == "8"


def test_no_zoo_model_without_upsampling_gets_a_spread() -> None:
    for model in model_ids():
        rows = analyze_model(model).layers
        uneven = any(r.op in ("convtranspose", "upsample") for r in rows)
        if not uneven:
            assert all(r.rf.spread is None for r in rows), model


BRUTE = [
    "input 40x40x1\nconv 2 3x3 stride 2 pad 1\nconvtranspose 2 3x3 stride 2\nconv 2 3x3 pad 1\n"
    "upsample 2\nconv 2 2x2\nconv 2 3x3 stride 2",
    "input 30x30x1\nconv 1 5x5 stride 3 pad 2 dilation 2\nconvtranspose 1 4x4 stride 3 pad 1\n"
    "upsample 2 bilinear\nadaptiveavgpool 7x7\nconv 1 3x3",
    "input 24x24x1\na: conv 1 3x3 pad 1\nb: conv 1 3x3 stride 2 pad 1\nu: upsample 2 from b\n"
    "s: add a u\nconvtranspose 1 2x2 stride 2\ncrop 40x40\nconv 1 3x3",
    "input 16x20x1\nconv 1 3x1 stride 2x1 pad 1x0\nconvtranspose 1 2x3 stride 2x3\nconv 1 3x3",
    "input 14x10x18\nconv 18 3x3 stride 2 pad 1\npixelshuffle 3\nconv 4 3x3 pad 1\n"
    "pixelshuffle 2\nconv 2 3x3 stride 2",
]


@pytest.mark.parametrize("spec", BRUTE)
def test_the_spread_is_every_units_own_field(spec: str) -> None:
    """One period of units (or the first units) stands for the row: against every unit of
    every row followed back to the input, padding positions counted."""
    net = parse_spec(spec)
    a = analyze_network(net)
    inputs = graph_inputs(net, a)
    for row in a.layers[1:]:
        for axis in ("h", "w"):
            rf = row.rf.h if axis == "h" else row.rf.w
            n = row.output.h if axis == "h" else row.output.w
            fields = [unit_reach(a.layers, inputs, row.index, o, axis).get(0) for o in range(n)]
            sizes = [r.field[1] - r.field[0] + 1 for r in fields if r is not None]
            offsets = [abs((r.field[0] + r.field[1]) / 2 - (rf.start + o * rf.jump))
                       for o, r in enumerate(fields) if r is not None]
            got = row.rf.spread and (row.rf.spread.h if axis == "h" else row.rf.spread.w)
            if got is None:
                assert set(sizes) <= {rf.size} and max(offsets) < 1e-9, (row.name, axis)
            else:
                assert (got.smallest, got.largest) == (min(sizes), max(sizes)), (row.name, axis)
                assert got.offset == pytest.approx(max(offsets), abs=1e-6), (row.name, axis)
