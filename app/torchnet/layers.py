"""One module factory per registry op: (layer, may work in place) -> an ``nn.Module``.

:data:`LAYER_MODULES` has exactly the registry's ops (``tests/torch/test_registry_tables.py``
names any it leaves out); its defaults come from the registry (``setting``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from app.engine.graph import Layer
from app.engine.optable import setting
from app.torchnet.modules import (
    AddInputs,
    ChannelsLayerNorm,
    ConcatInputs,
    Crop,
    Depthwise,
    FullyConnected,
    LayerScale,
    MulInputs,
    PadChannels,
    SidePad,
    ToVector,
    flag_attr,
    int_attr,
    pair_attr,
)

ModuleFactory = Callable[[Layer, bool], nn.Module]
"""(layer, in_place_allowed) -> a module mapping (N, C, H, W) to (N, C', H', W')."""


def _needs_side_pad(layer: Layer) -> bool:
    stride = pair_attr(layer, "sh", "sw", 1)
    return ("ph2" in layer.attrs or "pw2" in layer.attrs
            or (flag_attr(layer, "same", False) and stride != (1, 1)))


def _conv(layer: Layer, in_place: bool) -> nn.Module:
    if _needs_side_pad(layer):
        plain = Layer(layer.op, layer.name, layer.line,
                      {k: v for k, v in layer.attrs.items()
                       if k not in ("same", "ph", "pw", "ph2", "pw2")}, layer.claims)
        return nn.Sequential(SidePad(layer, 0.0), _conv(plain, in_place))
    # torch accepts padding="same" (stride 1 only), though its stubs say int or tuple
    padding: Any = "same" if flag_attr(layer, "same", False) else pair_attr(layer, "ph", "pw", 0)
    if flag_attr(layer, "depthwise", False):
        return Depthwise(int_attr(layer, "out", 0), {
            "kernel_size": pair_attr(layer, "kh", "kw", 1), "stride": pair_attr(layer, "sh", "sw", 1),
            "padding": padding, "dilation": pair_attr(layer, "dh", "dw", 1),
            "bias": flag_attr(layer, "bias", True)})
    return nn.LazyConv2d(
        int_attr(layer, "out", 0), pair_attr(layer, "kh", "kw", 1), stride=pair_attr(layer, "sh", "sw", 1),
        padding=padding, dilation=pair_attr(layer, "dh", "dw", 1), groups=int_attr(layer, "groups", 1),
        bias=flag_attr(layer, "bias", True))


def _pool_args(layer: Layer) -> dict[str, Any]:
    kernel = pair_attr(layer, "kh", "kw", 1)
    stride = (int_attr(layer, "sh", kernel[0]), int_attr(layer, "sw", kernel[1]))
    return {"kernel_size": kernel, "stride": stride, "padding": pair_attr(layer, "ph", "pw", 0),
            "ceil_mode": flag_attr(layer, "ceil", False)}


def _unpadded(layer: Layer) -> Layer:
    attrs = {k: v for k, v in layer.attrs.items()
             if k not in ("ph", "pw", "ph2", "pw2", "same")}
    return Layer(layer.op, layer.name, layer.line, attrs, layer.claims)


def _pool_side_pad(layer: Layer) -> bool:
    """A pool pads with -inf (max) or zeros (avg) as its own module when torch's pool cannot:
    per side, or 'pad same' (whose two sides differ for an even kernel)."""
    return _needs_side_pad(layer) or flag_attr(layer, "same", False)


def _maxpool(layer: Layer, in_place: bool) -> nn.Module:
    if _pool_side_pad(layer):
        return nn.Sequential(SidePad(layer, float("-inf")), _maxpool(_unpadded(layer), in_place))
    return nn.MaxPool2d(**_pool_args(layer), dilation=pair_attr(layer, "dh", "dw", 1))


def _avgpool(layer: Layer, in_place: bool) -> nn.Module:
    if _pool_side_pad(layer):
        return nn.Sequential(SidePad(layer, 0.0), _avgpool(_unpadded(layer), in_place))
    if pair_attr(layer, "dh", "dw", 1) != (1, 1):
        raise ValueError(f"{layer.name}: AvgPool2d has no dilation")
    return nn.AvgPool2d(**_pool_args(layer))


class _Separable(nn.Module):
    """Depthwise kh x kw (no bias) then pointwise 1x1 with bias: Xception's SeparableConv."""

    def __init__(self, layer: Layer) -> None:
        super().__init__()
        depthwise = Layer("conv", layer.name, layer.line,
                          {k: v for k, v in layer.attrs.items() if k not in ("out", "cin")}
                          | {"depthwise": True, "bias": False}, layer.claims)
        self.depthwise = _conv(depthwise, False)
        self.pointwise = nn.LazyConv2d(int_attr(layer, "out", 0), 1, bias=flag_attr(layer, "bias", True))

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.pointwise(self.depthwise(x))
        return y


def _adaptiveavgpool(layer: Layer, in_place: bool) -> nn.Module:
    return nn.AdaptiveAvgPool2d(pair_attr(layer, "oh", "ow", 1))


def _gap(layer: Layer, in_place: bool) -> nn.Module:
    return nn.AdaptiveAvgPool2d(1)


def _fc(layer: Layer, in_place: bool) -> nn.Module:
    return FullyConnected(int_attr(layer, "out", 0), flag_attr(layer, "bias", True))


def _relu(layer: Layer, in_place: bool) -> nn.Module:
    return nn.ReLU(inplace=in_place)


def _tanh(layer: Layer, in_place: bool) -> nn.Module:
    return nn.Tanh()


def _sigmoid(layer: Layer, in_place: bool) -> nn.Module:
    return nn.Sigmoid()


def _bn(layer: Layer, in_place: bool) -> nn.Module:
    return nn.LazyBatchNorm2d()


def _lrn(layer: Layer, in_place: bool) -> nn.Module:
    return nn.LocalResponseNorm(int(setting(layer, "size")))


def _dropout(layer: Layer, in_place: bool) -> nn.Module:
    # never in place: in training, an in-place dropout after an in-place relu overwrites the
    # output relu's backward reads (torchvision's VGG and AlexNet use Dropout(p) too)
    return nn.Dropout(float(setting(layer, "p")))


def _softmax(layer: Layer, in_place: bool) -> nn.Module:
    return nn.Softmax(dim=1)


def _flatten(layer: Layer, in_place: bool) -> nn.Module:
    return ToVector()


def _padchannels(layer: Layer, in_place: bool) -> nn.Module:
    return PadChannels(int_attr(layer, "out", 0))


def _activation(module: type[nn.Module], inplace: bool = False) -> ModuleFactory:
    def build(layer: Layer, in_place: bool) -> nn.Module:
        return module(inplace=in_place) if inplace else module()

    return build


def _leakyrelu(layer: Layer, in_place: bool) -> nn.Module:
    return nn.LeakyReLU(float(setting(layer, "slope")), inplace=in_place)


def _prelu(layer: Layer, in_place: bool) -> nn.Module:
    return nn.PReLU(int_attr(layer, "out", 1))


def _convtranspose(layer: Layer, in_place: bool) -> nn.Module:
    return nn.LazyConvTranspose2d(
        int_attr(layer, "out", 0), pair_attr(layer, "kh", "kw", 1), stride=pair_attr(layer, "sh", "sw", 1),
        padding=pair_attr(layer, "ph", "pw", 0), output_padding=pair_attr(layer, "oph", "opw", 0),
        groups=int_attr(layer, "groups", 1), bias=flag_attr(layer, "bias", True),
        dilation=pair_attr(layer, "dh", "dw", 1))  # type: ignore[arg-type]  # torch takes a pair


def _upsample(layer: Layer, in_place: bool) -> nn.Module:
    mode = str(setting(layer, "mode"))
    return nn.Upsample(scale_factor=int(setting(layer, "factor")), mode=mode,
                       **({"align_corners": False} if mode == "bilinear" else {}))


def _pixelshuffle(layer: Layer, in_place: bool) -> nn.Module:
    return nn.PixelShuffle(int_attr(layer, "factor", 1))


def _channelshuffle(layer: Layer, in_place: bool) -> nn.Module:
    return nn.ChannelShuffle(int_attr(layer, "groups", 1))


#: op -> module factory, one per registry op (tests/torch/test_registry_tables.py)
LAYER_MODULES: dict[str, ModuleFactory] = {
    "conv": _conv, "maxpool": _maxpool, "avgpool": _avgpool,
    "adaptiveavgpool": _adaptiveavgpool, "gap": _gap, "fc": _fc, "relu": _relu,
    "tanh": _tanh, "sigmoid": _sigmoid, "bn": _bn, "lrn": _lrn, "dropout": _dropout,
    "softmax": _softmax, "flatten": _flatten, "padchannels": _padchannels,
    "relu6": _activation(nn.ReLU6, inplace=True), "hardswish": _activation(nn.Hardswish, True),
    "hardsigmoid": _activation(nn.Hardsigmoid), "silu": _activation(nn.SiLU, inplace=True),
    "gelu": _activation(nn.GELU), "leakyrelu": _leakyrelu, "prelu": _prelu,
    "identity": _activation(nn.Identity), "channelshuffle": _channelshuffle,
    "convtranspose": _convtranspose, "pixelshuffle": _pixelshuffle, "upsample": _upsample,
    "sepconv": lambda layer, in_place: _Separable(layer),
    "concat": lambda layer, in_place: ConcatInputs(),
    "add": lambda layer, in_place: AddInputs(),
    "mul": lambda layer, in_place: MulInputs(),
    "crop": lambda layer, in_place: Crop(int_attr(layer, "oh", 1), int_attr(layer, "ow", 1)),
    "layernorm": lambda layer, in_place: ChannelsLayerNorm(),
    "layerscale": lambda layer, in_place: LayerScale(),
}
