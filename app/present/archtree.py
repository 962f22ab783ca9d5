"""The blocks of a network as the architecture diagram groups them, and the labels its boxes carry.

The engine's rows name their block as a slash-separated path; this module rebuilds the tree of
blocks, branches and layers from those paths, folds activations into the layer they follow, writes
each layer as the slides do ("3x3 conv, 64, /2") and collapses runs of blocks that read the same
into one block with its count, so :mod:`app.present.archdiagram` only has to place them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.engine.optable import FOLDED_OPS, MERGE_ROW_OPS
from app.engine.result import LayerRow

#: merges of named rows, as their boxes name them
NAMED_MERGES = {"concat": "concat", "add": "+", "mul": "x"}
_STRIDE = re.compile(r", /\d+")


# -- the tree of a network -------------------------------------------------------------------
@dataclass(slots=True)
class Layer:
    rows: list[LayerRow]


@dataclass(slots=True)
class Group:
    name: str
    parts: list[tuple[str, list[Layer | Group]]]
    merge: LayerRow | None = None
    after: list[LayerRow] = field(default_factory=list)
    times: int = 1

    def rows(self) -> list[LayerRow]:
        """Every engine row the block stands for (its repeats included)."""
        rows = [r for _, items in self.parts for i in items for r in _rows(i)]
        return rows + ([self.merge] if self.merge else []) + self.after

    @property
    def kind(self) -> str:
        if self.merge is None:
            return "aux"
        if self.merge.op == "add":
            return "residual"
        if self.merge.op == "concat" and [p for p, _ in self.parts] == ["body"]:
            return "dense"
        return "branches"


Item = Layer | Group


def _segments(block: str) -> tuple[str, ...]:
    return tuple(block.split("/")) if block else ()


def tree(rows: Sequence[LayerRow], prefix: tuple[str, ...] = ()) -> list[Item]:
    """The blocks and layers of ``rows`` (all inside ``prefix``), in order."""
    out: list[Item] = []
    i = 0
    while i < len(rows):
        rel = _segments(rows[i].block)[len(prefix):]
        if not rel:
            _direct(out, rows[i])
            i += 1
            continue
        j = i
        while j < len(rows) and _segments(rows[j].block)[len(prefix):][:1] == rel[:1]:
            j += 1
        out.append(_group(rel[0], rows[i:j], prefix))
        i = j
    return out


def _direct(out: list[Item], row: LayerRow) -> None:
    last = out[-1] if out else None
    if isinstance(last, Group) and row.op in MERGE_ROW_OPS and last.merge is None and \
            last.name == row.name:
        last.merge = row
    elif row.inputs:  # a row that reads by name starts a box of its own
        out.append(Layer([row]))
    elif row.op in FOLDED_OPS and isinstance(last, Group):
        last.after.append(row)
    elif row.op in FOLDED_OPS and isinstance(last, Layer) and last.rows[0].op != "input":
        last.rows.append(row)
    else:
        out.append(Layer([row]))


def _group(name: str, rows: Sequence[LayerRow], prefix: tuple[str, ...]) -> Group:
    parts: dict[str, list[LayerRow]] = {}
    for r in rows:
        rel = _segments(r.block)[len(prefix) + 1:]
        parts.setdefault(rel[0] if rel else "", []).append(r)
    return Group(name, [(p, tree(rs, prefix + ((name, p) if p else (name,))))
                        for p, rs in parts.items()])


# -- labels and runs -------------------------------------------------------------------------
def label(row: LayerRow) -> str:
    """A layer as the slides write it: '7x7 conv, 64, /2', 'pool, /2', 'fc 4096'; a merge of
    named rows names them ('+ c1, c3'), a layer that reads a named row says so."""
    if row.op in NAMED_MERGES and row.inputs:
        return f"{NAMED_MERGES[row.op]} {', '.join(row.inputs)}"
    text = _label(row)
    return f"{text} (from {row.inputs[0]})" if row.inputs else text


def _label(row: LayerRow) -> str:
    a = row.attrs
    stride = f", /{a['sh']}" if a.get("sh", 1) != 1 else ""
    if row.op in ("conv", "convtranspose"):
        kind = "deconv" if row.op == "convtranspose" else "conv"
        if a.get("depthwise"):  # groups = the input's channels, filters as many unless given
            return f"{a['kh']}x{a['kw']} depthwise {kind}, {row.output.c}{stride}"
        groups = f", groups {a['groups']}" if a.get("groups", 1) != 1 else ""
        return f"{a['kh']}x{a['kw']} {kind}, {a['out']}{stride}{groups}"
    if row.op == "sepconv":
        return f"{a['kh']}x{a['kw']} sepconv, {a['out']}{stride}"
    if row.op == "crop":
        return f"crop {row.output.h}x{row.output.w}"
    if row.op == "fc":
        return f"fc {a['out']}"
    if row.op in ("maxpool", "avgpool"):
        kind = "max" if row.op == "maxpool" else "avg"
        return f"{kind} pool {a['kh']}x{a['kw']}{stride}"
    if row.op in ("gap", "adaptiveavgpool"):
        return "avg pool (global)"
    if row.op == "lrn":
        return "norm (LRN)"
    return row.op


def _plain(text: str) -> str:
    """A label without its stride: the first block of a stage reads as the others."""
    return _STRIDE.sub("", text)


def signature(item: Item) -> tuple[object, ...]:
    if isinstance(item, Layer):
        return ("layer", _plain(label(item.rows[0])))
    parts = tuple((p, tuple(signature(i) for i in items)) for p, items in item.parts
                  if p != "shortcut")
    return (item.kind, parts)


def collapse(items: list[Item]) -> list[Item]:
    """Runs of blocks that read the same become one block drawn with its count."""
    out: list[Item] = []
    for item in items:
        if isinstance(item, Group):
            item.parts = [(p, collapse(sub)) for p, sub in item.parts]
            last = out[-1] if out else None
            if isinstance(last, Group) and signature(last) == signature(item):
                last.times += 1
                last.after.extend(item.rows())
                continue
        out.append(item)
    return out


def _rows(item: Item) -> list[LayerRow]:
    if isinstance(item, Layer):
        return list(item.rows)
    return item.rows()


__all__ = ["Group", "Item", "Layer", "collapse", "label", "signature", "tree"]
