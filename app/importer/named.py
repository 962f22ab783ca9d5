"""Any importer graph as spec items with layers by name, blocks kept where they fit.

A graph that is not built of nested blocks (a second skip from an earlier layer, an FPN's top-down
path, a value read by merges that do not nest, several outputs) is written row by row: every row
named, ``from NAME`` where a row does not read the row above it, merges that name their inputs
(``concat a b c``) and an ``output`` line where the outputs are not just the last row. A merge
whose branches are its own (nothing in them is read from outside, nor is an output) is still
written as its block, which reads better.

The rows are ordered as the graph lists them, except that a row reading the row just written
comes next where it can, so fewer rows need ``from``.
"""

from __future__ import annotations

import heapq
import re
from collections import defaultdict
from dataclasses import dataclass, replace

from app.importer.blocks import dominators, make_block, name_blocks, no_parts, region
from app.importer.graph import (
    MERGES,
    BlockItem,
    Graph,
    Item,
    Line,
    Merge,
    NotSeriesParallel,
    Outputs,
)

#: a name the spec language reads after ``from`` (as app.engine.notation's references)
_NAME = re.compile(r"[A-Za-z_][\w.\-]*")
#: words a row's name must not be: the input's own name, and the spec's keywords
_RESERVED = frozenset({"input", "output", "outputs", "from", "to"})


@dataclass(frozen=True, slots=True)
class _Unit:
    """One top-level row to write: a layer, a merge by name, or a block standing for its
    branches; ``reads`` the graph values it needs, ``value`` the one it makes."""

    index: int
    item: Item
    reads: tuple[str, ...]
    value: str


def named_items(graph: Graph, keep_blocks: bool = True) -> tuple[list[Item], frozenset[str]]:
    """The graph's items with layers by name, and the names some row reads (they must keep
    their rows out of any ``repeat``); without ``keep_blocks`` every merge is written by name."""
    try:
        idom = dominators(graph) if keep_blocks else {}
    except NotSeriesParallel:  # no blocks at all: every merge by name
        idom = {}
    outputs = list(dict.fromkeys(o for o in (graph.output, *graph.aux_outputs) if o))
    blocks, inside = _blocks(graph, idom, set(outputs))
    names = _row_names(graph)
    units: list[_Unit] = []
    for node in graph.nodes.values():
        if node.kind == "input" or node.name in inside:
            continue
        i = len(units)
        if node.name in blocks:
            block, split = blocks[node.name]
            units.append(_Unit(i, block, (split,), node.name))
        elif node.kind in MERGES:
            units.append(_Unit(i, Merge(names[node.name], node.kind, node.inputs),
                               tuple(dict.fromkeys(node.inputs)), node.name))
        elif node.kind == "part":
            raise NotSeriesParallel(node.name, "a part of a tensor's channels that is not "
                                    "concatenated with its other parts in order; only "
                                    "split { } (each part through one branch, concatenated) "
                                    "has a block")
        else:
            units.append(_Unit(i, Line(names[node.name], node.text, node.comment,
                                       node.inputs[0]), node.inputs[:1], node.name))
    ordered = _order(units, graph.input)
    taken = set(graph.nodes) | set(names.values()) | _RESERVED
    named = name_blocks([u.item for u in ordered], taken)
    label = {graph.input: "input"}
    for u, item in zip(ordered, named, strict=True):
        assert isinstance(item, Line | Merge | BlockItem)
        label[u.value] = item.name
    items = _with_refs(ordered, named, label, graph.input, taken)
    last = ordered[-1].value if ordered else graph.input
    if outputs and outputs != [last]:
        items.append(Outputs(tuple(label[o] for o in outputs)))
    read = {label[v] for u in ordered for v in u.reads} | {label[o] for o in outputs}
    return items, frozenset(read)


def _row_names(graph: Graph) -> dict[str, str]:
    """Each node's row name: its own where the spec can read it after ``from``, else a
    spelling it can (an ONNX name may start with a digit), never a keyword."""
    used = set(graph.nodes) | _RESERVED
    out: dict[str, str] = {}
    for name in graph.nodes:
        if _NAME.fullmatch(name) and name not in _RESERVED:
            out[name] = name
            continue
        base = "n_" + re.sub(r"[^\w.\-]", "_", name)
        fixed, k = base, 1
        while fixed in used:
            k += 1
            fixed = f"{base}_{k}"
        used.add(fixed)
        out[name] = fixed
    return out


def _blocks(graph: Graph, idom: dict[str, str], outputs: set[str],
            ) -> tuple[dict[str, tuple[BlockItem, str]], set[str]]:
    """The merges whose branches are their own, outermost first, as blocks (with the value
    they start from), and every node inside one of them.

    A merge's branches are its own when the merge post-dominates where they start (every path
    from there to an output goes through the merge): then nothing in them is read from
    outside, nor is an output."""
    ipdom = _post_dominators(graph, outputs)
    found: dict[str, tuple[BlockItem, str]] = {}
    inside: set[str] = set()
    if ipdom is None:
        return found, inside
    budget = 8 * len(graph.nodes) + 1000  # the walks up the post-dominator tree, all together
    for node in reversed(graph.nodes.values()):
        if node.kind not in MERGES or node.name in inside or node.name not in idom:
            continue
        split = idom[node.name]
        at = split
        while budget > 0 and ipdom[at][1] > ipdom[node.name][1]:
            at = ipdom[at][0]
            budget -= 1
        if budget <= 0:
            break
        if at != node.name:
            continue
        emitted: set[str] = set()
        try:
            branches = [region(graph, idom, split, i, emitted) for i in node.inputs]
            block = make_block(node, branches, split)
            no_parts([block])
        except NotSeriesParallel:
            continue
        found[node.name] = (block, split)
        inside |= emitted
    return found, inside


#: where every output goes: the root of the post-dominator tree
_EXIT = "\0exit"


def _post_dominators(graph: Graph, outputs: set[str]) -> dict[str, tuple[str, int]] | None:
    """Each node's immediate post-dominator and its depth in that tree (rows no one reads
    lead to the exit as outputs do); None where the branches cross too often to find them in
    linear time."""
    readers: dict[str, list[str]] = defaultdict(list)
    for node in graph.nodes.values():
        for i in dict.fromkeys(node.inputs):
            readers[i].append(node.name)
    tree: dict[str, tuple[str, int]] = {_EXIT: (_EXIT, 0)}
    budget = 8 * len(graph.nodes) + 1000
    for node in reversed(graph.nodes.values()):
        after = readers[node.name] + ([_EXIT] if node.name in outputs or
                                      not readers[node.name] else [])
        d = after[0]
        for b in after[1:]:
            while d != b:
                budget -= 1
                if budget < 0:
                    return None
                if tree[d][1] >= tree[b][1]:
                    d = tree[d][0]
                else:
                    b = tree[b][0]
        tree[node.name] = (d, tree[d][1] + 1)
    return tree


def _order(units: list[_Unit], start: str) -> list[_Unit]:
    """The units in an order that computes every value before it is read: the graph's own,
    except that a unit reading the value just made comes next where one can."""
    waiting = {u.index: len(set(u.reads)) for u in units}
    by_value: dict[str, list[_Unit]] = defaultdict(list)
    for u in units:
        for v in set(u.reads):
            by_value[v].append(u)
    ready: list[int] = []
    ready_after: dict[str, list[int]] = defaultdict(list)
    done: set[int] = set()
    out: list[_Unit] = []

    def made(value: str) -> None:
        for u in by_value.get(value, ()):
            waiting[u.index] -= 1
            if waiting[u.index] == 0:
                heapq.heappush(ready, u.index)
                for v in set(u.reads):
                    heapq.heappush(ready_after[v], u.index)

    for u in units:
        if not u.reads:
            heapq.heappush(ready, u.index)
    made(start)
    current = start
    while len(out) < len(units):
        nxt = _first_left(ready_after.get(current, []), done)
        if nxt is None:
            nxt = _first_left(ready, done)
        if nxt is None:  # cannot happen in a graph in topological order
            raise NotSeriesParallel(units[len(out)].value, "a row that reads itself")
        done.add(nxt)
        out.append(units[nxt])
        current = units[nxt].value
        made(current)
    return out


def _first_left(heap: list[int], done: set[int]) -> int | None:
    while heap and heap[0] in done:
        heapq.heappop(heap)
    return heap[0] if heap else None


def _with_refs(ordered: list[_Unit], named: list[Item], label: dict[str, str], start: str,
               taken: set[str]) -> list[Item]:
    """The items with their inputs as row names, ``from`` only where a row does not read the
    row above it; a block that does not (blocks take no ``from``), or a merge naming one row
    twice, reads a view of it (``identity``: no new values)."""
    out: list[Item] = []
    current = start

    def view(of: str) -> str:
        base = f"{label[of]}_view"
        name, k = base, 1
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        taken.add(name)
        out.append(Line(name, "identity", "", label[of]))
        return name

    for u, item in zip(ordered, named, strict=True):
        if isinstance(item, Line):
            item = replace(item, src="" if item.src == current else label[item.src])
        elif isinstance(item, Merge):
            ins: list[str] = []
            for v in item.inputs:
                ins.append(label[v] if label[v] not in ins else view(v))
            item = replace(item, inputs=tuple(ins))
        elif isinstance(item, BlockItem) and u.reads[0] != current:
            view(u.reads[0])
        out.append(item)
        current = u.value
    return out
