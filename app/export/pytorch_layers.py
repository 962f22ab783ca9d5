"""PyTorch code for each engine op: one function a layer, returning a module expression.

``LAYER_CODE`` has exactly the registry's ops (``app.engine.optable.OPS``;
``tests/torch/test_registry_tables.py`` names any it leaves out). Channel counts and features come from the
layer's analysed row, so the code names them (``nn.Conv2d(3, 96, kernel_size=11, stride=4)``).
"""

from __future__ import annotations

from collections.abc import Callable

from app.engine.graph import Layer
from app.engine.optable import setting
from app.engine.result import LayerRow

__all__ = ["LAYER_CODE", "OP_HELPERS", "LayerCode"]

LayerCode = Callable[[Layer, LayerRow, bool, bool], str]
"""(layer, its row, input is flat (N, C), may work in place) -> a module expression."""


def _pair(layer: Layer, first: str, second: str, default: int) -> str:
    """``3`` or ``(1, 7)``, as torch accepts either."""
    a, b = int(layer.get(first, default)), int(layer.get(second, default))
    return str(a) if a == b else f"({a}, {b})"


def _args(*parts: str | None) -> str:
    return ", ".join(p for p in parts if p)


def _opt(name: str, value: str, default: str) -> str | None:
    return None if value == default else f"{name}={value}"


def _conv(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    padding = '"same"' if layer.get("same", False) else _pair(layer, "ph", "pw", 0)
    depthwise = bool(layer.get("depthwise", False))
    groups = str(row.input.c) if depthwise else str(layer.get("groups", 1))
    return "nn.Conv2d(" + _args(
        str(row.input.c), str(row.output.c),
        f"kernel_size={_pair(layer, 'kh', 'kw', 1)}",
        _opt("stride", _pair(layer, "sh", "sw", 1), "1"), _opt("padding", padding, "0"),
        _opt("dilation", _pair(layer, "dh", "dw", 1), "1"), _opt("groups", groups, "1"),
        None if layer.get("bias", True) else "bias=False") + ")"


def _sepconv(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    padding = '"same"' if layer.get("same", False) else _pair(layer, "ph", "pw", 0)
    c = row.input.c
    depthwise = "nn.Conv2d(" + _args(
        str(c), str(c), f"kernel_size={_pair(layer, 'kh', 'kw', 1)}",
        _opt("stride", _pair(layer, "sh", "sw", 1), "1"), _opt("padding", padding, "0"),
        _opt("dilation", _pair(layer, "dh", "dw", 1), "1"), f"groups={c}", "bias=False") + ")"
    pointwise = "nn.Conv2d(" + _args(str(c), str(row.output.c), "kernel_size=1",
                                      None if layer.get("bias", True) else "bias=False") + ")"
    return f"nn.Sequential({depthwise}, {pointwise})"


def _crop(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    return f"CenterCrop({row.output.h}, {row.output.w})"


def _merge(helper: str) -> LayerCode:
    """A merge of named rows: a small module whose forward takes them all."""
    def code(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
        return f"{helper}()"

    return code


def _convtranspose(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    return "nn.ConvTranspose2d(" + _args(
        str(row.input.c), str(layer.get("out")),
        f"kernel_size={_pair(layer, 'kh', 'kw', 1)}",
        _opt("stride", _pair(layer, "sh", "sw", 1), "1"),
        _opt("padding", _pair(layer, "ph", "pw", 0), "0"),
        _opt("output_padding", _pair(layer, "oph", "opw", 0), "0"),
        _opt("groups", str(layer.get("groups", 1)), "1"),
        None if layer.get("bias", True) else "bias=False",
        _opt("dilation", _pair(layer, "dh", "dw", 1), "1")) + ")"


def _pool(cls: str, layer: Layer, dilation: bool) -> str:
    return f"nn.{cls}(" + _args(
        f"kernel_size={_pair(layer, 'kh', 'kw', 1)}", f"stride={_pair(layer, 'sh', 'sw', 1)}",
        _opt("padding", _pair(layer, "ph", "pw", 0), "0"),
        _opt("dilation", _pair(layer, "dh", "dw", 1), "1") if dilation else None,
        "ceil_mode=True" if layer.get("ceil", False) else None) + ")"


def _maxpool(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    return _pool("MaxPool2d", layer, dilation=True)


def _avgpool(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    return _pool("AvgPool2d", layer, dilation=False)


def _adaptiveavgpool(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    return f"nn.AdaptiveAvgPool2d({_pair(layer, 'oh', 'ow', 1)})"


def _gap(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    return "nn.AdaptiveAvgPool2d(1)"


def _fc(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    features = row.input.h * row.input.w * row.input.c
    bias = "" if layer.get("bias", True) else ", bias=False"
    return f"nn.Linear({features}, {layer.get('out')}{bias})"


def _relu(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    return "nn.ReLU(inplace=True)" if in_place else "nn.ReLU()"


def _tanh(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    return "nn.Tanh()"


def _sigmoid(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    return "nn.Sigmoid()"


def _bn(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    return f"nn.BatchNorm{'1' if flat else '2'}d({row.input.c})"


def _lrn(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    return f"nn.LocalResponseNorm({layer.get('size', 5)})"


def _dropout(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    return f"nn.Dropout({layer.get('p', 0.5)})"


def _softmax(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    return "nn.Softmax(dim=1)"


def _flatten(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    return "nn.Flatten()"


def _padchannels(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    return f"PadChannels({layer.get('out')})"


def _module(expr: str, inplace: bool = False) -> LayerCode:
    """An op whose module takes no argument, or only ``inplace``."""
    def code(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
        return f"{expr}(inplace=True)" if inplace and in_place else f"{expr}()"

    return code


def _leakyrelu(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    slope = setting(layer, "slope")
    return f"nn.LeakyReLU({slope}, inplace=True)" if in_place else f"nn.LeakyReLU({slope})"


def _prelu(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    return f"nn.PReLU({layer.get('out', 1)})"


def _layernorm(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    return f"LayerNorm2d({row.input.c})"


def _layerscale(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    return f"LayerScale({row.input.c})"


def _upsample(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    factor = setting(layer, "factor")
    if setting(layer, "mode") == "bilinear":
        return f'nn.Upsample(scale_factor={factor}, mode="bilinear", align_corners=False)'
    return f"nn.Upsample(scale_factor={factor})"


def _pixelshuffle(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    return f"nn.PixelShuffle({layer.get('factor', 1)})"


def _channelshuffle(layer: Layer, row: LayerRow, flat: bool, in_place: bool) -> str:
    return f"nn.ChannelShuffle({layer.get('groups', 1)})"


#: op -> code, one per registry op (tests/torch/test_registry_tables.py)
LAYER_CODE: dict[str, LayerCode] = {
    "conv": _conv, "maxpool": _maxpool, "avgpool": _avgpool,
    "adaptiveavgpool": _adaptiveavgpool, "gap": _gap, "fc": _fc, "relu": _relu,
    "tanh": _tanh, "sigmoid": _sigmoid, "bn": _bn, "lrn": _lrn, "dropout": _dropout,
    "softmax": _softmax, "flatten": _flatten, "padchannels": _padchannels,
    "relu6": _module("nn.ReLU6", inplace=True), "hardswish": _module("nn.Hardswish", True),
    "hardsigmoid": _module("nn.Hardsigmoid"), "silu": _module("nn.SiLU", inplace=True),
    "gelu": _module("nn.GELU"), "leakyrelu": _leakyrelu, "prelu": _prelu,
    "layernorm": _layernorm, "layerscale": _layerscale, "identity": _module("nn.Identity"),
    "convtranspose": _convtranspose, "upsample": _upsample, "channelshuffle": _channelshuffle,
    "pixelshuffle": _pixelshuffle,
    "sepconv": _sepconv, "crop": _crop,
    "concat": _merge("Cat"), "add": _merge("Sum"), "mul": _merge("Product"),
}
#: ops whose module is a small class of the generated file (app.export.pytorch_blocks)
OP_HELPERS = {"padchannels": "PadChannels", "layernorm": "LayerNorm2d",
              "layerscale": "LayerScale", "crop": "CenterCrop", "concat": "Cat",
              "add": "Sum", "mul": "Product"}

