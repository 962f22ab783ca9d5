"""The receptive-field diagrams' geometry (app.present.rfdiagram), computed from the engine's rf.

Expected values are written as the receptive-field arithmetic (size += (k - 1) * jump,
jump *= stride); the torch cross-check is in test_rfdiagram_torch.py.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from app.engine import analyze_network, parse_spec
from app.engine.result import LayerRow
from app.engine.unitfield import graph_inputs, unit_reach
from app.present import rfdiagram
from app.present.rfdiagram import (
    MAX_LEVELS,
    NARROW,
    WIDE,
    Gap,
    Level,
    num,
    path_rows,
    pyramid,
    rf_diagram,
    shorten,
)
from app.zoo import analyze_model, load_network

THREE_3X3 = "input 32x32x3\nconv 8 3x3\nconv 8 3x3\nconv 8 3x3"


Graph = tuple[tuple[LayerRow, ...], list[list[int]]]


def _graph(spec: str) -> Graph:
    """The rows of a spec and the rows each reads, as the /rf page draws them."""
    net = parse_spec(spec)
    a = analyze_network(net)
    return a.layers, graph_inputs(net, a)


def _model(model: str, aux: bool = False) -> Graph:
    a = analyze_model(model, aux=aux)
    return a.layers, graph_inputs(load_network(model), a)


def _levels(p: rfdiagram.Pyramid) -> list[Level]:
    return [lv for lv in p.levels if isinstance(lv, Level)]


def _named(rows: tuple[LayerRow, ...] | list[LayerRow], name: str) -> int:
    return next(r.index for r in rows if r.name == name)


def test_three_3x3_convs_reach_7_input_pixels() -> None:
    rows, inputs = _graph(THREE_3X3)
    d = rf_diagram(rows, inputs, 3)
    assert len(d.pyramids) == 2  # one axis pair (H and W alike), wide and narrow layouts
    p = d.pyramids[0]
    assert p.axes == "H and W" and p.layout == "wide"
    counts = [lv.span.count for lv in _levels(p)]  # top (conv3) first, input last
    assert counts == [1, 1 + 2, 1 + 2 + 2, 1 + 2 + 2 + 2]
    assert d.field.h.size == d.field.w.size == 1 + 3 * (3 - 1)
    # the shaded cells at the input level are exactly those 7
    on = [r for r in p.rects if r.cls == "rf-cell-on"]
    assert len(on) == sum(counts)
    assert "7 input pixels" in p.title


def test_stride_spreads_the_cells_by_the_jump() -> None:
    rows, inputs = _graph("input 32x32x3\nconv 8 3x3 stride 2\nconv 8 3x3")
    p = rf_diagram(rows, inputs, 2).pyramids[0]
    _, conv1, inp = _levels(p)
    assert (conv1.jump, conv1.span.count) == (2, 3)
    assert inp.span.count == 3 + (3 - 1) * 2  # conv2's 3 units, 2 pixels apart, 3 wide each
    # conv1's three shaded cells are drawn 2 input pixels apart; the input's 1 apart
    on = sorted((r.y, r.x) for r in p.rects if r.cls == "rf-cell-on")
    rows_y = sorted({y for y, _ in on})
    conv1_x = [x for y, x in on if y == rows_y[1]]
    input_x = [x for y, x in on if y == rows_y[2]]
    step_in = input_x[1] - input_x[0]
    assert [round(b - a, 6) for a, b in itertools.pairwise(conv1_x)] == [round(2 * step_in, 6)] * 2
    assert len(input_x) == 3 + (3 - 1) * 2


def test_pooling_spreads_the_field() -> None:
    rows, inputs = _graph("input 32x32x3\nconv 8 3x3\nmaxpool 2x2\nconv 8 3x3")
    lv = _levels(rf_diagram(rows, inputs, 3).pyramids[0])
    # conv 3x3 at jump 2 after the pool: 3 pool units; each pool unit 2 conv units; ...
    assert [x.span.count for x in lv] == [1, 3, 3 * 2, 3 * 2 + 2]
    assert lv[1].jump == 2 and lv[-1].span.count == 1 + (3 - 1) + (2 - 1) + (3 - 1) * 2


def test_padding_part_is_computed() -> None:
    rows, inputs = _graph("input 8x8x1\nconv 1 3x3 pad 1\nconv 1 3x3 pad 1\nconv 1 3x3 pad 1")
    d = rf_diagram(rows, inputs, 3, "first")
    inp = _levels(d.pyramids[0])[-1]
    # unit 0's field is 7 pixels centred on pixel 0: 3 of them before the image
    assert (inp.span.first, inp.span.count) == (-3, 7)
    assert (inp.span.pad_before, inp.span.pad_after) == (3, 0)
    f = d.field
    assert (f.h.pad_before, f.h.pad_after, f.h.inside) == (3, 0, 7 - 3)
    assert (f.w.pad_before, f.w.pad_after) == (3, 0)
    assert "rf-field-pad" in {r.cls for r in f.rects} and "rf-field-in" in {r.cls for r in f.rects}
    # drawn: conv1 and conv2 also have units outside their maps (2 and 1), the input 3
    pads = [lv.span.padding for lv in _levels(d.pyramids[0])]
    assert pads == [0, 1, 2, 3]
    last = rf_diagram(rows, inputs, 3, "last").field
    assert (last.h.pad_before, last.h.pad_after) == (0, 3)
    centre = rf_diagram(rows, inputs, 3, "centre").field
    assert centre.h.pad_before + centre.h.pad_after == 0  # unit 3 sees pixels 0..6


def test_resnet50_last_stage_fields() -> None:
    # torchvision's ResNet-50 (stride on the 3x3): conv1 7x7/2, maxpool 3x3/2, then the 3x3 of
    # each bottleneck: 3 at jump 4, 1 + 3 at jump 8 (the first strided), 1 + 5 at 16, 1 + 2 at 32
    tv = 1 + 6 * 1 + 2 * 2 + 3 * 2 * 4 + 2 * 4 + 3 * 2 * 8 + 2 * 8 + 5 * 2 * 16 + 2 * 16 + 2 * 2 * 32
    assert tv == 427
    # the paper's (stride on the first 1x1): each stage's first 3x3 already runs at the new jump
    paper = 1 + 6 * 1 + 2 * 2 + 3 * 2 * 4 + 4 * 2 * 8 + 6 * 2 * 16 + 3 * 2 * 32
    for model, size in (("tv-resnet50", tv), ("resnet50", paper)):
        rows, inputs = _model(model)
        index = _named(rows, "relu49")  # the last stage's output, before the pooling
        d = rf_diagram(rows, inputs, index)
        assert d.field.h.size == d.field.w.size == size
        p = d.pyramids[0]
        lv = _levels(p)
        assert lv[-1].span.count == size and lv[0].span.count == 1
        assert len(lv) <= MAX_LEVELS and any(isinstance(x, Gap) for x in p.levels)
        # every level of the path is either drawn or counted in a gap
        full = rfdiagram.levels(path_rows(rows, index), "h",
                                unit_reach(rows, inputs, index, d.field.unit[0], "h"))
        hidden = sum(x.hidden for x in p.levels if isinstance(x, Gap))
        assert len(lv) + hidden == len(full)
        assert any("layers …" in t.text for t in p.texts)
        # the 7x7 map's centre unit sees beyond the 224-pixel input on both sides
        assert d.field.h.pad_before > 0 and d.field.h.pad_after > 0
        assert d.field.h.inside == 224


def test_shorten_keeps_the_ends_and_the_strides() -> None:
    spec = "input 512x512x1\n" + "conv 1 3x3 pad 1\n" * 30 + "conv 1 3x3 stride 2 pad 1\n" + \
        "conv 1 3x3 pad 1\n" * 10
    rows, inputs = _graph(spec)
    full = rfdiagram.levels(path_rows(rows, len(rows) - 1), "h",
                            unit_reach(rows, inputs, len(rows) - 1, 0, "h"))
    assert len(full) == 1 + 41
    short = shorten(full)
    kept = [x for x in short if isinstance(x, Level)]
    assert len(kept) == MAX_LEVELS
    assert kept[0] is full[0] and kept[-1] is full[-1]
    strided = next(x for x in full if x.jump == 2)
    assert strided in kept
    assert sum(x.hidden for x in short if isinstance(x, Gap)) == len(full) - MAX_LEVELS


def test_path_skips_sibling_branches() -> None:
    spec = ("input 16x16x3\nconv 8 3x3 pad 1\n"
            "inc: concat { branch { conv 4 1x1 } branch { conv 4 3x3 pad 1; conv 4 5x5 pad 2 } }\n"
            "conv 8 3x3 pad 1")
    rows, inputs = _graph(spec)
    second = rows[_named(rows, "conv4")]  # the branch2's 5x5
    names = [r.name for r in path_rows(rows, second.index)]
    assert names == ["input", "conv1", "conv3", "conv4"]
    after = [r.name for r in path_rows(rows, len(rows) - 1)]
    assert after == ["input", "conv1", "inc", "conv5"]  # the merge row stands for the block
    lv = _levels(rf_diagram(rows, inputs, second.index).pyramids[0])
    assert lv[-1].span.count == 1 + (3 - 1) + (3 - 1) + (5 - 1)


def test_merge_draws_the_union_and_the_alignment_warning() -> None:
    # a 5x5 beside a 2x2 stride 2: both give 4x4, but step through the input by 1 and by 2
    rows, inputs = _graph("input 8x8x3\nconcat { branch { conv 4 5x5 } branch { conv 4 2x2 stride 2 } }"
                   )
    merge = rows[-1]
    d = rf_diagram(rows, inputs, merge.index, "first")
    f = d.field
    assert (f.h.size, f.h.jump, f.h.start) == (merge.rf.h.size, merge.rf.h.jump, merge.rf.h.start)
    assert [b.name for b in f.branches] == ["branch1", "branch2"]
    assert [b.h.size for b in f.branches] == [5, 2]
    assert [b.h.jump for b in f.branches] == [1, 2]
    assert f.warnings and "not aligned" in f.warnings[0]
    assert "rf-branch" in {r.cls for r in f.rects}
    assert "Warning" in f.desc
    assert f.position_note == ""  # for the first unit the row's field is the union
    # the last unit: branch1 (jump 1, start 2) centres at 2 + 3*1 = 5, sees 3..7; branch2
    # (jump 2, start 0.5) at 0.5 + 3*2 = 6.5, sees 6..7: together 3..7, drawn as such, where
    # the row's one field (start 2, jump 2) would put it at 2 + 3*2 = 8
    last = rf_diagram(rows, inputs, merge.index, "last").field
    assert [(b.h.lo + 0.5, b.h.hi - 0.5) for b in last.branches] == [(3, 7), (6, 7)]
    assert (last.h.lo + 0.5, last.h.hi - 0.5) == (3, 7)
    assert "rows 3 to 7" in last.position_note and "centred at 8" in last.position_note


def test_residual_identity_shortcut_is_a_branch() -> None:
    rows, inputs = _graph("input 8x8x4\nresidual { conv 4 3x3 pad 1; conv 4 3x3 pad 1 }")
    f = rf_diagram(rows, inputs, len(rows) - 1).field
    assert [(b.name, b.h.size) for b in f.branches] == [("body", 1 + 2 + 2),
                                                        ("shortcut (identity)", 1)]


def test_rectangular_fields_get_one_pyramid_per_axis() -> None:
    rows, inputs = _graph("input 20x12x1\nconv 1 1x5\nconv 1 3x3 stride 2x1")
    d = rf_diagram(rows, inputs, 2)
    assert [p.axes for p in d.pyramids] == ["H", "H", "W", "W"]
    h, w = d.pyramids[0], d.pyramids[2]
    assert _levels(h)[-1].span.count == 1 + (3 - 1)
    assert _levels(w)[-1].span.count == 1 + (5 - 1) + (3 - 1)
    assert (d.field.h.size, d.field.w.size) == (3, 1 + 4 + 2)


@pytest.mark.parametrize("layout", [WIDE, NARROW])
def test_layouts_keep_shapes_inside_the_picture(layout: rfdiagram.Layout) -> None:
    rows, inputs = _model("vgg16")
    path = path_rows(rows, len(rows) - 1)
    p = pyramid(path, "h", 0, "H and W", unit_reach(rows, inputs, len(rows) - 1, 0, "h"), layout)
    assert p.width == layout.width
    for r in p.rects:
        assert -1 <= r.x and r.x + r.w <= p.width + 1 and 0 <= r.y <= p.height
    for t in p.texts:
        assert 0 <= t.y <= p.height


def test_text_alternative_states_the_numbers() -> None:
    rows, inputs = _graph(THREE_3X3)
    d = rf_diagram(rows, inputs, 3, "first")
    assert "7 x 7" in d.field.title and "conv3" in d.field.title
    assert "jump 1 x 1" in d.field.desc and "rows 0 to 6" in d.field.desc and "0 above" in d.field.desc
    assert "conv2: 3 units" in d.pyramids[0].desc


def test_units_reached_only_through_padding_are_not_read() -> None:
    # conv1 gives (17 - 3 + 2*1)/2 + 1 = 9; the 2x2 pool reads 2*4 = 8 of them; the last
    # conv's last unit has pool unit 4 (padding) under its field, so conv1's unit 8 is unread
    rows, inputs = _graph("input 17x17x1\nconv 1 3x3 stride 2 pad 1\navgpool 2x2\n"
                   "conv 1 3x3 pad 1\nconv 1 5x5 stride 2 pad 2")
    d = rf_diagram(rows, inputs, len(rows) - 1, "last")
    conv1 = next(lv for lv in _levels(d.pyramids[0]) if lv.name == "conv1")
    assert conv1.span.length == 9 and conv1.span.seen_last == 2 * 4 - 1
    assert conv1.span.unseen == 9 - 2 * 4
    assert "read only through padding" in d.pyramids[0].desc
    assert d.field.h.unseen > 0 and "read only through padding" in d.field.desc


@pytest.mark.parametrize("model", ["googlenet", "densenet121", "resnet152", "fractalnet",
                                   "squeezenet1_0", "alexnet"])
def test_every_zoo_row_draws_its_engine_field(model: str) -> None:
    """For rows across the model (merges, aux heads, fc and gap), the pyramid's input level
    covers exactly the engine's field and its top level is the one unit."""
    rows, inputs = _model(model, aux=model == "googlenet")
    for index in [*range(0, len(rows), 11), len(rows) - 1]:
        for unit in ("first", "last"):
            d = rf_diagram(rows, inputs, index, unit)
            for p in d.pyramids:
                lv = _levels(p)
                axis = rows[index].rf.w if p.axes == "W" else rows[index].rf.h
                assert (lv[0].span.count, lv[-1].span.count) == (1, axis.size), (index, unit)
                assert lv[-1].span.seen <= axis.size
            assert (d.field.h.size, d.field.w.size) == (rows[index].rf.h.size,
                                                        rows[index].rf.w.size)


def test_the_geometry_needs_no_web_stack() -> None:
    code = ("import sys, app.present.rfdiagram, app.present.layer_quiz; "
            "print(sorted(m for m in ('fastapi', 'starlette', 'jinja2', 'torch') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"


def test_2d_view_marks_the_jump_and_the_start() -> None:
    rows, inputs = _graph("input 32x32x3\nconv 8 3x3 stride 2 pad 1\nconv 8 3x3 stride 2 pad 1")
    f = rf_diagram(rows, inputs, 2, "first").field
    assert (f.h.jump, f.h.size) == (2 * 2, 1 + 2 * 1 + 2 * 2)
    bar = next(r for r in f.rects if r.cls == "rf-jump")
    dots = sorted({round(x, 3) for x, y, _ in f.dots if abs(y - f.dots[-1][1]) < 1e-6})
    assert len(dots) >= 2 and abs(bar.w - (dots[1] - dots[0])) < 1e-6  # one jump apart
    labels = [t.text for t in f.texts]
    assert "jump 4" in labels and f"start ({num(f.h.start)}, {num(f.w.start)})" in labels
    assert "field 7 x 7" in labels
