"""Separable convs, centre crops, pools with 'pad same', 'conv dw' and the slides' ceil mode,
each against torch: shapes, parameters and multiply-adds through the torch builder (per row
and in total, FlopCounterMode / 2), and receptive fields by the gradient."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from app import zoo
from app.engine import SpecError, analyze, analyze_network, parse_spec
from app.torchnet import compare
from tests.torch.gradient import field, support

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")

SPECS = [
    # Xception's entry flow block: separable convs, a strided max pool with pad same, a 1x1
    # strided shortcut
    "input 38x38x16\nresidual {\n sepconv 32 3x3 pad same nobias; bn; relu\n"
    " sepconv 32 3x3 pad same nobias; bn\n maxpool 3x3 stride 2 pad same\n}"
    " shortcut { conv 32 1x1 stride 2 nobias; bn }",
    "input 17x20x6\nsepconv 8 5x3 stride 2 pad same\nsepconv 4 3x3 dilation 2 pad 1,2,0,1\n"
    "sepconv 5 2x2 stride 2",
    "input 16x16x8\nconv dw 3x3 pad 1\nconv dw 3x3 stride 2 pad same nobias\nconv 16 1x1",
    "input 15x16x4\nmaxpool 3x3 stride 1 pad same\nmaxpool 2x2 stride 1 pad same\n"
    "avgpool 4x4 stride 1 pad same\navgpool 3x3 stride 2 pad same\nmaxpool 2x3 stride 2 pad same",
    "input 20x21x3\nconv 4 3x3\ncrop 9x16\ncrop 8x8\nconv 2 1x1",
]


@pytest.mark.parametrize("spec", SPECS)
def test_new_layers_agree_with_torch(spec: str) -> None:
    assert compare(parse_spec(spec)) == []


def test_a_separable_conv_is_one_row_whose_working_names_both_parts() -> None:
    row = analyze("input 16x16x8\nsepconv 16 3x3 pad 1").layers[1]
    assert row.weights == 3 * 3 * 8 + 8 * 16 and row.biases == 16
    assert row.macs == 16 * 16 * 8 * 3 * 3 + 16 * 16 * 8 * 16
    assert row.activations == 16 * 16 * 8 + 16 * 16 * 16  # the depthwise result is kept too
    for key in ("weights", "macs"):
        assert row.working[key].parts[0].aside == "depthwise + pointwise"
    assert analyze("input 8x8x3\nsepconv 4 3x3 pad 1\nconv 4 3x3").totals.depth == 2


def test_conv_dw_is_depthwise_and_spelled_as_mobilenet_writes_it() -> None:
    one = analyze("input 16x16x8\nconv dw 3x3 stride 2 pad 1").layers[1]
    two = analyze("input 16x16x8\ndepthwise 3x3 stride 2 pad 1").layers[1]
    assert (one.params, one.macs, one.output) == (two.params, two.macs, two.output)
    assert one.params == 3 * 3 * 8 + 8


def test_zfnets_printed_sizes_are_written_as_the_slides_write_them() -> None:
    slides = ("[224x224x3] INPUT\n"
              "[110x110x96] CONV1: 96 7x7 filters at stride 2, pad 1\n"
              "[55x55x96] MAX POOL1: 3x3 filters at stride 2, ceil\n"
              "[55x55x96] NORM1: Normalization layer\n"
              "[26x26x256] CONV2: 256 5x5 filters at stride 2, pad 0\n"
              "[13x13x256] MAX POOL2: 3x3 filters at stride 2 ceil mode\n")
    a = analyze(slides)
    assert all(c.ok for r in a.layers for c in r.claims), [c for r in a.layers for c in r.claims]
    zf = {r.name: r.output for r in analyze(zoo.model_spec("zfnet")).layers}
    assert [r.output for r in a.layers[1:]] == [zf["conv1"], zf["pool1"], zf["norm1"],
                                                zf["conv2"], zf["pool2"]]


@pytest.mark.parametrize("spec, words", [
    ("input 8x8x3\nmaxpool 3x3 stride 2 pad same ceil", "not both"),
    ("input 8x8x3\ncrop 9x4", "larger than its input"),
    ("input 8x8x3\nsepconv 3x3", "pointwise filters"),
    ("input 8x8x3\ncrop", "crop needs a size"),
])
def test_new_layer_errors(spec: str, words: str) -> None:
    with pytest.raises(SpecError, match=words):
        analyze(spec)


@pytest.mark.parametrize("spec", [
    "input 24x24x2\nsepconv 2 3x3 stride 2 pad same\nsepconv 2 5x5 pad 2",
    "input 23x24x2\navgpool 2x2 stride 1 pad same\navgpool 3x3 stride 2 pad same\nconv 2 3x3",
    "input 30x30x2\nconv 2 3x3\ncrop 17x20\nconv 2 3x3 stride 2",
    "input 8x8x1\nconv 1 3x3\nflatten\nfc 10",
    "input 12x10x2\nconv 2 3x3 stride 2\navgpool 2x2\nflatten\nfc 3",
    "input 12x12x2\nconv 2 3x3\ngap\nfc 4",
])
def test_new_layers_fields_are_the_gradients(spec: str) -> None:
    net = parse_spec(spec)
    last = analyze_network(net).layers[-1]
    spans = support(net)
    got = []
    for ax, n_out, n in ((last.rf.h, last.output.h, net.input.h),
                         (last.rf.w, last.output.w, net.input.w)):
        centre = ax.start + (n_out // 2) * ax.jump
        lo, hi = max(centre - (ax.size - 1) / 2, 0), min(centre + (ax.size - 1) / 2, n - 1)
        got.append((int(hi - lo + 1), (lo + hi) / 2))
    assert tuple(got) == tuple(field(s) for s in spans)
