"""The importer's graph, shared by the torch.fx and ONNX readers, and its recovery into blocks.

A reader turns a model into a :class:`Graph`: nodes in topological order, each a spec layer
(its spec text already written, e.g. ``conv 64 3x3 stride 2 pad 1 nobias``) or a merge (``add``,
``cat``, ``mul``) of the values it names. :func:`to_items` recovers the spec's blocks from it by
walking back from the output: a merge's branches start at its immediate dominator (the value
every path to the merge comes through), so an ``add`` becomes ``residual { } shortcut { }``, a
``cat`` ``concat { branch ... }`` (``dense { }`` when one branch is the merge's own input, as
DenseNet's growing concatenations are rewritten), a ``mul`` of a value and a gate computed from
it ``scale { }``, a ``cat`` of the equal channel parts of one value (``x.chunk(n, dim=1)``, each
part run through its own branch: ShuffleNet V2's unit) ``split { branch ... }``. A graph that
is not built of such blocks (a value used by two merges that do not nest) is refused, naming
the node. Runs of identical items become ``repeat N { }``.

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
    #: further outputs: auxiliary classifiers, which become ``aux { }`` blocks
    aux_outputs: list[str] = field(default_factory=list)
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


Item = Line | BlockItem | Repeat | Part


def _dominators(graph: Graph) -> dict[str, str]:
    """Immediate dominator of every node (nodes are in topological order)."""
    idom: dict[str, str] = {graph.input: graph.input}
    depth: dict[str, int] = {graph.input: 0}
    # In a graph of nested blocks each walk below crosses one block's own layers, so the walks
    # add up to a few times the nodes; a tangle of branches that would make them quadratic is
    # no graph of blocks, and is refused when that budget is spent.
    budget = [8 * len(graph.nodes) + 1000]

    def meet(a: str, b: str) -> str:
        while a != b:
            budget[0] -= 1
            if budget[0] < 0:
                raise NotSeriesParallel(node.name, "its branches cross other branches too "
                                        "often to be blocks nested in one another")
            if depth[a] >= depth[b]:
                a = idom[a]
            else:
                b = idom[b]
        return a

    for node in graph.nodes.values():
        if node.kind == "input":
            continue
        preds = list(dict.fromkeys(node.inputs))
        d = preds[0]
        for p in preds[1:]:
            d = meet(d, p)
        idom[node.name] = d
        depth[node.name] = depth[d] + 1
    return idom


def to_items(graph: Graph) -> list[Item]:
    """The graph as spec items, from the input to the output, blocks recovered."""
    for node in graph.nodes.values():
        missing = next((i for i in node.inputs if i not in graph.nodes), None)
        if missing is not None:
            raise NotSeriesParallel(node.name, f"it reads {missing[:200]!r}, which is not "
                                    "computed from the input")
    idom = _dominators(graph)
    emitted: set[str] = set()
    items = _region(graph, idom, graph.input, graph.output, emitted)
    _no_parts(items)
    main = set(emitted) | {graph.input}
    for out in graph.aux_outputs:
        items = _with_aux(graph, idom, items, out, main, emitted)
    left = [n for n in graph.nodes if n not in emitted and n != graph.input]
    if left:
        raise NotSeriesParallel(left[0], "its result does not reach the output along one path "
                                "of blocks (a branch used by two merges that do not nest)")
    return _repeats(_name_blocks(items, set(graph.nodes)))


def _with_aux(graph: Graph, idom: dict[str, str], items: list[Item], out: str,
              main: set[str], emitted: set[str]) -> list[Item]:
    """``items`` with the side branch ending at ``out`` as an ``aux { }`` block placed right
    after the main-path value it branches from (which must be at the top level)."""
    split = out
    while split not in main:
        split = idom[split]
    body = _region(graph, idom, split, out, emitted)
    block = BlockItem("aux", _common_prefix([ln.name for ln in _flat(body)]) or out,
                      (tuple(body),))
    if split == graph.input:
        return [block, *items]
    for i, item in enumerate(items):
        if (isinstance(item, Line) and item.name == split) or \
                (isinstance(item, BlockItem) and item.value == split):
            return [*items[:i + 1], block, *items[i + 1:]]
    raise NotSeriesParallel(out, "an auxiliary output that branches off inside a block")


def _name_blocks(items: list[Item], taken: set[str]) -> list[Item]:
    """Each block named after the modules inside it (``layer2_0``, ``Mixed_5b``): the longest
    common prefix of their names, cut at an underscore; the merge's own name if none is free."""
    out: list[Item] = []
    for item in items:
        if isinstance(item, BlockItem):
            branches = tuple(tuple(_name_blocks(list(b), taken)) for b in item.branches)
            names = [line.name for b in branches for line in _flat(b)]
            if item.kind == "split":  # its identity branch names nothing: the merge's own name
                names.append(item.name)
            prefix = _common_prefix(names)
            name = item.name if item.kind == "aux" else (
                prefix if prefix and prefix not in taken else item.name)
            taken.add(name)
            out.append(BlockItem(item.kind, name, branches, item.value))
        else:
            out.append(item)
    return out


def _common_prefix(names: list[str]) -> str:
    if len(names) < 2:
        return ""
    first, last = min(names), max(names)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    prefix = first[:n]
    if len(prefix) < len(first) and first[n - 1:n] != "_" if n else True:
        prefix = prefix.rsplit("_", 1)[0] if "_" in prefix else ""
    return prefix.rstrip("_")


#: blocks nested deeper than this are refused (the engine takes max_nesting, far fewer)
MAX_DEPTH = 64


def _region(graph: Graph, idom: dict[str, str], src: str, dst: str,
            emitted: set[str], depth: int = 0) -> list[Item]:
    out: list[Item] = []
    v = dst
    if depth > MAX_DEPTH:
        raise NotSeriesParallel(dst, f"blocks nested over {MAX_DEPTH} deep")
    while v != src:
        node = graph.nodes[v]
        if node.name in emitted:
            raise NotSeriesParallel(node.name, "its result is used by two blocks that do not "
                                    "nest; the spec language has no block for that")
        emitted.add(node.name)
        if node.kind in MERGES:
            split = idom[v]
            branches = [_region(graph, idom, split, i, emitted, depth + 1)
                        for i in node.inputs]
            out.append(_block(node, branches, split))
            v = split
        elif node.kind == "input":
            raise NotSeriesParallel(node.name, "a second input")
        elif node.kind == "part":
            if node.inputs[0] != src:
                raise NotSeriesParallel(node.name, "a channel part that is not concatenated "
                                        "again in the block where its tensor is chunked")
            index, count = (int(t) for t in node.text.split("/"))
            out.append(Part(node.name, index, count))
            v = src
        else:
            out.append(Line(node.name, node.text, node.comment))
            v = node.inputs[0]
    out.reverse()
    return out


def _no_parts(items: list[Item] | tuple[Item, ...]) -> None:
    """Refuse a channel part anywhere but at the head of a split block's branch."""
    for item in items:
        if isinstance(item, Part):
            raise NotSeriesParallel(item.name, "a part of a tensor's channels that is not "
                                    "concatenated with its other parts in order; only "
                                    "split { } (each part through one branch, concatenated) "
                                    "has a block")
        if isinstance(item, BlockItem):
            for b in item.branches:
                _no_parts(b)


def _split_block(node: Node, branches: list[list[Item]]) -> BlockItem | None:
    """A split block when every branch starts on part i of n of the same chunk, in order."""
    heads = [b[0] if b else None for b in branches]
    if not any(isinstance(h, Part) for h in heads):
        return None
    if not all(isinstance(h, Part) and (h.index, h.count) == (i, len(branches))
               for i, h in enumerate(heads)):
        raise NotSeriesParallel(node.name, "a concatenation of channel parts that is not "
                                "every part of one chunk, in order")
    rest = [b[1:] for b in branches]
    for b in rest:
        _no_parts(b)
    return BlockItem("split", node.name, tuple(tuple(b) for b in rest), node.name)


def _block(node: Node, branches: list[list[Item]], split: str) -> BlockItem:
    if node.kind != "cat":
        for b in branches:
            _no_parts(b)
    if node.kind == "add":
        if len(branches) != 2:
            raise NotSeriesParallel(node.name, "an addition of more than two tensors")
        body, short = branches
        if len(_flat(short)) > len(_flat(body)):
            body, short = short, body
        if not body:
            raise NotSeriesParallel(node.name, "x + x (both sides the identity)")
        return BlockItem("residual", node.name, (tuple(body), tuple(short)), node.name)
    if node.kind == "mul":
        if len(branches) != 2 or all(branches):
            raise NotSeriesParallel(node.name, "a product of two computed tensors; only x * "
                                    "gate(x) (squeeze-and-excitation) has a block, scale { }")
        gate = branches[0] or branches[1]
        return BlockItem("scale", node.name, (tuple(gate),), node.name)
    parts = _split_block(node, branches)
    if parts is not None:
        return parts
    if len(branches) == 2 and not branches[0] and branches[1]:
        return BlockItem("dense", node.name, (tuple(branches[1]),), node.name)
    if len(branches) < 2:
        raise NotSeriesParallel(node.name, "a concatenation of one tensor")
    return BlockItem("concat", node.name, tuple(tuple(b) for b in branches), node.name)


def _flat(items: list[Item] | tuple[Item, ...]) -> list[Line]:
    out: list[Line] = []
    for item in items:
        if isinstance(item, Line):
            out.append(item)
        elif isinstance(item, BlockItem):
            for b in item.branches:
                out.extend(_flat(b))
        elif isinstance(item, Repeat):
            out.extend(_flat(item.body) * item.times)
    return out


# -- repeats ---------------------------------------------------------------------------------

def _shape_key(item: Item) -> str:
    """The item's spec text with every name and comment left out: equal keys, equal layers."""
    return "\n".join(render([item], names=False))


def _repeats(items: list[Item]) -> list[Item]:
    items = [_nested_repeats(i) for i in items]
    ids: dict[str, int] = {}
    keys = [ids.setdefault(_shape_key(i), len(ids)) for i in items]
    runs = {p: _periodic_runs(keys, p) for p in range(1, 7)}
    blocks = [0]  # blocks[i]: how many of items[:i] are blocks
    for item in items:
        blocks.append(blocks[-1] + isinstance(item, BlockItem))
    out: list[Item] = []
    i = 0
    while i < len(items):
        best_p, best_k = 1, 1
        for p in range(1, 7):
            k = 1 + runs[p][i] // p
            if k >= 2 and k * p > best_k * best_p and blocks[min(i + p, len(items))] > blocks[i]:
                best_p, best_k = p, k
        end = i + best_k * best_p
        if best_k >= 2 and best_p > 1 and isinstance(items[i], Line) and end < len(items) \
                and keys[end] == keys[i]:
            out.append(items[i])  # the same run, one later, ends each unit with its last layer
            i += 1                # (ShuffleNet's split { } then channelshuffle 2)
            continue
        if best_k >= 2:
            names = [_first_name(items[i + j * best_p]) for j in range(best_k)]
            out.append(Repeat(best_k, tuple(items[i:i + best_p]),
                              f"{names[0]} ... {names[-1]}: {best_k} identical units"))
            i += best_k * best_p
        else:
            out.append(items[i])
            i += 1
    return out


def _periodic_runs(keys: list[int], p: int) -> list[int]:
    """For each i, how many items from i on equal the item p later (so items i to
    i + run + p - 1 repeat with period p, and hold 1 + run // p whole units): one pass from the
    end, where comparing each window again from every start would be quadratic."""
    run = [0] * (len(keys) + 1)
    for i in range(len(keys) - p - 1, -1, -1):
        run[i] = run[i + 1] + 1 if keys[i] == keys[i + p] else 0
    return run


def _nested_repeats(item: Item) -> Item:
    if isinstance(item, BlockItem):
        return BlockItem(item.kind, item.name,
                         tuple(tuple(_repeats(list(b))) for b in item.branches), item.value)
    return item


def _first_name(item: Item) -> str:
    if isinstance(item, Repeat):
        return _first_name(item.body[0])
    return item.name


# -- text ------------------------------------------------------------------------------------

def render(items: list[Item] | tuple[Item, ...], names: bool = True, indent: int = 0) -> list[str]:
    """Spec lines for ``items``; with ``names=False`` no names and no comments (repeat bodies,
    whose layers the engine names ``.1``, ``.2``, ...)."""
    pad = "  " * indent
    out: list[str] = []
    for item in items:
        if isinstance(item, Line):
            line = f"{pad}{item.name}: {item.text}" if names else f"{pad}{item.text}"
            out.append(line + (f"  # {visible(item.comment)}" if item.comment and names else ""))
        elif isinstance(item, Part):
            continue  # only at a split branch's head, where it is removed
        elif isinstance(item, Repeat):
            if names:
                out.append(f"{pad}# {visible(item.comment)}")
            out.append(f"{pad}repeat {item.times} {{")
            out.extend(render(item.body, False, indent + 1))
            out.append(f"{pad}}}")
        else:
            out.extend(_render_block(item, names, indent))
    return out


def _render_block(item: BlockItem, names: bool, indent: int) -> list[str]:
    pad = "  " * indent
    head = f"{pad}{item.name}: " if names else pad
    if item.kind == "residual":
        body, short = item.branches
        out = [f"{head}residual {{", *render(body, names, indent + 1)]
        if short:
            out += [f"{pad}}} shortcut {{", *render(short, names, indent + 1)]
        return [*out, f"{pad}}}"]
    if item.kind in ("dense", "scale", "aux"):
        return [f"{head}{item.kind} {{", *render(item.branches[0], names, indent + 1), f"{pad}}}"]
    out = [f"{head}{'split' if item.kind == 'split' else 'concat'} {{"]
    for branch in item.branches:
        if branch:
            out += [f"{pad}  branch {{", *render(branch, names, indent + 2), f"{pad}  }}"]
        else:
            out.append(f"{pad}  branch {{ }}")
    return [*out, f"{pad}}}"]


def spec_text(graph: Graph, header: list[str], refused: list[Refusal]) -> str:
    """The whole spec: header comments, the input line, the layers."""
    h, w, c = graph.input_shape
    lines = [f"# {visible(t)}" if t else "#" for t in header]
    for r in refused:
        lines.append(f"# REFUSED {r}")
    lines.append(f"input {h}x{w}x{c}")
    lines.extend(render(to_items(graph)))
    return "\n".join(lines) + "\n"
