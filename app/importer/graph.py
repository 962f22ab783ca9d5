"""The importer's graph, shared by the torch.fx and ONNX readers, and the spec items made of it.

A reader turns a model into a :class:`Graph`: nodes in topological order, each a spec layer
(its spec text already written, e.g. ``conv 64 3x3 stride 2 pad 1 nobias``) or a merge (``add``,
``cat``, ``mul``) of the values it names. app.importer.blocks recovers the spec's nested blocks
from it where the graph is built of them; app.importer.named writes any other graph with
layers by name (``from NAME``, ``concat a b c``, ``output a b``); app.importer.emit turns the
items into spec text.

Pure Python: no torch, no onnx.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from app.engine.errors import visible

#: ``part``: share i of n of its input's channels (``text`` is ``"i/n"``), from a channel chunk
Kind = Literal["input", "layer", "add", "cat", "mul", "part"]
MERGES = ("add", "cat", "mul")


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    kind: Kind
    inputs: tuple[str, ...] = ()
    #: the spec text of a layer, e.g. ``conv 64 3x3 stride 2 pad 1 nobias``
    text: str = ""
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Refusal:
    """A node the spec language cannot express: never silently dropped."""

    node: str
    target: str
    reason: str

    def __post_init__(self) -> None:
        # the op's name and the reason come from the file: one line each, every character seen
        # (a newline in an ONNX op_type would otherwise start a line of the spec)
        for name in ("node", "target", "reason"):
            object.__setattr__(self, name, visible(getattr(self, name)))

    def __str__(self) -> str:
        return f"{self.node} ({self.target}): {self.reason}"


class NotSeriesParallel(ValueError):
    """The graph has a value shared by merges that do not nest: no spec block matches it."""

    def __init__(self, node: str, reason: str) -> None:
        super().__init__(f"{node}: {reason}")
        self.node = node
        self.reason = reason


@dataclass
class Graph:
    input: str
    input_shape: tuple[int, int, int]
    output: str = ""
    #: further outputs: auxiliary classifiers (``aux { }`` blocks, with ``aux_blocks``) or
    #: more heads (``output main head2 ...``)
    aux_outputs: list[str] = field(default_factory=list)
    aux_blocks: bool = False
    nodes: dict[str, Node] = field(default_factory=dict)
    #: concatenations seen, by their inputs: DenseNet's cat([x0, f1, f2]) is cat(cat([x0, f1]), f2)
    cats: dict[tuple[str, ...], str] = field(default_factory=dict)

    def add(self, node: Node) -> None:
        self.nodes[node.name] = node

    def add_cat(self, name: str, inputs: tuple[str, ...]) -> str:
        """A channel concatenation; returns the value that stands for it (a lone input is
        itself). Its longest prefix already concatenated is reused, so DenseNet's growing lists
        become one ``dense { }`` a layer."""
        if len(inputs) == 1:
            self.cats.setdefault(inputs, inputs[0])
            return inputs[0]
        merged = inputs
        for k in range(len(inputs) - 1, 0, -1):
            if inputs[:k] in self.cats:
                merged = (self.cats[inputs[:k]], *inputs[k:])
                break
        self.add(Node(name, "cat", merged))
        self.cats[inputs] = name
        return name


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    text: str
    comment: str = ""
    #: the name of the row it reads when that is not the row above it (``from NAME``)
    src: str = ""


@dataclass(frozen=True, slots=True)
class BlockItem:
    kind: str  # residual, concat, dense, scale, split, aux
    name: str
    branches: tuple[tuple[Item, ...], ...]
    #: the graph value the block's merge produces ("" for aux)
    value: str = ""


@dataclass(frozen=True, slots=True)
class Repeat:
    times: int
    body: tuple[Item, ...]
    comment: str


@dataclass(frozen=True, slots=True)
class Part:
    """Where a branch starts on share ``index`` of ``count`` of a value's channels (a chunk);
    only a ``split`` block's branch may start so."""

    name: str
    index: int
    count: int


@dataclass(frozen=True, slots=True)
class Merge:
    """A merge that names its inputs: ``name: concat a b c``, ``add a b``, ``mul x gate``."""

    name: str
    kind: str  # add, cat, mul
    inputs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Outputs:
    """The network's outputs by name, where they are not just the last row (``output a b``)."""

    names: tuple[str, ...]


Item = Line | BlockItem | Repeat | Part | Merge | Outputs
