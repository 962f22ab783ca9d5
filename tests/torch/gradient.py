"""The receptive field torch sees: the input pixels whose gradient one output unit has.

All weights are made positive and the input is ones, so with average pools (a max pool routes
its gradient to one pixel) every pixel a unit depends on gets a non-zero gradient and no other
pixel does. Shared by the tests that hold the engine's fields to torch's.
"""

from __future__ import annotations

import torch

from app.engine.graph import Network
from app.torchnet import SpecNet, build_module

Span = tuple[int, int]


def positive_module(net: Network) -> SpecNet:
    module = build_module(net)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(p.abs() + 0.05)
    return module


def support(net: Network, row: str | None = None, unit: tuple[int, int] | None = None,
            module: SpecNet | None = None) -> tuple[Span, Span]:
    """(first, last) input row and column whose gradient the unit (i, j) of ``row`` (the
    network's output when None; its middle unit when ``unit`` is None) has."""
    module = module or positive_module(net)
    v = net.input
    x = torch.ones(1, v.c, v.h, v.w, requires_grad=True)
    out = module(x)
    y = module.values[row] if row is not None else out
    i, j = unit if unit is not None else (y.shape[2] // 2, y.shape[3] // 2)
    y[0, :, i, j].sum().backward()
    assert x.grad is not None
    g = x.grad.abs().sum(dim=(0, 1))
    rows = torch.nonzero(g.sum(dim=1)).flatten()
    cols = torch.nonzero(g.sum(dim=0)).flatten()
    return (int(rows.min()), int(rows.max())), (int(cols.min()), int(cols.max()))


def field(span: Span) -> tuple[int, float]:
    """(size, centre) of a span of pixels."""
    lo, hi = span
    return hi - lo + 1, (lo + hi) / 2
