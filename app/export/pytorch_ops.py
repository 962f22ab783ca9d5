"""PyTorch code for each engine op: one function a layer, returning a module expression.

``LAYER_CODE`` has exactly the engine's ops (``app.engine.optable.OPS``; a meta-test checks it
against the op table and ``app.torchnet.BUILDERS``). Channel counts and features come from the
layer's analysed row, so the code names them (``nn.Conv2d(3, 96, kernel_size=11, stride=4)``).
"""

from __future__ import annotations

from collections.abc import Callable

from app.engine.graph import Layer
from app.engine.result import LayerRow

__all__ = ["FLATTENING", "LAYER_CODE", "PASS_THROUGH", "SPATIAL", "LayerCode"]

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
    return "nn.Conv2d(" + _args(
        str(row.input.c), str(layer.get("out")),
        f"kernel_size={_pair(layer, 'kh', 'kw', 1)}",
        _opt("stride", _pair(layer, "sh", "sw", 1), "1"), _opt("padding", padding, "0"),
        _opt("dilation", _pair(layer, "dh", "dw", 1), "1"),
        _opt("groups", str(layer.get("groups", 1)), "1"),
        None if layer.get("bias", True) else "bias=False") + ")"


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


#: op -> code; its keys are the engine's ops (a meta-test checks)
LAYER_CODE: dict[str, LayerCode] = {
    "conv": _conv, "maxpool": _maxpool, "avgpool": _avgpool,
    "adaptiveavgpool": _adaptiveavgpool, "gap": _gap, "fc": _fc, "relu": _relu,
    "tanh": _tanh, "sigmoid": _sigmoid, "bn": _bn, "lrn": _lrn, "dropout": _dropout,
    "softmax": _softmax, "flatten": _flatten, "padchannels": _padchannels,
}
#: ops after which the tensor is (N, C): a vector
FLATTENING = frozenset({"fc", "flatten"})
#: ops that need (N, C, H, W); a vector is given back its 1x1 first
SPATIAL = frozenset({"conv", "maxpool", "avgpool", "adaptiveavgpool", "gap", "lrn",
                      "padchannels"})
#: ops that may hand back their input itself (no new tensor), as in app.torchnet
PASS_THROUGH = frozenset({"flatten", "dropout"})
