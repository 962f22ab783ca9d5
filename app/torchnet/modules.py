"""The small modules torch lacks, each mapping (N, C, H, W) to (N, C', H', W')."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from app.engine.graph import Layer


def int_attr(layer: Layer, key: str, default: int) -> int:
    return int(layer.get(key, default))


def flag_attr(layer: Layer, key: str, default: bool) -> bool:
    return bool(layer.get(key, default))


def pair_attr(layer: Layer, first: str, second: str, default: int) -> tuple[int, int]:
    return (int_attr(layer, first, default), int_attr(layer, second, default))


class ToVector(nn.Module):
    """Flatten to (N, C*H*W, 1, 1): a vector held as a 1x1 volume."""

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1)[:, :, None, None]


class FullyConnected(nn.Module):
    """``fc``: flatten, ``Linear`` (input size inferred), back to (N, out, 1, 1)."""

    def __init__(self, out: int, bias: bool) -> None:
        super().__init__()
        self.linear = nn.LazyLinear(out, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.linear(x.flatten(1))
        return y[:, :, None, None]


class PadChannels(nn.Module):
    """Zero-pad the channels up to ``out`` (ResNet option-A shortcut); never crops."""

    def __init__(self, out: int) -> None:
        super().__init__()
        self.out = out

    def forward(self, x: Tensor) -> Tensor:
        extra = self.out - x.shape[1]
        if extra < 0:
            raise ValueError(f"padchannels {self.out}: input already has {x.shape[1]} channels")
        return nn.functional.pad(x, (0, 0, 0, 0, 0, extra))


class Depthwise(nn.Module):
    """A conv whose groups are its input's channels, known only at the first forward."""

    def __init__(self, out: int, options: dict[str, Any]) -> None:
        super().__init__()
        self.out, self.options = out, options
        self.conv: nn.Conv2d | None = None

    def forward(self, x: Tensor) -> Tensor:
        if self.conv is None:
            c = x.shape[1]
            self.conv = nn.Conv2d(c, self.out or c, groups=c, **self.options).to(x.device)
        y: Tensor = self.conv(x)
        return y


class ChannelsLayerNorm(nn.Module):
    """LayerNorm over the channels of an (N, C, H, W) tensor, as ConvNeXt's LayerNorm2d."""

    def __init__(self) -> None:
        super().__init__()
        self.norm: nn.LayerNorm | None = None

    def forward(self, x: Tensor) -> Tensor:
        if self.norm is None:
            self.norm = nn.LayerNorm(x.shape[1], eps=1e-6).to(x.device)
        y: Tensor = self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return y


class LayerScale(nn.Module):
    """x times a learnable per-channel factor (C x 1 x 1), as ConvNeXt's layer scale."""

    def __init__(self) -> None:
        super().__init__()
        self.gamma: nn.Parameter | None = None

    def forward(self, x: Tensor) -> Tensor:
        if self.gamma is None:
            self.gamma = nn.Parameter(torch.full((x.shape[1], 1, 1), 1e-6, device=x.device))
        return x * self.gamma


class SidePad(nn.Module):
    """Padding torch's layers do not take themselves: per side (top, bottom, left, right), or
    TensorFlow's SAME at a stride above 1 (computed from the input's size, the odd one after)."""

    def __init__(self, layer: Layer, value: float) -> None:
        super().__init__()
        self.value = value
        self.tf_same = flag_attr(layer, "same", False)
        self.kernel = (int_attr(layer, "dh", 1) * (int_attr(layer, "kh", 1) - 1) + 1,
                       int_attr(layer, "dw", 1) * (int_attr(layer, "kw", 1) - 1) + 1)
        self.stride = pair_attr(layer, "sh", "sw", 1)
        ph, pw = pair_attr(layer, "ph", "pw", 0)
        self.sides = (pw, int_attr(layer, "pw2", pw), ph, int_attr(layer, "ph2", ph))

    def forward(self, x: Tensor) -> Tensor:
        sides = self.sides
        if self.tf_same:
            pads = []
            for n, k, s in zip(x.shape[2:], self.kernel, self.stride, strict=True):
                total = max((-(-int(n) // s) - 1) * s + k - int(n), 0)
                pads.append((total // 2, total - total // 2))
            sides = (*pads[1], *pads[0])
        return nn.functional.pad(x, sides, value=self.value)


class Crop(nn.Module):
    """Centre crop to (oh, ow), or to the spatial size of a second tensor given to forward."""

    def __init__(self, oh: int, ow: int) -> None:
        super().__init__()
        self.size = (oh, ow)

    def forward(self, x: Tensor, like: Tensor | None = None) -> Tensor:
        oh, ow = self.size if like is None else (int(like.shape[2]), int(like.shape[3]))
        top, left = (int(x.shape[2]) - oh) // 2, (int(x.shape[3]) - ow) // 2
        return x[:, :, top:top + oh, left:left + ow]


class ConcatInputs(nn.Module):
    def forward(self, *xs: Tensor) -> Tensor:
        return torch.cat(xs, dim=1)


class AddInputs(nn.Module):
    def forward(self, *xs: Tensor) -> Tensor:
        y = xs[0] + xs[1]
        for x in xs[2:]:
            y = y + x
        return y


class MulInputs(nn.Module):
    """The product, broadcasting an input of size 1 along an axis (a 1x1xC gate)."""

    def forward(self, *xs: Tensor) -> Tensor:
        y = xs[0] * xs[1]
        for x in xs[2:]:
            y = y * x
        return y
