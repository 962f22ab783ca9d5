"""The module around each spec layer (it records its output by name) and one per block kind.

* ``relu`` is in place, except at the head of a block branch (before any layer has made a new
  tensor), where working in place would overwrite the block's input, which the other branches
  (or the shortcut) still read (:mod:`app.torchnet.network` decides).
* ``aux`` side classifiers keep their outputs in :attr:`Record.aux_outputs`; the main tensor
  passes through unchanged.
* Residual stochastic depth (Huang et al. 2016): in training the body is dropped with
  probability ``1 - survival``; in evaluation it is scaled by ``survival`` (their Eq. 5).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from app.engine.graph import Block, Layer

Shape = tuple[int, int, int]
"""An output volume as (H, W, C), the engine's order."""


def shape_of(t: Tensor) -> Shape:
    """(H, W, C) of a 4-D (N, C, H, W) tensor."""
    _, c, h, w = t.shape
    return (int(h), int(w), int(c))


@dataclass
class Record:
    """What one forward pass saw: shapes by layer/block name, and the aux outputs."""

    shapes: dict[str, Shape] = field(default_factory=dict)
    aux_outputs: list[Tensor] = field(default_factory=list)
    #: the tensors of the rows some layer reads by name (all rows with ``keep_all``)
    values: dict[str, Tensor] = field(default_factory=dict)
    needed: frozenset[str] = frozenset()
    keep_all: bool = False

    def clear(self) -> None:
        self.shapes.clear()
        self.aux_outputs.clear()
        self.values.clear()

    def keep(self, name: str, y: Tensor) -> None:
        self.shapes[name] = shape_of(y)
        if self.keep_all or name in self.needed:
            self.values[name] = y


class LayerModule(nn.Module):
    """One spec layer: runs its torch module on the tensor before it, or on the rows it names,
    and records the output shape (and the tensor, if a later layer reads it) under its name."""

    def __init__(self, layer: Layer, inner: nn.Module, record: Record) -> None:
        super().__init__()
        self.spec_name = layer.name
        self.op = inner
        self._record = record
        self.inputs = layer.inputs
        self.like = str(layer.attrs["to"]) if "to" in layer.attrs else None

    def forward(self, x: Tensor) -> Tensor:
        values = self._record.values
        args = [values[n] for n in self.inputs] if self.inputs else [x]
        if self.like is not None:
            args.append(values[self.like])
        y: Tensor = self.op(*args)
        self._record.keep(self.spec_name, y)
        return y

    def extra_repr(self) -> str:
        return f"name={self.spec_name!r}"


class Merge(nn.Module):
    """Base of the block modules: branches as ``nn.Sequential`` (empty = identity)."""

    def __init__(self, block: Block, branches: list[nn.Sequential], record: Record) -> None:
        super().__init__()
        self.spec_name = block.name
        self.branches = nn.ModuleList(branches)
        self._record = record

    def _done(self, y: Tensor) -> Tensor:
        self._record.keep(self.spec_name, y)
        return y

    def extra_repr(self) -> str:
        return f"name={self.spec_name!r}"


def _same_shapes(block: str, outs: list[Tensor]) -> None:
    shapes = [shape_of(t) for t in outs]
    if len(set(shapes)) > 1:
        listed = ", ".join("x".join(map(str, s)) for s in shapes)
        raise ValueError(f"{block}: branch outputs differ ({listed})")


class _Concat(Merge):
    """Branch outputs concatenated along channels."""

    def forward(self, x: Tensor) -> Tensor:
        return self._done(torch.cat([branch(x) for branch in self.branches], dim=1))


class _Split(Merge):
    """The input's channels chunked equally among the branches (``x.chunk(n, dim=1)``), each
    branch run on its share, the outputs concatenated along channels (ShuffleNet V2's unit)."""

    def forward(self, x: Tensor) -> Tensor:
        shares = x.chunk(len(self.branches), dim=1)
        return self._done(torch.cat([branch(share) for branch, share
                                     in zip(self.branches, shares, strict=True)], dim=1))


class _Dense(Merge):
    """concat(x, body(x)) along channels (a DenseNet layer)."""

    def forward(self, x: Tensor) -> Tensor:
        return self._done(torch.cat([x, self.branches[0](x)], dim=1))


class _Scale(Merge):
    """x * body(x): the body's 1x1xC gate broadcast over the map (squeeze-and-excitation)."""

    def forward(self, x: Tensor) -> Tensor:
        return self._done(x * self.branches[0](x))


class _Join(Merge):
    """Element-wise mean of the branch outputs (FractalNet); shapes must agree exactly."""

    def forward(self, x: Tensor) -> Tensor:
        outs = [branch(x) for branch in self.branches]
        _same_shapes(self.spec_name, outs)
        return self._done(torch.stack(outs).mean(dim=0))


class _Residual(Merge):
    """body(x) + shortcut(x); shapes must agree exactly (no broadcasting)."""

    def __init__(self, block: Block, branches: list[nn.Sequential], record: Record) -> None:
        super().__init__(block, branches, record)
        self.survival = block.survival

    def forward(self, x: Tensor) -> Tensor:
        p = self.survival
        if p is not None and self.training and float(torch.rand(())) >= p:
            return self._done(self.branches[1](x))
        body, shortcut = self.branches[0](x), self.branches[1](x)
        _same_shapes(self.spec_name, [body, shortcut])
        if p is not None and not self.training:
            body = body * p
        return self._done(body + shortcut)


class _Aux(Merge):
    """A side classifier: its output is kept apart; the main tensor passes unchanged."""

    def forward(self, x: Tensor) -> Tensor:
        self._record.aux_outputs.append(self.branches[0](x))
        return x


#: ops that may hand back their input itself, or a view of it (dropout in eval mode)


BLOCK_MODULES: dict[str, type[Merge]] = {
    "concat": _Concat, "dense": _Dense, "join": _Join, "residual": _Residual, "aux": _Aux,
    "scale": _Scale, "split": _Split,
}
