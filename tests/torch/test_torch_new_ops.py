"""The layers modern CNNs are built from, each against torch: shapes, parameters and
multiply-adds through the torch builder; receptive fields by the gradient; pasted PyTorch lines
parsed exactly as the modules they name."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn

from app.engine import analyze, parse_spec
from app.torchnet import compare

SPECS = [
    "input 16x16x8\nrelu6\nhardswish\nhardsigmoid\nsilu\ngelu\nleakyrelu 0.2\nidentity\nfc 10",
    "input 16x16x8\nprelu\nprelu 8\nconv 16 1x1\nprelu channels 16",
    "input 16x16x8\ndepthwise 3x3 pad 1\nconv 16 3x3 stride 2 pad 1 depthwise\ndw 5x5 pad 2",
    "input 16x16x12\nchannelshuffle 3\nconv 12 1x1 groups 4\nchannelshuffle 4",
    "input 16x16x16\nse: scale { gap; conv 4 1x1; relu; conv 16 1x1; hardsigmoid }\nrelu",
    "input 16x16x16\nscale { conv 16 1x1; sigmoid }",  # a spatial gate of the input's own shape
    "input 8x8x16\nconvtranspose 8 2x2 stride 2\nconvtranspose 4 3x3 stride 2 pad 1 outpad 1",
    "input 7x9x6\nconvtranspose 6 3x5 stride 3x2 pad 1x2 outpad 2x1 groups 3 dilation 2 nobias",
    "input 8x8x4\nupsample 2\nupsample 3 bilinear\nconv 4 3x3",
    # per-side padding and TensorFlow's SAME at stride 2 (EfficientNet as TF builds it)
    "input 225x224x3\nconv 8 3x3 stride 2 pad same\nconv 8 3x3 stride 2 pad 0,1\n"
    "maxpool 3x3 stride 2 pad 1,0,0,1\navgpool 2x2 stride 2 pad 0,1,1,0\nconv 4 5x5 pad 1,2,0,3",
    # a ConvNeXt block: 7x7 depthwise, LayerNorm over channels, 4x MLP as 1x1 convs, layer scale
    "input 14x14x32\nresidual {\n depthwise 7x7 pad 3; layernorm; conv 128 1x1; gelu\n"
    " conv 32 1x1; layerscale\n}",
    # ShuffleNet V2's basic unit: half the channels pass, half run
    # 1x1, 3x3 depthwise, 1x1; then the halves are shuffled together
    "input 28x28x116\nsplit { branch { } branch { conv 58 1x1 nobias; bn; relu; conv 58 3x3 pad 1"
    " depthwise nobias; bn; conv 58 1x1 nobias; bn; relu } }\nchannelshuffle 2",
    "input 9x9x12\ns: split {\n branch { conv 5 3x3 stride 2 }\n branch { maxpool 3x3 stride 2 }\n"
    " branch { relu; conv 2 3x3 stride 2; relu }\n}\nfc 10",
    # MobileNetV2's inverted residual with squeeze-and-excitation (MobileNetV3's)
    "input 28x28x24\nresidual {\n conv 72 1x1 nobias; bn; hardswish\n"
    " depthwise 3x3 pad 1 nobias; bn; hardswish\n"
    " scale { gap; conv 24 1x1; relu; conv 72 1x1; hardsigmoid }\n conv 24 1x1 nobias; bn\n}",
]


@pytest.mark.parametrize("spec", SPECS)
def test_new_ops_agree_with_torch(spec: str) -> None:
    assert compare(parse_spec(spec)) == []


def _support(spec: str, unit: int) -> tuple[int, int]:
    """Input rows whose gradient output row ``unit`` has (all weights positive, input ones)."""
    from app.torchnet import build_module

    net = parse_spec(spec)
    module = build_module(net)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(p.abs() + 0.05)
    x = torch.ones(1, net.input.c, net.input.h, net.input.w, requires_grad=True)
    y = module(x)
    y[0, :, unit, y.shape[3] // 2].sum().backward()
    assert x.grad is not None
    rows = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 3))).flatten()
    return int(rows.min()), int(rows.max())


@pytest.mark.parametrize("spec", [
    "input 32x32x2\nconvtranspose 2 3x3 stride 2 pad 1",
    "input 32x32x2\nconvtranspose 2 4x4 stride 2 pad 1",
    "input 32x32x2\nconvtranspose 2 5x5 stride 2 pad 2",
    "input 32x32x2\nconvtranspose 2 2x2 stride 2",
    "input 32x32x2\nconvtranspose 2 3x3 stride 1 pad 1",
    "input 32x32x2\nupsample 2",
    "input 32x32x2\nupsample 3",
    "input 32x32x2\nupsample 2 bilinear",
])
def test_the_field_of_an_upsampling_layer_is_its_widest_unit(spec: str) -> None:
    row = analyze(spec).layers[1]
    widths = [hi - lo + 1 for lo, hi in (_support(spec, u) for u in range(20, 28))]
    assert row.rf.h.size == max(widths), widths
    step = row.attrs.get("sh", row.attrs.get("factor"))
    assert row.rf.h.jump == 1 / step  # output units step by 1/s (or 1/F) of an input unit


@pytest.mark.parametrize("spec", ["input 32x32x2\nconvtranspose 2 3x3 stride 2 pad 1",
                                  "input 32x32x2\nconvtranspose 2 4x4 stride 2 pad 1",
                                  "input 32x32x2\nupsample 2 bilinear"])
def test_the_centre_of_an_upsampled_field_follows_the_sampling_position(spec: str) -> None:
    ax = analyze(spec).layers[1].rf.h
    for unit in range(20, 28):
        lo, hi = _support(spec, unit)
        assert abs((lo + hi) / 2 - (ax.start + unit * ax.jump)) <= 0.5, unit


LINES = [
    ("nn.Conv2d(3, 64, 3, stride=2, padding=1)", "input 32x32x3"),
    ("(conv1): Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)",
     "input 64x64x3"),
    ("nn.Conv2d(8, 16, kernel_size=3, groups=4, dilation=2, padding='same')", "input 20x20x8"),
    ("nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)", "input 10x10x8"),
    ("nn.MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)",
     "input 17x17x4"),
    ("nn.MaxPool2d(3, 2, ceil_mode=True)", "input 16x16x4"),
    ("nn.AvgPool2d(2)", "input 16x16x4"),
    ("nn.AdaptiveAvgPool2d((2, 3))", "input 16x16x4"),
    ("nn.BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)",
     "input 8x8x64"),
    ("nn.Linear(in_features=48, out_features=10, bias=True)", "input 4x4x3"),
    ("nn.Linear(12, 5, bias=False)", "input 1x1x12"),
    ("nn.ReLU(inplace=True)", "input 4x4x3"),
    ("nn.PReLU(num_parameters=3)", "input 4x4x3"),
    ("nn.LeakyReLU(0.2, inplace=True)", "input 4x4x3"),
    ("nn.Upsample(scale_factor=2, mode='bilinear')", "input 4x4x3"),
    ("nn.ChannelShuffle(3)", "input 4x4x6"),
]


@pytest.mark.parametrize("line, head", LINES)
def test_pasted_module_lines_are_read_as_the_modules_they_name(line: str, head: str) -> None:
    row = analyze(f"{head}\n{line}").layers[1]
    source = line.split("): ", 1)[-1]
    module = eval(source if source.startswith("nn.") else f"nn.{source}", {"nn": nn})
    module.eval()
    c, h, w = row.input.c, row.input.h, row.input.w
    x = torch.zeros(1, c, h, w)
    y = module(x.flatten(1) if isinstance(module, nn.Linear) else x)
    shape = tuple(y.shape[1:]) if y.dim() == 4 else (y.shape[1], 1, 1)
    assert (row.output.c, row.output.h, row.output.w) == shape
    assert row.params == sum(p.numel() for p in module.parameters())
