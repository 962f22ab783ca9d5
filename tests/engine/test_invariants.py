"""Invariants: rows add up to totals, text and JSON forms agree, notations agree."""

from __future__ import annotations

from app.engine import Volume, analyze, analyze_layer
from app.engine.result import to_jsonable

from .conftest import ALEXNET_SLIDE, BOTTLENECK_INCEPTION

CANONICAL_ALEXNET = """\
input 227x227x3
conv1: conv 96 11x11 stride 4 pad 0
pool1: maxpool 3x3 stride 2
norm1: lrn
conv2: conv 256 5x5 pad 2
pool2: maxpool 3x3 stride 2
norm2: lrn
conv3: conv 384 3x3 pad 1
conv4: conv 384 3x3 pad 1
conv5: conv 256 3x3 pad 1
pool3: maxpool 3x3 stride 2
fc6: fc 4096
fc7: fc 4096
fc8: fc 1000
"""


def test_rows_add_up_to_the_totals() -> None:
    for spec in (ALEXNET_SLIDE, BOTTLENECK_INCEPTION):
        a = analyze(spec, dtype="float16", batch=8)
        t = a.totals
        assert t.params == sum(r.params for r in a.layers) == t.weights + t.biases
        assert t.macs == sum(r.macs for r in a.layers) and t.flops == 2 * t.macs
        assert t.activations == sum(r.activations for r in a.layers)
        assert t.activation_bytes == t.activations * 2 * 8
        assert t.param_bytes == t.params * 2
        assert t.training_bytes == t.activation_bytes + t.params * 2 * (1 + 1 + 1)
        for r in a.layers:
            assert r.params == r.weights + r.biases


def test_adam_keeps_two_optimizer_states() -> None:
    a = analyze(ALEXNET_SLIDE, optimizer="adam")
    assert a.totals.training_bytes == a.totals.activations * 4 + a.totals.params * 4 * (1 + 1 + 2)


def test_slide_listing_and_canonical_spec_agree() -> None:
    slide, canon = analyze(ALEXNET_SLIDE), analyze(CANONICAL_ALEXNET)
    assert slide.totals == canon.totals
    assert [r.output for r in slide.layers] == [r.output for r in canon.layers]
    assert [r.name for r in slide.layers][1:3] == ["CONV1", "MAX POOL1"]


def test_json_form_equals_text_form() -> None:
    obj = {"input": {"h": 28, "w": 28, "c": 256}, "layers": [{"op": "concat", "branches": [
        [{"op": "conv", "out": 128, "kernel": 1}],
        [{"op": "conv", "out": 64, "kernel": 1}, {"op": "conv", "out": 192, "kernel": 3, "pad": 1}],
        [{"op": "conv", "out": 64, "kernel": 1}, {"op": "conv", "out": 96, "kernel": [5, 5],
                                                  "pad": 2}],
        [{"op": "maxpool", "kernel": 3, "stride": 1, "pad": 1}, {"op": "conv", "out": 64,
                                                                  "kernel": 1}]]}]}
    assert analyze(obj).totals == analyze(BOTTLENECK_INCEPTION).totals
    assert to_jsonable(analyze(obj))["output"] == {"h": 28, "w": 28, "c": 480}


def test_block_labels_from_the_slides() -> None:
    a = analyze("input 224x224x3\n7x7 conv, 64, /2\npool\n3x3 conv, 64\n3x3 conv, 128, /2\n"
                "avg pool\nFC 1000\nSoftmax")
    shapes = [(r.op, r.output.h, r.output.c) for r in a.layers[1:]]
    assert shapes == [("conv", 112, 64), ("maxpool", 56, 64), ("conv", 56, 64),
                      ("conv", 28, 128), ("gap", 1, 128), ("fc", 1, 1000), ("softmax", 1, 1000)]


def test_rectangular_kernels_dilation_groups_and_ceil() -> None:
    a = analyze("input 17x17x768\nconv 192 1x7 pad 0x3\nconv 192 7x1 pad 3x0 groups 3\n"
                "conv 64 3x3 dilation 2 pad 2\nmaxpool 3x3 stride 2 ceil")
    r1, r2, r3, r4 = a.layers[1:]
    assert (r1.output.h, r1.output.w) == (17, 17) and r1.weights == 1 * 7 * 768 * 192
    assert r2.weights == 7 * 1 * (192 // 3) * 192
    assert r3.rf.size == r2.rf.size + (2 * (3 - 1) + 1 - 1) * 1
    assert r4.output.h == -(-(17 - 3) // 2) + 1 == 8


def test_analyze_layer_gives_one_row() -> None:
    r = analyze_layer("conv 96 11x11 stride 4", Volume(227, 227, 3))
    assert (r.output.h, r.output.c, r.weights, r.macs) == (55, 96, 11 * 11 * 3 * 96,
                                                            55 * 55 * 96 * 11 * 11 * 3)


def test_unnamed_layers_get_readable_unique_names() -> None:
    a = analyze("input 8x8x3\nconv 4 3x3 pad 1\nrelu\nconv1b: conv 4 3x3 pad 1\n"
                "repeat 2 { c: conv 4 1x1 }\nconcat { branch { conv 2 1x1 } branch { } }")
    names = [r.name for r in a.layers]
    assert names == ["input", "conv1", "relu1", "conv1b", "c.1", "c.2", "conv2", "concat1"]
    assert len(set(names)) == len(names)


def test_stochastic_depth_expectations() -> None:
    spec = ("input 8x8x4\nsurvival linear 0.5\nrepeat 2 { residual { conv 4 3x3 pad 1 } }\n"
            "fc 10")
    a = analyze(spec)
    per = 8 * 8 * 4 * 3 * 3 * 4
    p1, p2 = 1 - 1 / 2 * 0.5, 1 - 2 / 2 * 0.5
    assert a.totals.macs == 2 * per + 8 * 8 * 4 * 10
    assert a.totals.expected_macs == p1 * per + p2 * per + 8 * 8 * 4 * 10
    assert a.totals.depth == 3 and a.totals.expected_depth == p1 + p2 + 1


def test_spellings_students_use() -> None:
    a = analyze("input 32x32x3\nconv 16 3x3 pad 1\nbatch norm\nmax pool 2x2 stride 2\npool\n"
                "avg pool 2x2\nglobal average pool\ndense 10")
    assert [r.op for r in a.layers[1:]] == ["conv", "bn", "maxpool", "maxpool", "avgpool", "gap",
                                            "fc"]
    assert [r.output.h for r in a.layers[1:]] == [32, 32, 16, 8, 4, 1, 1]


def test_channels_first_input_is_flagged() -> None:
    a = analyze("input 3x224x224\nconv 8 3x3")
    assert "did you mean 224x224x3" in a.layers[0].warnings[0]
    assert a.warnings[0].layer == "input"
