"""The op registry's roles, and every reader of them agreeing: the table and the architecture
diagram fold the same ops, a squeeze-and-excitation ``scale`` is a merge everywhere, and every
weight layer (transposed convolutions included) counts as one in compare and the lecture."""

from __future__ import annotations

import pytest

from app import engine
from app.engine.optable import (
    FOLDED_OPS,
    MERGE_OPS,
    MERGE_ROW_OPS,
    OPS,
    WEIGHT_OPS,
    default,
    label,
    make_layer,
)
from app.engine.unitfield import graph_inputs, unit_field
from app.lecture import rows as lecture_rows
from app.present import archdiagram, compare
from app.present.rfdiagram.plane import branches
from app.present.table import Line, build_table

SE = """input 16x16x8
conv 8 3x3 pad 1
se: scale { gap; conv 2 1x1; relu; conv 8 1x1; sigmoid }
"""


def test_the_roles_are_the_registry_flags() -> None:
    assert WEIGHT_OPS == {"conv", "fc", "convtranspose", "sepconv"}
    assert MERGE_OPS == {"concat", "add", "mul"}
    assert MERGE_ROW_OPS == MERGE_OPS | {"join", "scale"}
    assert {"relu", "relu6", "gelu", "bn", "lrn", "dropout"} <= FOLDED_OPS
    assert not FOLDED_OPS & (WEIGHT_OPS | MERGE_OPS)
    assert all(label(op) for op in FOLDED_OPS)


def test_a_default_is_written_once_and_filled_in() -> None:
    layer = make_layer("upsample", {}, "up", 1)
    assert layer.attrs["factor"] == default("upsample", "factor") == 2
    assert make_layer("lrn", {}, "n", 1).attrs["size"] == OPS["lrn"].defaults["size"]


@pytest.mark.parametrize("act", sorted(FOLDED_OPS - {"prelu", "flatten"}))
def test_table_and_diagram_fold_the_same_ops(act: str) -> None:
    spec = f"input 8x8x4\nc1: conv 4 3x3 pad 1\n{act}\nc2: conv 4 3x3 pad 1\n"
    analysis = engine.analyze(spec)
    lines = [i for i in build_table(analysis).items if isinstance(i, Line)]
    c1 = next(line for line in lines if line.main.name == "c1")
    assert [r.op for r in c1.rows] == ["conv", act]
    assert c1.label == f"c1 + {label(act)}"
    items = archdiagram.tree(analysis.layers)
    box = next(i for i in items if isinstance(i, archdiagram.Layer) and i.rows[0].name == "c1")
    assert [r.op for r in box.rows] == ["conv", act]


def test_scale_is_a_merge_in_the_table_the_diagram_and_the_fields() -> None:
    analysis = engine.analyze(SE)
    merge = analysis.layers[-1]
    assert merge.op == "scale" and merge.op in MERGE_ROW_OPS
    (group,) = [i for i in build_table(analysis).items if not isinstance(i, Line)
                and getattr(i, "gid", None) == "se"]
    assert group.head is not None and group.head.main is merge and group.kind == "scale"
    (se,) = [i for i in archdiagram.tree(analysis.layers) if isinstance(i, archdiagram.Group)]
    assert se.merge is merge
    inputs = graph_inputs(engine.parse_spec(SE), analysis)
    assert branches(analysis.layers, inputs, merge.index, (0, 0))
    field = unit_field(engine.parse_spec(SE), analysis, "se", (3, 3))
    assert field.h is not None and (field.h.first, field.h.last) == (0, 15)  # gap: all of it


def test_a_transposed_convolution_is_a_weight_layer_in_compare_and_the_lecture() -> None:
    analysis = engine.analyze("input 8x8x4\nconv1: conv 8 3x3 pad 1\n"
                              "up2: convtranspose 4 2x2 stride 2\nrelu\n")
    up = analysis.layers[-2]
    assert compare.stage_of(up) == "up2"
    assert [r.name for r in lecture_rows.weight_rows(analysis)] == ["conv1", "up2"]
