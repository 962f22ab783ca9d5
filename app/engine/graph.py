"""The layer graph: what a parsed spec is, and what both interpreters consume.

A spec (text or JSON) becomes a :class:`Network`: an input volume and a sequence of
nodes. A node is either a :class:`Layer` (one op with its attributes) or a
:class:`Block` (a merge of sub-sequences: concat, residual, join, dense, aux).
``repeat`` is expanded by the parser, so neither the engine walk nor the torch
builder ever sees it.

Attribute names per op (all ints unless noted; see ``docs/spec-language.md``):

=================  ==========================================================
op                 attrs
=================  ==========================================================
conv               out, kh, kw, sh, sw, ph, pw, dh, dw, groups, bias (bool),
                   same (bool: padding chosen so that output = input, stride 1)
maxpool, avgpool   kh, kw, sh, sw, ph, pw, ceil (bool)
adaptiveavgpool    oh, ow
gap                (none) global average pool to 1x1xC
fc                 out, bias (bool)
dropout            p (float)
lrn                size
padchannels        out  (zero-pads channels up to ``out``; parameter-free)
relu, tanh, sigmoid, bn, softmax, flatten   (none)
=================  ==========================================================

Block kinds: ``concat`` (branches concatenated along depth; an empty branch is
the identity), ``dense`` (one branch: concat(x, body(x))), ``residual``
(branches = (body, shortcut); an empty shortcut is the identity; optional
``survival`` probability for stochastic depth), ``join`` (element-wise mean of
the branches, FractalNet), ``aux`` (one branch: a side classifier whose output
leaves the network; the main tensor passes through unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

AttrValue = int | float | bool | str

#: ops that modify their input in place and so add no activation memory
IN_PLACE_OPS = frozenset({"relu", "dropout"})
#: ops that return a view of their input (no new values)
VIEW_OPS = frozenset({"flatten"})
#: ops with learnable parameters whose multiply-adds are counted
WEIGHT_OPS = frozenset({"conv", "fc"})
LAYER_OPS = (
    "conv", "maxpool", "avgpool", "adaptiveavgpool", "gap", "fc", "relu", "tanh",
    "sigmoid", "bn", "lrn", "dropout", "softmax", "flatten", "padchannels",
)
BLOCK_KINDS = ("concat", "dense", "residual", "join", "aux")


@dataclass(frozen=True, slots=True)
class Claim:
    """A number a student wrote on a line, to be checked, never trusted.

    ``field`` is one of ``output`` (a volume such as ``55x55x96`` or a bare
    ``4096``), ``activations`` (the notes' "memory"), ``params``, ``weights``,
    ``biases``, ``macs``, ``flops``, ``rf``; ``text`` is what was written,
    e.g. ``224*224*64=3.2M``.
    """

    field: str
    text: str


class Layer(NamedTuple):
    """One op with its attributes. A named tuple: a ResNet-152 spec expands to 465 of them,
    and a tuple is the cheapest immutable record Python builds. ``attrs`` is never mutated
    (the parser shares one dict among equal layers)."""

    op: str
    name: str
    line: int
    attrs: dict[str, AttrValue] = {}  # noqa: RUF012 - read only, shared by design
    claims: tuple[Claim, ...] = ()

    def get(self, key: str, default: AttrValue = 0) -> AttrValue:
        return self.attrs.get(key, default)


@dataclass(frozen=True, slots=True)
class Block:
    kind: str
    name: str
    line: int
    branches: tuple[tuple[Node, ...], ...]
    survival: float | None = None


Node = Layer | Block


class Volume(NamedTuple):
    """H x W x C. A named tuple: the walk hashes and compares volumes on every row."""

    h: int
    w: int
    c: int

    def __str__(self) -> str:
        return f"{self.h}x{self.w}x{self.c}"

    @property
    def size(self) -> int:
        return self.h * self.w * self.c


@dataclass(frozen=True, slots=True)
class Network:
    input: Volume
    nodes: tuple[Node, ...]
    input_name: str = "input"
    input_line: int = 1
    #: claims made on the input line (e.g. the notes' "memory: 224*224*3=150K")
    input_claims: tuple[Claim, ...] = ()
    #: claims about the whole network ("TOTAL params: 138M parameters")
    total_claims: tuple[Claim, ...] = ()
