"""The split block (ShuffleNet V2's unit): the input's channels shared equally among the
branches, each branch on its share, the outputs concatenated. Expected values are the
arithmetic; tests/torch/test_torch_new_ops.py and test_torch_rf.py check the same against torch."""

from __future__ import annotations

from typing import Any

from app.engine import analyze

UNIT = """\
input 28x28x116
unit: split {
  branch { }
  branch { conv 58 1x1 nobias; bn; relu; conv 58 3x3 pad 1 depthwise nobias; bn
           conv 58 1x1 nobias; bn; relu }
}
channelshuffle 2
"""


def test_each_branch_reads_its_share_of_the_channels() -> None:
    a = analyze(UNIT)
    rows = {r.name: r for r in a.layers}
    assert (rows["conv1"].input.c, rows["conv1"].output.c) == (116 // 2, 58)
    assert rows["conv1"].block == "unit/branch2"
    merge = rows["unit"]
    assert merge.op == "concat" and merge.attrs["kind"] == "split"
    assert (merge.input.c, merge.output.h, merge.output.c) == (116, 28, 58 + 58)
    assert merge.activations == 28 * 28 * 116  # torch.cat allocates its output
    pointwise = 58 * 58 * 1 * 1
    depthwise = 58 * 3 * 3
    assert a.totals.params == 2 * pointwise + depthwise + 3 * 2 * 58
    assert a.totals.macs == 28 * 28 * (2 * pointwise + depthwise)
    # the identity half adds no field; the other half's 3x3 does
    assert merge.rf.h.size == 3 and a.layers[-1].rf.h.size == 3


def test_three_equal_shares() -> None:
    a = analyze("input 8x8x12\nsplit { branch { conv 5 1x1 } branch { } branch { maxpool 3x3 "
                "stride 1 pad 1 } }")
    rows = {r.name: r for r in a.layers}
    assert rows["conv1"].input.c == 12 // 3 and rows["pool1"].input.c == 12 // 3
    assert a.output.c == 5 + 12 // 3 + 12 // 3
    assert a.totals.params == 4 * 5 + 5


def test_json_form_equals_text_form() -> None:
    obj: dict[str, Any] = {"input": "28x28x116", "layers": [
        {"op": "split", "name": "unit", "branches": [[], [
            {"op": "conv", "out": 58, "kernel": 1, "bias": False}, {"op": "bn"}, {"op": "relu"},
            {"op": "conv", "out": 58, "kernel": 3, "pad": 1, "groups": 58, "bias": False},
            {"op": "bn"},
            {"op": "conv", "out": 58, "kernel": 1, "bias": False}, {"op": "bn"}, {"op": "relu"},
        ]]},
        {"op": "channelshuffle", "groups": 2}]}
    j, t = analyze(obj), analyze(UNIT)
    assert j.totals == t.totals
    assert [(r.name, r.output) for r in j.layers] == [(r.name, r.output) for r in t.layers]
