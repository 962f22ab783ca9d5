"""The lecture's worked examples (rows of shared/reference/lecture-numbers.md), as arithmetic."""

from __future__ import annotations

from app.engine import analyze

from .conftest import ALEXNET_SLIDE, BOTTLENECK_INCEPTION, NAIVE_INCEPTION


def row(spec: str, name: str):  # type: ignore[no-untyped-def]
    return next(r for r in analyze(spec).layers if r.name == name)


def test_row1_alexnet_conv1_gives_55x55x96() -> None:
    conv1 = row(ALEXNET_SLIDE, "CONV1")
    assert (conv1.output.h, conv1.output.w, conv1.output.c) == ((227 - 11) // 4 + 1, 55, 96)
    assert conv1.formulas["h"] == "(227 - 11 + 2*0)/4 + 1 = 55"
    assert conv1.macs == 55 * 55 * 96 * 11 * 11 * 3


def test_row2_conv1_parameters() -> None:
    conv1 = row(ALEXNET_SLIDE, "CONV1")
    assert conv1.weights == 11 * 11 * 3 * 96
    assert conv1.biases == 96
    assert conv1.params == 11 * 11 * 3 * 96 + 96
    assert conv1.formulas["weights"] == "11*11*3*96 = 34,848"


def test_row3_pool1_gives_27x27x96_without_parameters() -> None:
    pool1 = row(ALEXNET_SLIDE, "MAX POOL1")
    assert (pool1.output.h, pool1.output.w, pool1.output.c) == ((55 - 3) // 2 + 1, 27, 96)
    assert pool1.params == 0


def test_row4_224_input_is_floored_with_a_warning() -> None:
    a = analyze("input 224x224x3\nconv1: conv 96 11x11 stride 4 pad 0")
    conv1 = a.layers[1]
    assert (conv1.output.h, conv1.output.w) == ((224 - 11) // 4 + 1, (224 - 11) // 4 + 1)
    assert conv1.output.h == 54
    assert any("54.25" in w and "227" in w for w in conv1.warnings)
    assert a.warnings and a.warnings[0].layer == "conv1" and a.warnings[0].line == 2


def test_row6_three_stacked_3x3_have_the_field_of_one_7x7() -> None:
    stacked = analyze("input 32x32x16\nrepeat 3 { conv 16 3x3 pad 1; relu }")
    single = analyze("input 32x32x16\nconv 16 7x7 pad 3")
    assert stacked.layers[-1].rf.size == 1 + 3 * (3 - 1) == single.layers[-1].rf.size == 7
    assert stacked.layers[-1].rf.jump == 1


def test_row7_parameters_27c2_vs_49c2() -> None:
    c = 64
    stacked = analyze(f"input 32x32x{c}\nrepeat 3 {{ conv {c} 3x3 pad 1 nobias }}")
    single = analyze(f"input 32x32x{c}\nconv {c} 7x7 pad 3 nobias")
    assert stacked.totals.params == 3 * (3 * 3 * c * c) == 27 * c * c
    assert single.totals.params == 7 * 7 * c * c == 49 * c * c


def test_row12_13_naive_inception() -> None:
    a = analyze(NAIVE_INCEPTION)
    assert (a.output.h, a.output.w, a.output.c) == (28, 28, 128 + 192 + 96 + 256)
    assert a.totals.macs == (28 * 28 * 128 * 1 * 1 * 256 + 28 * 28 * 192 * 3 * 3 * 256
                             + 28 * 28 * 96 * 5 * 5 * 256)
    assert a.totals.macs == 854_196_224


def test_row14_bottleneck_inception_true_sum_not_358m() -> None:
    a = analyze(BOTTLENECK_INCEPTION)
    assert (a.output.h, a.output.w, a.output.c) == (28, 28, 128 + 192 + 96 + 64)
    terms = [28 * 28 * 64 * 1 * 1 * 256, 28 * 28 * 64 * 1 * 1 * 256, 28 * 28 * 128 * 1 * 1 * 256,
             28 * 28 * 192 * 3 * 3 * 64, 28 * 28 * 96 * 5 * 5 * 64, 28 * 28 * 64 * 1 * 1 * 256]
    assert a.totals.macs == sum(terms) == 271_351_808
    slide_figure = sum(terms) - 28 * 28 * 192 * 3 * 3 * 64 + 28 * 28 * 192 * 3 * 3 * 128
    assert abs(slide_figure - 358_000_000) < 1_000_000  # the slip: the 3x3 reading 128 channels


def test_row17_resnet_bottleneck_block() -> None:
    a = analyze("input 28x28x256\nresidual { conv 64 1x1; relu; conv 64 3x3 pad 1; relu; "
                "conv 256 1x1 }\nrelu")
    assert (a.output.h, a.output.w, a.output.c) == (28, 28, 256)
    assert a.totals.weights == 256 * 64 + 3 * 3 * 64 * 64 + 64 * 256
    assert a.totals.biases == 64 + 64 + 256
    assert a.totals.macs == 28 * 28 * (256 * 64 + 3 * 3 * 64 * 64 + 64 * 256)
    add = next(r for r in a.layers if r.op == "add")
    assert add.activations == 28 * 28 * 256


def test_depth_counts_conv_and_fc_on_the_longest_path() -> None:
    assert analyze(ALEXNET_SLIDE).totals.depth == 5 + 3
    assert analyze(BOTTLENECK_INCEPTION).totals.depth == 2
    assert analyze(BOTTLENECK_INCEPTION).totals.weight_layers == 6
