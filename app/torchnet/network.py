"""A parsed spec as one torch module: :class:`SpecNet` and :func:`build_module`."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from app.engine.graph import Block, Layer, Network, Node, names_read
from app.engine.optable import PASS_THROUGH_OPS
from app.torchnet.blocks import BLOCK_MODULES, LayerModule, Record, Shape
from app.torchnet.layers import LAYER_MODULES


def _makes_new_tensor(node: Node) -> bool:
    if isinstance(node, Layer):
        return node.op not in PASS_THROUGH_OPS
    return node.kind != "aux"


@dataclass(frozen=True)
class _SequenceAssembler:
    record: Record
    aux: bool

    def sequence(self, nodes: tuple[Node, ...], *, branch_head: bool) -> nn.Sequential:
        """Build nodes in order. In a branch, layers run out of place until one has made a new
        tensor: until then the tensor is the block's input, which other branches still read."""
        modules: list[nn.Module] = []
        fresh = not branch_head
        for node in nodes:
            reads = isinstance(node, Layer) and bool(node.inputs)
            module = self.node(node, in_place=fresh and not reads)
            if module is not None:
                modules.append(module)
            fresh = (fresh and not reads) or _makes_new_tensor(node)
            if node.name in self.record.needed:  # a later layer reads this very tensor
                fresh = False
        return nn.Sequential(*modules)

    def node(self, node: Node, *, in_place: bool) -> nn.Module | None:
        if isinstance(node, Layer):
            if node.op not in LAYER_MODULES:
                raise ValueError(f"line {node.line}: unknown op {node.op!r}")
            return LayerModule(node, LAYER_MODULES[node.op](node, in_place), self.record)
        return self.block(node)

    def block(self, block: Block) -> nn.Module | None:
        if block.kind == "aux" and not self.aux:
            return None
        branches = [self.sequence(b, branch_head=True) for b in block.branches]
        if block.kind == "residual" and len(branches) == 1:
            branches.append(nn.Sequential())
        return BLOCK_MODULES[block.kind](block, branches, self.record)


class SpecNet(nn.Module):
    """A parsed spec as a torch module. After each forward, :attr:`shapes` maps every layer and
    block name (and the input name) to its output (H, W, C); :attr:`aux_outputs` holds the
    auxiliary classifiers' outputs (with ``aux=True``)."""

    def __init__(self, net: Network, *, aux: bool = False) -> None:
        super().__init__()
        self._record = Record(needed=names_read(net))
        self.input_name = net.input_name
        self.input_shape = (net.input.c, net.input.h, net.input.w)
        self.output_names = net.outputs
        self.body = _SequenceAssembler(self._record, aux).sequence(net.nodes,
                                                         branch_head=net.input_name
                                                         in self._record.needed)

    @property
    def shapes(self) -> dict[str, Shape]:
        return self._record.shapes

    @property
    def aux_outputs(self) -> list[Tensor]:
        return self._record.aux_outputs

    @property
    def values(self) -> dict[str, Tensor]:
        """The tensors of the last forward kept by name: those some layer reads, and every
        row's once :attr:`keep_all` is set."""
        return self._record.values

    @property
    def keep_all(self) -> bool:
        return self._record.keep_all

    @keep_all.setter
    def keep_all(self, value: bool) -> None:
        self._record.keep_all = value

    @property
    def outputs(self) -> list[Tensor]:
        """The named outputs' tensors of the last forward (empty without an ``output`` line:
        then the forward's result is the output)."""
        return [self._record.values[n] for n in self.output_names]

    def forward(self, x: Tensor) -> Tensor:
        """The network's output; with named outputs, the first (all in :attr:`outputs`)."""
        self._record.clear()
        self._record.keep(self.input_name, x)
        out: Tensor = self.body(x)
        return self._record.values[self.output_names[0]] if self.output_names else out

    def dummy_input(self, batch: int = 1) -> Tensor:
        """Zeros of the spec's input size, (batch, C, H, W)."""
        return torch.zeros(batch, *self.input_shape)


def build_module(net: Network, *, aux: bool = False) -> SpecNet:
    """Build ``net`` as a torch module, materialise its lazy layers with one dummy forward, and
    return it in eval mode. Raises whatever torch raises (``RuntimeError``, ``ValueError``) when
    the architecture does not run, e.g. a branch mismatch or a window larger than its input."""
    module = SpecNet(net, aux=aux).eval()
    with torch.no_grad():
        module(module.dummy_input())
    return module
