"""Engine vs torch, op by op: every row's output volume, each layer's parameters and
multiply-adds, and the totals must agree exactly (``app.torchnet.compare`` lists disagreements).

Torch is the ground truth. A few cases also state the torch-side figure as arithmetic, so a
broken measurement cannot agree with a broken engine by accident.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from app.engine import parse_spec
from app.examples import ALEXNET_SLIDE
from app.torchnet import compare, measure

#: torch's note that an even kernel with pad same copies its input: true, and beside the point
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")

CONV = {
    "stride and pad": "input 32x32x3\nconv 16 3x3 stride 2 pad 1",
    "no pad, floors": "input 224x224x3\nconv 96 11x11 stride 4",
    "groups": "input 16x16x8\nconv 16 3x3 pad 1 groups 4",
    "depthwise": "input 16x16x8\nconv 8 3x3 pad 1 groups 8",
    "dilation": "input 20x20x3\nconv 4 3x3 dilation 2",
    "dilation and pad": "input 20x20x3\nconv 4 3x3 dilation 3 pad 2",
    "rectangular stride": "input 17x17x3\nconv 4 3x3 stride 2x1",
    "1x7": "input 17x17x8\nconv 4 1x7 pad 0x3",
    "7x1": "input 17x17x8\nconv 4 7x1 pad 3x0",
    "7x1 no pad": "input 17x12x8\nconv 4 7x1",
    "nobias": "input 10x10x3\nconv 8 3x3 nobias",
    "pad same 3x3": "input 10x10x3\nconv 8 3x3 pad same",
    "pad same 1x7": "input 10x10x3\nconv 8 1x7 pad same",
    "pad same even": "input 10x10x3\nconv 8 4x4 pad same",
    "pad same dilated": "input 10x10x3\nconv 8 3x3 dilation 2 pad same",
    "1x1": "input 7x7x64\nconv 32 1x1",
}

POOL = {
    "max": "input 55x55x96\nmaxpool 3x3 stride 2",
    "max default stride": "input 8x8x4\nmaxpool 2x2",
    "max ceil": "input 56x56x4\nmaxpool 3x3 stride 2 ceil",
    "max pad": "input 112x112x4\nmaxpool 3x3 stride 2 pad 1",
    "max dilated": "input 12x12x4\nmaxpool 3x3 stride 1 dilation 2",
    "max ceil, last window in the padding": "input 5x5x2\nmaxpool 3x3 stride 2 pad 1 ceil",
    "max ceil, window over the whole input": "input 1x1x1\nmaxpool 2x2 ceil",
    "avg": "input 7x7x8\navgpool 7x7",
    "avg pad ceil": "input 14x14x8\navgpool 3x3 stride 2 pad 1 ceil",
    "avg rectangular": "input 9x8x2\navgpool 3x2 stride 2x1",
    "adaptive": "input 13x13x8\nadaptiveavgpool 6x6",
    "adaptive rectangular": "input 5x7x2\nadaptiveavgpool 2x3",
    "adaptive upsamples": "input 3x3x2\nadaptiveavgpool 6x6",
    "gap": "input 7x7x16\ngap",
}

OTHER = {
    "fc": "input 6x6x4\nfc 10",
    "fc nobias": "input 6x6x4\nfc 10 nobias",
    "gap fc": "input 7x7x16\ngap\nfc 10",
    "fc fc": "input 1x1x8\nfc 10\nfc 5",
    "flatten fc": "input 4x4x3\nflatten\nfc 7",
    "lrn": "input 27x27x96\nlrn",
    "lrn size 3": "input 9x9x8\nlrn size 3",
    "bn": "input 9x9x8\nbn",
    "bn after fc": "input 3x3x2\nfc 6\nbn",
    "activations": "input 9x9x8\nrelu\ntanh\nsigmoid\ndropout 0.3\nsoftmax",
    "padchannels": "input 8x8x16\npadchannels 32",
}

BLOCKS = {
    "concat, naive inception (the lecture)": """input 28x28x256
concat {
  branch { conv 128 1x1 }
  branch { conv 192 3x3 pad 1 }
  branch { conv 96 5x5 pad 2 }
  branch { maxpool 3x3 stride 1 pad 1 }
}""",
    "concat, with identity branch": "input 8x8x4\n"
                                    "concat { branch { conv 4 1x1 } branch { } branch { relu } }",
    "dense": ("input 8x8x16\ndense { bn; relu; conv 32 1x1 nobias; bn; relu; "
              "conv 8 3x3 pad 1 nobias }"),
    "residual, identity": "input 8x8x16\n"
                          "residual { conv 16 3x3 pad 1; bn; relu; conv 16 3x3 pad 1; bn }\nrelu",
    "residual, projection": "input 8x8x16\n"
                            "residual { conv 32 3x3 stride 2 pad 1; bn; relu; "
                            "conv 32 3x3 pad 1; bn }"
                            " shortcut { conv 32 1x1 stride 2 nobias; bn }",
    "residual, option A": "input 8x8x16\n"
                          "residual { conv 32 3x3 stride 2 pad 1; bn; relu; conv 32 3x3 pad 1; bn }"
                          " shortcut { maxpool 1x1 stride 2; padchannels 32 }",
    "residual, survival": "input 8x8x16\nresidual survival 0.5 { conv 16 3x3 pad 1 }",
    "residual, relu first": "input 8x8x16\nresidual { relu; conv 16 3x3 pad 1 }",
    "join": "input 8x8x4\n"
            "join { branch { conv 8 3x3 pad 1 } branch { conv 8 3x3 pad 1; conv 8 3x3 pad 1 } }",
    "nested": """input 16x16x8
residual {
  concat { branch { conv 4 1x1 } branch { dense { conv 4 3x3 pad 1 } } }
  conv 8 1x1
}
repeat 2 { conv 8 3x3 pad 1; relu }""",
}

AUX = """input 14x14x32
conv 32 3x3 pad 1
aux { avgpool 5x5 stride 3; conv 16 1x1; relu; fc 64; relu; dropout 0.7; fc 10 }
conv 64 3x3 stride 2 pad 1
gap
fc 10"""

#: engine bugs reported to the lead (../engine-bugs.md); strict, so a fix shows up as XPASS
KNOWN_BUGS: dict[str, str] = {}


def _cases(table: dict[str, str]) -> list[object]:
    return [pytest.param(text, id=name, marks=[pytest.mark.xfail(reason=KNOWN_BUGS[name],
                                                                strict=True)]
                         if name in KNOWN_BUGS else [])
            for name, text in table.items()]


@pytest.mark.parametrize("text", _cases(CONV | POOL | OTHER | BLOCKS))
def test_engine_agrees_with_torch(text: str) -> None:
    assert compare(parse_spec(text)) == []


@pytest.mark.parametrize("aux", [False, True])
def test_aux_classifier_agrees_with_torch(aux: bool) -> None:
    assert compare(parse_spec(AUX), aux=aux) == []


def test_aux_adds_exactly_its_classifier() -> None:
    net = parse_spec(AUX)
    # aux input 14x14x32 -> avgpool 5x5/3 -> 4x4x32 -> conv 16 1x1 -> fc 64 -> fc 10
    aux_params = (32 * 16 + 16) + (4 * 4 * 16 * 64 + 64) + (64 * 10 + 10)
    aux_macs = 4 * 4 * 16 * 32 + 4 * 4 * 16 * 64 + 64 * 10
    off, on = measure(net), measure(net, aux=True)
    assert on.params - off.params == aux_params
    assert on.macs - off.macs == aux_macs


def test_alexnet_slide_agrees_with_torch() -> None:
    assert compare(parse_spec(ALEXNET_SLIDE)) == []


def test_alexnet_slide_torch_figures() -> None:
    seen = measure(parse_spec(ALEXNET_SLIDE))
    conv1 = 11 * 11 * 3 * 96 + 96  # the lecture's "35K"
    assert seen.layer_params["CONV1"] == conv1 == 34_944
    assert seen.layer_macs["CONV1"] == 55 * 55 * 96 * 11 * 11 * 3
    assert seen.output == (1, 1, 1000)


def test_naive_inception_torch_figures() -> None:
    seen = measure(parse_spec(BLOCKS["concat, naive inception (the lecture)"]))
    assert seen.output == (28, 28, 128 + 192 + 96 + 256)
    # the lecture's 854M ops
    assert seen.macs == 28 * 28 * 128 * 256 + 28 * 28 * 192 * 3 * 3 * 256 \
        + 28 * 28 * 96 * 5 * 5 * 256


def test_grouped_conv_torch_figures() -> None:
    seen = measure(parse_spec(CONV["groups"]))
    assert seen.params == 3 * 3 * (8 // 4) * 16 + 16
    assert seen.macs == 16 * 16 * 16 * 3 * 3 * (8 // 4)


def test_bn_counts_scale_and_shift_only() -> None:
    assert measure(parse_spec(OTHER["bn"])).params == 2 * 8
