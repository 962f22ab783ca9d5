"""One measured forward pass of a :class:`SpecNet`, and the engine set beside it.

Parameters are ``p.numel()`` summed (weights, biases and BatchNorm's scale and shift; running
statistics are buffers, not parameters). FLOPs are ``FlopCounterMode``'s, which counts
``aten.convolution`` and matrix products (``mm``/``addmm``) at 2 FLOPs per multiply-add, bias
additions excluded, and nothing else (no pooling, normalisation or activation): the engine's
convention, conv and fc multiply-accumulates only, so multiply-adds are FLOPs / 2.

Per named module (each spec layer and block), a count is its own: its total less that of the
named modules inside it, so a block's own parameters are 0, like its row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from app.engine import analyze_network
from app.engine.graph import Network
from app.engine.options import make_options
from app.engine.result import LayerRow
from app.torchnet.blocks import Shape, shape_of
from app.torchnet.network import SpecNet, build_module


@dataclass(frozen=True, slots=True)
class Measurement:
    """What one forward pass of a :class:`SpecNet` measured."""

    #: output (H, W, C) of every layer and block by name, and of the input
    shapes: dict[str, Shape]
    #: the forward's result, (H, W, C)
    output: Shape
    #: every parameter of the module
    params: int
    #: the FLOPs the counter saw in the whole forward
    flops: int
    #: each named layer's and block's own parameters
    layer_params: dict[str, int]
    #: each named layer's and block's own FLOPs
    layer_flops: dict[str, int]

    @property
    def macs(self) -> int:
        return self.flops // 2

    @property
    def layer_macs(self) -> dict[str, int]:
        return {name: f // 2 for name, f in self.layer_flops.items()}


def named_modules(module: SpecNet) -> dict[str, nn.Module]:
    """Module path -> module, for every module named after a spec layer or block."""
    return {path: m for path, m in module.named_modules() if hasattr(m, "spec_name")}


def _nearest_inside(paths: list[str]) -> dict[str, list[str]]:
    """For each path, the named paths inside it with no other named path in between."""
    inside: dict[str, list[str]] = {p: [] for p in paths}
    for p in paths:
        parents = [q for q in paths if p.startswith(q + ".")]
        if parents:
            inside[max(parents, key=len)].append(p)
    return inside


def _own(totals: dict[str, int], inside: dict[str, list[str]]) -> dict[str, int]:
    """A named module's own count: its total less the totals of the named modules inside it."""
    return {p: totals[p] - sum(totals[q] for q in inside[p]) for p in totals}


def measure_module(module: SpecNet, x: Tensor) -> Measurement:
    """One forward pass of ``module`` on ``x`` in eval mode, without gradients, counted."""
    named = named_modules(module)
    counter = FlopCounterMode(display=False)
    module.eval()
    with torch.no_grad(), counter:
        out = module(x)
    counts = counter.get_flop_counts()
    inside = _nearest_inside(list(named))
    root = type(module).__name__
    flops = _own({p: sum(counts.get(f"{root}.{p}", {}).values()) for p in named}, inside)
    params = _own({p: sum(t.numel() for t in m.parameters()) for p, m in named.items()}, inside)
    names = {p: str(m.spec_name) for p, m in named.items()}
    return Measurement(
        shapes=dict(module.shapes), output=shape_of(out),
        params=sum(p.numel() for p in module.parameters()), flops=counter.get_total_flops(),
        layer_params={names[p]: n for p, n in params.items()},
        layer_flops={names[p]: n for p, n in flops.items()})


def measure(net: Network, *, aux: bool = False) -> Measurement:
    """Build ``net`` and measure it with one batch-1 forward pass on zeros."""
    module = build_module(net, aux=aux)
    return measure_module(module, module.dummy_input())


def compare(net: Network, *, aux: bool = False) -> list[str]:
    """Engine vs torch on one network: one line per disagreement, empty when all agree.

    Compares every engine row's output volume (layers and block merges, by name) with the shape
    torch recorded, every name torch saw with the engine's rows, each layer's parameters and
    multiply-adds, and the totals. Raises what the engine or torch raises when either rejects
    the network.
    """
    analysis = analyze_network(net, make_options(aux=aux))
    seen = measure(net, aux=aux)
    out: list[str] = []
    for row in analysis.layers:
        engine = (row.output.h, row.output.w, row.output.c)
        got = seen.shapes.get(row.name)
        if got != engine:
            out.append(f"{row.name} output: engine {_show(engine)}, torch {_show(got)}")
    out.extend(_compare_costs(analysis.layers, seen))
    for name in seen.shapes.keys() - {row.name for row in analysis.layers}:
        out.append(f"{name}: torch ran it, the engine has no row for it")
    for key, engine_total, got_total in (("params", analysis.totals.params, seen.params),
                                         ("macs", analysis.totals.macs, seen.macs)):
        if got_total != engine_total:
            out.append(f"total {key}: engine {engine_total:,}, torch {got_total:,}")
    return out


def _compare_costs(rows: Sequence[LayerRow], seen: Measurement) -> list[str]:
    """Per layer: the engine's params and macs against what torch holds and counted."""
    out: list[str] = []
    macs = seen.layer_macs
    for row in rows:
        for key, engine, got in (("params", row.params, seen.layer_params.get(row.name)),
                                 ("macs", row.macs, macs.get(row.name))):
            if got is not None and got != engine:
                out.append(f"{row.name} {key}: engine {engine:,}, torch {got:,}")
    return out


def _show(shape: Shape | None) -> str:
    return "nothing" if shape is None else "x".join(map(str, shape))
