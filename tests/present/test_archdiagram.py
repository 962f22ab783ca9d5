"""The architecture diagram's geometry (app.present.archdiagram) on the lecture's networks."""

from __future__ import annotations

import itertools

import pytest

from app import engine, zoo
from app.examples import BOTTLENECK_INCEPTION, NAIVE_INCEPTION
from app.present import archdiagram
from app.present.archdiagram import Box, Diagram


def _overlap(a: Box, b: Box) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


@pytest.mark.parametrize("spec", [NAIVE_INCEPTION, BOTTLENECK_INCEPTION])
def test_an_inception_module_has_four_branches_side_by_side(spec: str) -> None:
    d = archdiagram.diagram(engine.analyze(spec), "inception")
    (frame,) = d.frames
    assert frame.kind == "branches" and len(frame.columns) == 4
    assert list(frame.columns) == sorted(frame.columns)
    # the first box of each branch: one row of four, left to right, inside the frame
    analysis = engine.analyze(spec)
    firsts = []
    for n in range(1, 5):
        first = next(r.index for r in analysis.layers if r.block.endswith(f"branch{n}"))
        firsts.append(next(b for b in d.boxes if first in b.rows))
    assert len({b.y for b in firsts}) == 1
    assert [b.x for b in firsts] == sorted(b.x for b in firsts)
    for b in firsts:
        assert frame.x <= b.x and b.x + b.w <= frame.x + frame.w
    concat = next(b for b in d.boxes if b.kind == "merge")
    out = analysis.output
    assert concat.label == "concat" and concat.sub == f"{out.h}x{out.w}x{out.c}"
    assert concat.y > max(b.y for b in d.boxes if b.kind == "layer")


def test_googlenet_draws_every_inception_module_with_four_branches() -> None:
    d = archdiagram.diagram(zoo.analyze_model("googlenet"), "GoogLeNet")
    modules = [f for f in d.frames if f.label.startswith("inception")]
    assert len(modules) == 9 and all(len(f.columns) == 4 for f in modules)
    assert all(f.times == 1 for f in modules)  # each has its own widths: none repeats


def test_resnet50_stages_are_drawn_once_with_their_counts() -> None:
    d = archdiagram.diagram(zoo.analyze_model("resnet50"), "ResNet-50")
    stages = [(f.label, f.times) for f in d.frames]
    assert stages == [("res2a", 3), ("res3a", 4), ("res4a", 6), ("res5a", 3)]
    assert sum(t for _, t in stages) * 3 + 2 == zoo.analyze_model("resnet50").totals.depth
    assert "x3" in d.desc and "x6" in d.desc


@pytest.mark.parametrize(("model", "counts"), [
    ("resnet152", [3, 8, 36, 3]), ("resnet101", [3, 4, 23, 3]), ("resnet34", [3, 4, 6, 3]),
    ("resnext50_32x4d", [3, 4, 6, 3]), ("densenet121", [6, 12, 24, 16]),
])
def test_repeats_found_again(model: str, counts: list[int]) -> None:
    d = archdiagram.diagram(zoo.analyze_model(model), model)
    assert [f.times for f in d.frames if f.kind in ("residual", "dense")] == counts


def test_labels_read_like_the_slides() -> None:
    labels = [b.label for b in archdiagram.diagram(zoo.analyze_model("alexnet")).boxes]
    assert labels[:3] == ["input", "11x11 conv, 96, /4", "max pool 3x3, /2"]
    vgg = [b.label for b in archdiagram.diagram(zoo.analyze_model("vgg16")).boxes]
    assert vgg.count("3x3 conv, 512") == 6 and vgg[-3:] == ["fc 4096", "fc 4096", "fc 1000"]
    resnet = [b.label for b in archdiagram.diagram(zoo.analyze_model("resnet50")).boxes]
    assert "7x7 conv, 64, /2" in resnet and "+" in resnet


def _check_layout(d: Diagram) -> None:
    for a, b in itertools.combinations(d.boxes, 2):
        assert not _overlap(a, b), (a.label, b.label)
    for b in d.boxes:
        assert 0 <= b.x and b.x + b.w <= d.width and 0 <= b.y and b.y + b.h <= d.height


@pytest.mark.parametrize("model", zoo.model_ids())
def test_every_zoo_model_lays_out_without_overlaps(model: str) -> None:
    analysis = zoo.analyze_model(model)
    d = archdiagram.diagram(analysis, model)
    _check_layout(d)
    drawn = {i for b in d.boxes for i in b.rows}
    assert drawn <= {r.index for r in analysis.layers}


def test_every_row_of_a_plain_network_is_in_a_box() -> None:
    analysis = zoo.analyze_model("vgg16")
    d = archdiagram.diagram(analysis)
    assert sorted(i for b in d.boxes for i in b.rows) == [r.index for r in analysis.layers]


def test_shade_follows_volume_or_macs() -> None:
    analysis = zoo.analyze_model("vgg16")
    by_volume = archdiagram.diagram(analysis, metric="volume").boxes
    by_macs = archdiagram.diagram(analysis, metric="macs").boxes
    conv1 = next(b for b in by_volume if b.rows[0] == 1)
    assert conv1.value == 224 * 224 * 64 and conv1.shade == archdiagram.SHADES - 1
    fc8 = next(b for b in by_macs if b.label == "fc 1000")
    assert fc8.value == 4096 * 1000
    for boxes in (by_volume, by_macs):
        for a, b in itertools.combinations(boxes, 2):
            if a.value < b.value:
                assert a.shade <= b.shade


def test_aux_classifiers_stand_beside_the_main_path() -> None:
    d = archdiagram.diagram(zoo.analyze_model("googlenet", aux=True), "GoogLeNet")
    aux = [f for f in d.frames if f.kind == "aux"]
    main = [f for f in d.frames if f.kind == "branches"]
    assert len(aux) == 2
    assert all(a.x >= max(m.x + m.w for m in main) for a in aux)
    _check_layout(d)


def test_a_split_block_draws_its_branches_and_says_it_splits() -> None:
    spec = ("input 28x28x116\nunit: split {\n branch { conv 58 1x1 }\n"
            " branch { conv 58 1x1; depthwise 3x3 pad 1; conv 58 1x1 }\n}")
    d = archdiagram.diagram(engine.analyze(spec), "unit")
    (frame,) = d.frames
    assert frame.kind == "branches" and len(frame.columns) == 2
    merge = next(b for b in d.boxes if b.kind == "merge")
    assert merge.label == "split, concat" and merge.sub == f"28x28x{58 + 58}"


def test_a_split_block_s_passing_share_is_an_arc_beside_its_branch() -> None:
    spec = "input 28x28x116\nunit: split { branch { } branch { conv 58 1x1; relu } }"
    d = archdiagram.diagram(engine.analyze(spec), "unit")
    assert len(d.arcs) == 1
    both = archdiagram.diagram(engine.analyze(
        "input 28x28x116\nunit: split { branch { conv 58 1x1 } branch { conv 58 1x1 } }"), "u")
    assert both.arcs == ()


NAMED = """\
input 32x32x3
conv 8 3x3 pad 1; enc1: relu
conv 16 3x3 stride 2 pad 1; relu
up: convtranspose 8 2x2 stride 2
cat: concat enc1 up
sum1: add enc1 up
head: conv 2 1x1 from cat
"""


def test_named_reads_are_labelled_and_drawn_as_arcs_to_the_right() -> None:
    a = engine.analyze(NAMED)
    d = archdiagram.diagram(a, "named")
    labels = [b.label for b in d.boxes]
    assert "concat enc1, up" in labels and "+ enc1, up" in labels
    assert "1x1 conv, 2 (from cat)" in labels
    right = max(b.x + b.w for b in d.boxes)
    # enc1 -> cat, enc1 -> sum1, up -> sum1, cat -> head: none is the box right above
    assert len(d.arcs) == 4
    for arc in d.arcs:
        xs = [float(t) for t in arc.d.split() if not t.isalpha()][0::2]
        assert xs[0] == right and xs[-1] == right and right < max(xs) <= d.width - 12


def test_a_graph_without_names_has_no_skip_arcs() -> None:
    d = archdiagram.diagram(engine.analyze("input 8x8x3\nconv 4 3x3\nconv 4 3x3"), "plain")
    assert d.arcs == ()
