"""Blocks recovered from the importer's graph, where it is built of them.

A merge's branches start at its immediate dominator (the value every path to the merge comes
through), so an ``add`` becomes ``residual { } shortcut { }``, a ``cat`` ``concat { branch ... }``
(``dense { }`` when one branch is the merge's own input, as DenseNet's growing concatenations are
rewritten), a ``mul`` of a value and a gate computed from it ``scale { }``, a ``cat`` of the
equal channel parts of one value (``x.chunk(n, dim=1)``, each part run through its own branch:
ShuffleNet V2's unit) ``split { branch ... }``. What is not so built raises
:class:`NotSeriesParallel` naming the node; app.importer.named writes it with layers by name.
"""

from __future__ import annotations

from app.importer.graph import (
    MERGES,
    BlockItem,
    Graph,
    Item,
    Line,
    Node,
    NotSeriesParallel,
    Part,
    Repeat,
)


def dominators(graph: Graph) -> dict[str, str]:
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


def nested_items(graph: Graph) -> list[Item]:
    """The graph as spec items, from the input to the output, every merge a block (and every
    auxiliary output an ``aux { }`` block); :class:`NotSeriesParallel` where it is not so
    built."""
    if graph.aux_outputs and not graph.aux_blocks:
        raise NotSeriesParallel(graph.aux_outputs[0], "a second output")
    idom = dominators(graph)
    emitted: set[str] = set()
    items = region(graph, idom, graph.input, graph.output, emitted)
    no_parts(items)
    main = set(emitted) | {graph.input}
    for out in graph.aux_outputs:
        items = _with_aux(graph, idom, items, out, main, emitted)
    left = [n for n in graph.nodes if n not in emitted and n != graph.input]
    if left:
        raise NotSeriesParallel(left[0], "its result does not reach the output along one path "
                                "of blocks (a branch used by two merges that do not nest)")
    return name_blocks(items, set(graph.nodes))


def _with_aux(graph: Graph, idom: dict[str, str], items: list[Item], out: str,
              main: set[str], emitted: set[str]) -> list[Item]:
    """``items`` with the side branch ending at ``out`` as an ``aux { }`` block placed right
    after the main-path value it branches from (which must be at the top level)."""
    split = out
    while split not in main:
        split = idom[split]
    body = region(graph, idom, split, out, emitted)
    block = BlockItem("aux", _common_prefix([ln.name for ln in flat(body)]) or out,
                      (tuple(body),))
    if split == graph.input:
        return [block, *items]
    for i, item in enumerate(items):
        if (isinstance(item, Line) and item.name == split) or \
                (isinstance(item, BlockItem) and item.value == split):
            return [*items[:i + 1], block, *items[i + 1:]]
    raise NotSeriesParallel(out, "an auxiliary output that branches off inside a block")


def name_blocks(items: list[Item], taken: set[str]) -> list[Item]:
    """Each block named after the modules inside it (``layer2_0``, ``Mixed_5b``): the longest
    common prefix of their names, cut at an underscore; the merge's own name if none is free."""
    out: list[Item] = []
    for item in items:
        if isinstance(item, BlockItem):
            branches = tuple(tuple(name_blocks(list(b), taken)) for b in item.branches)
            names = [line.name for b in branches for line in flat(b)]
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


def region(graph: Graph, idom: dict[str, str], src: str, dst: str,
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
            branches = [region(graph, idom, split, i, emitted, depth + 1)
                        for i in node.inputs]
            out.append(make_block(node, branches, split))
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


def no_parts(items: list[Item] | tuple[Item, ...]) -> None:
    """Refuse a channel part anywhere but at the head of a split block's branch."""
    for item in items:
        if isinstance(item, Part):
            raise NotSeriesParallel(item.name, "a part of a tensor's channels that is not "
                                    "concatenated with its other parts in order; only "
                                    "split { } (each part through one branch, concatenated) "
                                    "has a block")
        if isinstance(item, BlockItem):
            for b in item.branches:
                no_parts(b)


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
        no_parts(b)
    return BlockItem("split", node.name, tuple(tuple(b) for b in rest), node.name)


def make_block(node: Node, branches: list[list[Item]], split: str) -> BlockItem:
    if node.kind != "cat":
        for b in branches:
            no_parts(b)
    if node.kind == "add":
        if len(branches) != 2:
            raise NotSeriesParallel(node.name, "an addition of more than two tensors")
        body, short = branches
        if len(flat(short)) > len(flat(body)):
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


def flat(items: list[Item] | tuple[Item, ...]) -> list[Line]:
    out: list[Line] = []
    for item in items:
        if isinstance(item, Line):
            out.append(item)
        elif isinstance(item, BlockItem):
            for b in item.branches:
                out.extend(flat(b))
        elif isinstance(item, Repeat):
            out.extend(flat(item.body) * item.times)
    return out
