"""torch.nn modules as spec text: the leaf modules the torch.fx reader meets, one rule each.

A rule reads a module's own attributes (a Conv2d's kernel, stride, padding, groups, bias) and
writes its spec line through app.importer.spectext, as the ONNX reader writes its nodes; a
module no rule takes, or one whose attributes the spec cannot count (a padding mode other than
zeros, a BatchNorm without affine parameters), raises :class:`Unsupported`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch.fx as fx
from torch import nn

from app.importer.spectext import Pads, conv_text, pool_text

Layout = str  # "nchw", "nhwc" or "flat"


class LeafTracer(fx.Tracer):
    """fx's tracer, with torchvision's LayerNorm2d and StochasticDepth as leaves too."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if type(m).__name__ in ("LayerNorm2d", "StochasticDepth"):
            return True
        return super().is_leaf_module(m, qualname)


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, int):
        return v, v
    a, b = v
    return int(a), int(b)


def _pads(pad: Any) -> tuple[Pads, bool]:
    """PyTorch's ``padding`` (an int, a pair, ``'same'`` or ``'valid'``) as the sides and
    whether it is ``'same'``."""
    if isinstance(pad, str):
        return (0, 0, 0, 0), pad == "same"
    ph, pw = _pair(pad)
    return (ph, pw, ph, pw), False


class Unsupported(Exception):
    """One node the spec language cannot express (becomes a :class:`Refusal`)."""


def _conv(m: nn.Conv2d) -> str:
    if m.padding_mode != "zeros":
        raise Unsupported(f"padding_mode {m.padding_mode!r} (only zero padding is counted)")
    pads, same = _pads(m.padding)
    return conv_text(m.out_channels, _pair(m.kernel_size), _pair(m.stride), pads,
                     _pair(m.dilation), m.groups, m.groups == m.in_channels,
                     m.bias is not None, same=same)


def _convtranspose(m: nn.ConvTranspose2d) -> str:
    pads, _ = _pads(m.padding)
    return conv_text(m.out_channels, _pair(m.kernel_size), _pair(m.stride), pads,
                     _pair(m.dilation), m.groups, bias=m.bias is not None, transpose=True,
                     outpad=_pair(m.output_padding))


def pool(kind: str, kernel: Any, stride: Any, pad: Any, ceil: bool, dilation: Any = 1) -> str:
    stride = kernel if stride is None or stride == [] else stride
    pads, same = _pads(pad)
    if same:
        raise Unsupported("a pool with padding='same'")
    return pool_text(kind, _pair(kernel), _pair(stride), pads, _pair(dilation), ceil)


def adaptive(size: Any) -> str:
    h, w = _pair(size)
    return "gap" if (h, w) == (1, 1) else f"adaptiveavgpool {h}x{w}"


def _bn(m: nn.BatchNorm2d) -> str:
    if not m.affine:
        raise Unsupported("BatchNorm2d without affine parameters (the spec's bn has 2C)")
    return "bn"


def _layernorm(m: nn.LayerNorm, layout: Layout) -> str:
    if type(m).__name__ != "LayerNorm2d" and layout != "nhwc":
        raise Unsupported("LayerNorm over other than the channels of a channels-last map")
    if len(m.normalized_shape) != 1 or not m.elementwise_affine or m.bias is None:
        raise Unsupported("LayerNorm over more than the channels, or without weight and bias")
    return "layernorm"


def _upsample(m: nn.Upsample) -> str:
    f = m.scale_factor
    if m.size is not None or f is None or float(f if not isinstance(f, tuple) else f[0]) % 1:
        raise Unsupported("Upsample other than by a whole scale_factor")
    factor = int(f if not isinstance(f, tuple) else f[0])
    if m.mode not in ("nearest", "bilinear"):
        raise Unsupported(f"Upsample mode {m.mode!r}")
    return f"upsample {factor} {m.mode}"


PLAIN: dict[type[nn.Module], str] = {
    nn.ReLU: "relu", nn.ReLU6: "relu6", nn.Hardswish: "hardswish", nn.Hardsigmoid: "hardsigmoid",
    nn.SiLU: "silu", nn.GELU: "gelu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh",
    nn.Flatten: "flatten",
}
ALIAS_MODULES = (nn.Identity,)


def module_text(m: nn.Module, layout: Layout) -> str | None:
    """The spec text of a leaf module; None for one that passes its input on unchanged."""
    if isinstance(m, ALIAS_MODULES) or type(m).__name__ == "StochasticDepth":
        return None
    for cls, text in PLAIN.items():
        if type(m) is cls:
            return text
    rule = MODULE_RULES.get(type(m)) or MODULE_RULES.get(type(m).__mro__[1])
    if rule is None:
        raise Unsupported(f"no spec op for {type(m).__name__}")
    return rule(m, layout)


MODULE_RULES: dict[type[nn.Module], Callable[[Any, Layout], str]] = {
    nn.Conv2d: lambda m, _: _conv(m),
    nn.ConvTranspose2d: lambda m, _: _convtranspose(m),
    nn.BatchNorm2d: lambda m, _: _bn(m),
    nn.MaxPool2d: lambda m, _: pool("maxpool", m.kernel_size, m.stride, m.padding, m.ceil_mode,
                                     m.dilation),
    nn.AvgPool2d: lambda m, _: pool("avgpool", m.kernel_size, m.stride, m.padding, m.ceil_mode),
    nn.AdaptiveAvgPool2d: lambda m, _: adaptive(m.output_size),
    nn.Dropout: lambda m, _: f"dropout {m.p:g}",
    nn.Dropout2d: lambda m, _: f"dropout {m.p:g}",
    nn.LeakyReLU: lambda m, _: f"leakyrelu {m.negative_slope:g}",
    nn.PReLU: lambda m, _: "prelu" if m.num_parameters == 1 else f"prelu {m.num_parameters}",
    nn.LocalResponseNorm: lambda m, _: f"lrn size {m.size}",
    nn.Softmax: lambda m, _: "softmax",
    nn.ChannelShuffle: lambda m, _: f"channelshuffle {m.groups}",
    nn.Upsample: lambda m, _: _upsample(m),
    nn.PixelShuffle: lambda m, _: f"pixelshuffle {m.upscale_factor}",
    nn.LayerNorm: _layernorm,
}
