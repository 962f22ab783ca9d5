"""The layer graph: what a parsed spec is, and what both interpreters consume.

A spec (text or JSON) becomes a :class:`Network`: an input volume and a sequence of
nodes. A node is either a :class:`Layer` (one op with its attributes) or a
:class:`Block` (a merge of sub-sequences: concat, residual, join, dense, aux, scale, split).
``repeat`` is expanded by the parser, so neither the engine walk nor torchnet
ever sees it. Every value here is immutable: layers are named tuples whose
attributes are read-only mappings, blocks and networks frozen dataclasses of tuples.

The ops, their spellings and their attributes are listed once, in ``app.engine.optable``.
Attribute names (all ints unless noted): conv: out, kh, kw, sh, sw, ph, pw, dh, dw, groups,
bias (bool), same (bool); maxpool/avgpool: kh, kw, sh, sw, ph, pw, (dh, dw), ceil (bool);
adaptiveavgpool: oh, ow; fc: out, bias; dropout: p (float); lrn: size; padchannels: out.

Block kinds: ``concat`` (branches concatenated along depth; an empty branch is
the identity), ``dense`` (one branch: concat(x, body(x))), ``residual``
(branches = (body, shortcut); an empty shortcut is the identity; optional
``survival`` probability for stochastic depth), ``join`` (element-wise mean of
the branches, FractalNet), ``aux`` (one branch: a side classifier whose output
leaves the network; the main tensor passes through unchanged), ``scale`` (one branch whose
1x1xC output multiplies the input channel by channel: squeeze-and-excitation), ``split``
(the input's channels divided equally among the branches, each branch running on its share,
their outputs concatenated along depth: ShuffleNet V2's unit; an empty branch is the identity
on its share).

Any directed acyclic graph is written by naming: a layer with ``inputs`` reads the named
earlier rows instead of the node before it (``from NAME``), and the merge ops ``concat``,
``add`` and ``mul`` read all their inputs by name. Names are resolved by the parser, so a
Layer's ``inputs`` are always rows defined before it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, NoReturn

AttrValue = int | float | bool | str

BLOCK_KINDS = ("concat", "dense", "residual", "join", "aux", "scale", "split")
#: words that open a block in the text form
BLOCK_WORDS = (*BLOCK_KINDS, "repeat", "branch", "shortcut")


class FrozenDict(dict[str, Any]):
    """A dict that refuses every change: the read-only mapping of results and layers.

    A dict subclass (rather than ``types.MappingProxyType``) so that pydantic and ``json``
    serialise it as an object with no conversion.
    """

    __slots__ = ()

    def _read_only(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("archcalc results and layers are read only; build a new value instead")

    __setitem__ = __delitem__ = _read_only
    clear = pop = popitem = setdefault = update = __ior__ = _read_only

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))


EMPTY: FrozenDict = FrozenDict()


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
    and a tuple is the cheapest immutable record Python builds. ``attrs`` is read only (the
    parser shares one mapping among equal layers)."""

    op: str
    name: str
    line: int
    attrs: Mapping[str, AttrValue] = EMPTY
    claims: tuple[Claim, ...] = ()
    #: the named layers it reads (``from NAME``, a merge's inputs), resolved to row names;
    #: empty: the node before it
    inputs: tuple[str, ...] = ()

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


_VOLUME = re.compile(r"\s*([0-9]{1,18})\s*[xX×*]\s*([0-9]{1,18})\s*[xX×*]\s*([0-9]{1,18})\s*")


def parse_volume(text: str) -> Volume | None:
    """``"227x227x3"`` (also ``227 x 227 x 3``, ``×`` or ``*``) -> Volume; None if it is not one.
    Only ASCII digits count: ``int()`` reads ``²`` but a size is never written so."""
    m = _VOLUME.fullmatch(text)
    return Volume(int(m[1]), int(m[2]), int(m[3])) if m else None


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
    #: the rows that are its outputs (an ``output`` line); empty: the last node
    outputs: tuple[str, ...] = ()


def names_read(net: Network) -> frozenset[str]:
    """The rows some layer reads by name (``from``, a merge's inputs, ``crop to``), and the
    named outputs: the tensors an interpreter must keep beyond the next row."""
    names: set[str] = set(net.outputs)
    todo: list[Node] = list(net.nodes)
    while todo:
        node = todo.pop()
        if isinstance(node, Layer):
            names.update(node.inputs)
            if "to" in node.attrs:
                names.add(str(node.attrs["to"]))
        else:
            for branch in node.branches:
                todo.extend(branch)
    return frozenset(names)
