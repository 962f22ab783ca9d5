"""The importer's items as spec text: runs of identical units folded into ``repeat N { }``,
blocks indented, rows read by name written ``name: ...``, ``from NAME``, ``output ...``."""

from __future__ import annotations

from app.engine.errors import visible
from app.importer.blocks import nested_items
from app.importer.graph import (
    BlockItem,
    Graph,
    Item,
    Line,
    Merge,
    NotSeriesParallel,
    Outputs,
    Part,
    Refusal,
    Repeat,
)
from app.importer.named import named_items


def _shape_key(item: Item, pinned: frozenset[str]) -> str:
    """The item's spec text with every name and comment left out: equal keys, equal layers.
    A row read by name elsewhere, or reading one, keeps its name (a repeat's rows have none)."""
    if isinstance(item, Merge | Outputs) or (isinstance(item, Line) and item.src) or \
            (isinstance(item, Line | BlockItem) and item.name in pinned):
        return f"pinned {id(item)}"
    return "\n".join(render([item], names=False))


def repeats(items: list[Item], pinned: frozenset[str] = frozenset()) -> list[Item]:
    """Runs of identical items as ``repeat N { }``; the ``pinned`` rows (read by name) never
    go into one."""
    items = [_nested_repeats(i) for i in items]
    ids: dict[str, int] = {}
    keys = [ids.setdefault(_shape_key(i, pinned), len(ids)) for i in items]
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
                         tuple(tuple(repeats(list(b))) for b in item.branches), item.value)
    return item


def _first_name(item: Item) -> str:
    if isinstance(item, Repeat):
        return _first_name(item.body[0])
    return "" if isinstance(item, Outputs) else item.name


def render(items: list[Item] | tuple[Item, ...], names: bool = True, indent: int = 0) -> list[str]:
    """Spec lines for ``items``; with ``names=False`` no names and no comments (repeat bodies,
    whose layers the engine names ``.1``, ``.2``, ...)."""
    pad = "  " * indent
    out: list[str] = []
    for item in items:
        if isinstance(item, Line):
            text = f"{item.text} from {item.src}" if item.src else item.text
            line = f"{pad}{item.name}: {text}" if names else f"{pad}{text}"
            out.append(line + (f"  # {visible(item.comment)}" if item.comment and names else ""))
        elif isinstance(item, Merge):
            op = "concat" if item.kind == "cat" else item.kind
            out.append(f"{pad}{item.name}: {op} {' '.join(item.inputs)}")
        elif isinstance(item, Outputs):
            out.append(f"{pad}output {' '.join(item.names)}")
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


def to_items(graph: Graph) -> list[Item]:
    """The graph as spec items: nested blocks where the whole graph is built of them (they read
    best), else layers by name, blocks kept wherever a merge's branches are its own."""
    for node in graph.nodes.values():
        missing = next((i for i in node.inputs if i not in graph.nodes), None)
        if missing is not None:
            raise NotSeriesParallel(node.name, f"it reads {missing[:200]!r}, which is not "
                                    "computed from the input")
    try:
        return repeats(nested_items(graph))
    except NotSeriesParallel as nested:
        try:
            items, pinned = named_items(graph)
        except NotSeriesParallel:  # what the blocks could not take says best why
            raise nested from None
        return repeats(items, pinned)


def spec_text(graph: Graph, header: list[str], refused: list[Refusal]) -> str:
    """The whole spec: header comments, the input line, the layers."""
    h, w, c = graph.input_shape
    lines = [f"# {visible(t)}" if t else "#" for t in header]
    for r in refused:
        lines.append(f"# REFUSED {r}")
    lines.append(f"input {h}x{w}x{c}")
    lines.extend(render(to_items(graph)))
    return "\n".join(lines) + "\n"
