"""Geometry of the architecture diagram, drawn as the lecture's slides draw networks.

Layers are stacked boxes labelled like the slides ("3x3 conv, 64", "pool, /2"), activations and
normalisations folded into the layer they follow; the branches of a concat, split or join stand
side by side (an Inception module shows its four); a residual block's identity shortcut is an arc
beside its body (a projection shortcut is a column of its own); an auxiliary classifier is a
dashed frame. The engine expands ``repeat``, so runs are found again here: consecutive blocks
whose layers read the same (a stride or a projection shortcut aside, as the first block of a
ResNet stage differs) are drawn once with "x N" (ResNet-50: x3, x4, x6, x3). Each box's shade
(``s0``..``s5``, log scale) shows its output volume or its MACs; each box knows the engine rows
it stands for, so the page can link it to the table.

Plain frozen dataclasses, no Jinja, no FastAPI; coordinates are SVG user units. Layer boxes are
as wide as the diagram's longest label needs (:mod:`app.present.labels` measures it), and a block's
name is shortened, whole in its ``<title>``, where the repeat badge leaves it no room.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from app.engine.result import Analysis, LayerRow
from app.present.archtree import Group, Item, Layer, collapse, label, signature, tree
from app.present.formats import compact
from app.present.labels import FONTS, Label, fit, text_width

Metric = Literal["volume", "macs"]
BOX_W, BOX_H, MERGE_W = 190.0, 30.0, 150.0
V_GAP, H_GAP, PAD, LABEL_H, ARC_W, MARGIN = 14.0, 16.0, 8.0, 18.0, 34.0, 12.0
#: the repeat badge ("x3") at a block's top right
BADGE_W = 48.0
SHADES = 6


# -- geometry -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Box:
    label: str
    sub: str
    x: float
    y: float
    w: float
    h: float
    kind: str  # layer | merge | add
    shade: int
    rows: tuple[int, ...]
    value: int

    def texts(self, metric: str) -> tuple[Label, Label]:
        """The box's label and, under it, its output volume (and MACs when they shade it)."""
        sub = self.sub + (f" · {compact(self.value)} MACs" if metric == "macs" and self.value
                          else "")
        centre = self.x + self.w / 2
        return (fit(Label(centre, self.y + 14, self.label, "box-label", "middle"), self.w - 4),
                fit(Label(centre, self.y + 27.3, sub, "box-sub", "middle"), self.w - 4))


@dataclass(frozen=True, slots=True)
class Frame:
    label: str
    kind: str
    x: float
    y: float
    w: float
    h: float
    times: int
    #: the x of each branch column's centre (side by side), for a group with branches
    columns: tuple[float, ...] = ()

    def texts(self) -> tuple[Label, ...]:
        """The block's name at its top left, and its repeat count ("x3") at its top right."""
        badge = BADGE_W + 8 if self.times > 1 else 0.0
        head = fit(Label(self.x + 8, self.y + 17, self.label, "frame-label"),
                   self.w - 16 - badge)
        if self.times <= 1:
            return (head,)
        return head, Label(self.x + self.w - 4 - BADGE_W / 2, self.y + 18, f"x{self.times}",
                           "times", "middle")


@dataclass(frozen=True, slots=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True, slots=True)
class Arc:
    d: str


@dataclass(slots=True)
class Frag:
    w: float
    h: float
    boxes: list[Box] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    arcs: list[Arc] = field(default_factory=list)

    def add(self, other: Frag, dx: float, dy: float) -> None:
        self.boxes += [replace(b, x=b.x + dx, y=b.y + dy) for b in other.boxes]
        self.frames += [replace(f, x=f.x + dx, y=f.y + dy,
                                columns=tuple(c + dx for c in f.columns)) for f in other.frames]
        self.lines += [Line(ln.x1 + dx, ln.y1 + dy, ln.x2 + dx, ln.y2 + dy) for ln in other.lines]
        self.arcs += [Arc(_shift_path(a.d, dx, dy)) for a in other.arcs]


def _shift_path(d: str, dx: float, dy: float) -> str:
    tokens = d.split()
    out, axis = [], 0
    for t in tokens:
        if t.isalpha():
            out.append(t)
            axis = 0
            continue
        out.append(f"{float(t) + (dx if axis % 2 == 0 else dy):.1f}")
        axis += 1
    return " ".join(out)


@dataclass(frozen=True, slots=True)
class Diagram:
    title: str
    desc: str
    width: float
    height: float
    metric: str
    boxes: tuple[Box, ...]
    frames: tuple[Frame, ...]
    lines: tuple[Line, ...]
    arcs: tuple[Arc, ...]

    def labels(self) -> tuple[Label, ...]:
        """Every text the diagram draws, where it draws it."""
        return (tuple(t for f in self.frames for t in f.texts()) +
                tuple(t for b in self.boxes for t in b.texts(self.metric)))


def _box_width(rows: Sequence[LayerRow], metric: Metric) -> float:
    """As wide as the longest layer label (or its output volume with MACs) needs."""
    widths = [text_width(label(r), FONTS["box-label"]) for r in rows]
    sub = 22 if metric == "macs" else 11  # "112x112x64 · 118M MACs"
    widths += [text_width("0" * sub, FONTS["box-sub"])]
    return max(BOX_W, math.ceil(max(widths) + 12))


class _Layout:
    def __init__(self, metric: Metric, values: Sequence[int], box_w: float = BOX_W) -> None:
        self.metric = metric
        self.box_w = box_w
        positive = [v for v in values if v > 0]
        self.lo, self.hi = (min(positive), max(positive)) if positive else (1, 1)

    def value(self, rows: Sequence[LayerRow]) -> int:
        if self.metric == "macs":
            return sum(r.macs for r in rows)
        out = rows[-1].output
        return out.h * out.w * out.c

    def shade(self, value: int) -> int:
        if value <= 0 or self.hi == self.lo:
            return 0 if value <= 0 else SHADES - 1
        t = math.log(value / self.lo) / math.log(self.hi / self.lo)
        return max(0, min(SHADES - 1, int(t * SHADES)))

    def box(self, rows: Sequence[LayerRow], text: str, kind: str, w: float) -> Frag:
        value = self.value(rows)
        out = rows[-1].output
        box = Box(text, f"{out.h}x{out.w}x{out.c}", 0, 0, w, BOX_H, kind, self.shade(value),
                  tuple(r.index for r in rows), value)
        return Frag(w, BOX_H, boxes=[box])

    def item(self, item: Item) -> Frag:
        if isinstance(item, Layer):
            main = item.rows[0]
            text = "input" if main.op == "input" else label(main)
            return self.box(item.rows, text, "layer", self.box_w)
        return self.group(item)

    def seq(self, items: Sequence[Item]) -> Frag:
        """Items stacked top to bottom; an auxiliary classifier stands to the right of the
        layer it branches off, linked by a dashed line (the main path does not go through it)."""
        placed: list[tuple[Frag, bool]] = [(self.item(i), _is_aux(i)) for i in items]
        width = max((f.w for f, aux in placed if not aux), default=0.0)
        side_w = max((f.w for f, aux in placed if aux), default=0.0)
        out, y, last_top, last_w, bottom = Frag(width, 0), 0.0, 0.0, 0.0, 0.0
        for f, aux in placed:
            if aux:
                x = width + H_GAP
                out.add(f, x, last_top)
                out.arcs.append(Arc(f"M {(width + last_w) / 2:.1f} {last_top + LABEL_H:.1f} "
                                    f"L {x:.1f} {last_top + LABEL_H:.1f}"))
                bottom = max(bottom, last_top + f.h)
                continue
            if y:
                out.lines.append(Line(width / 2, y - V_GAP, width / 2, y))
            out.add(f, (width - f.w) / 2, y)
            last_top, last_w = y, f.w
            y += f.h + V_GAP
        out.w = width + (H_GAP + side_w if side_w else 0.0)
        out.h = max(y - V_GAP, bottom, 0.0)
        return out

    def group(self, g: Group) -> Frag:
        kind = g.kind
        head = g.name if g.kind != "aux" else f"{g.name} (auxiliary classifier)"
        top = PAD + LABEL_H
        parts = [(p, self.seq(items)) for p, items in g.parts]
        out = Frag(0, 0)
        if kind in ("residual", "dense"):
            body = next((f for p, f in parts if p == "body"), parts[0][1])
            short = next((f for p, f in parts if p == "shortcut" and f.boxes), None)
            cols = [body] + ([short] if short else [])
        else:
            cols = [f for _, f in parts]
        inner = sum(c.w for c in cols) + H_GAP * (len(cols) - 1)
        split = g.merge is not None and g.merge.attrs.get("kind") == "split"
        # a lone column beside an identity: a residual's or dense block's input, or the share
        # of a split block that passes unchanged, is an arc
        arc = ARC_W if (kind in ("residual", "dense") or split) and len(cols) == 1 else 0.0
        width = max(inner + arc, MERGE_W) + 2 * PAD
        x, centres, y0 = PAD + (width - 2 * PAD - inner - arc) / 2, [], top + V_GAP
        tallest = max((c.h for c in cols), default=0.0)
        merge_y = y0 + tallest + V_GAP
        for c in cols:
            out.add(c, x, y0)
            centre = x + c.w / 2
            centres.append(centre)
            out.lines.append(Line(width / 2, top, centre, y0))
            # a short column runs straight down to the row of the tallest one's end first,
            # so its line to the merge cannot cut through a longer column's boxes
            if c.h < tallest:
                out.lines.append(Line(centre, y0 + c.h, centre, y0 + tallest))
            out.lines.append(Line(centre, y0 + tallest, width / 2, merge_y))
            x += c.w + H_GAP
        if arc:
            right = PAD + inner + arc / 2 + (width - 2 * PAD - inner - arc) / 2
            out.arcs.append(Arc(f"M {width / 2:.1f} {top:.1f} C {right + arc:.1f} {top:.1f} "
                                f"{right + arc:.1f} {merge_y:.1f} {width / 2:.1f} "
                                f"{merge_y:.1f}"))
        height = merge_y
        if g.merge is not None:
            text = {"add": "+", "concat": "concat", "join": "join", "scale": "x"}[g.merge.op]
            if g.merge.attrs.get("kind") == "split":
                text = "split, concat"  # each branch read its share of the channels
            merge = self.box([g.merge], text, "add" if g.merge.op == "add" else "merge", MERGE_W)
            out.add(merge, (width - MERGE_W) / 2, merge_y)
            height = merge_y + BOX_H
        out.w, out.h = width, height + PAD
        out.frames.insert(0, Frame(head, kind, 0, 0, width, out.h, g.times,
                                   tuple(centres) if kind == "branches" else ()))
        return out


def _is_aux(item: Item) -> bool:
    return isinstance(item, Group) and item.kind == "aux"


def diagram(analysis: Analysis, name: str = "the network",
            metric: Metric = "volume") -> Diagram:
    """The whole network laid out top to bottom; ``metric`` picks what the shades show."""
    items = collapse(tree(analysis.layers))
    values = ([r.macs for r in analysis.layers] if metric == "macs" else
              [r.output.h * r.output.w * r.output.c for r in analysis.layers])
    frag = _Layout(metric, values, _box_width(analysis.layers, metric)).seq(items)
    skips = _skips(analysis, frag)
    out = Frag(frag.w + 2 * MARGIN + (ARC_W if skips else 0.0), frag.h + 2 * MARGIN)
    out.add(frag, MARGIN, MARGIN)
    out.arcs += [Arc(_shift_path(a.d, MARGIN, MARGIN)) for a in skips]
    return Diagram(f"Architecture of {name}", _desc(items, name, metric), out.w, out.h, metric,
                   tuple(out.boxes), tuple(out.frames), tuple(out.lines), tuple(out.arcs))


def _skips(analysis: Analysis, frag: Frag) -> list[Arc]:
    """An arc on the right from each named row to the box that reads it, unless that box comes
    right after it (the line between them shows it already)."""
    box_of = {i: b for b in frag.boxes for i in b.rows}
    index = {r.name: r.index for r in analysis.layers}
    order = sorted(frag.boxes, key=lambda b: (b.y, b.x))
    after = {id(a): b for a, b in itertools.pairwise(order)}
    pairs = []
    for row in analysis.layers:
        to = box_of.get(row.index)
        for name in row.inputs:
            src = box_of.get(index.get(name, -1))
            if to is None or src is None or src is to or after.get(id(src)) is to:
                continue
            pairs.append((src, to))
    # longer skips bend further out, so that nested skips do not cross
    pairs.sort(key=lambda p: abs(p[1].y - p[0].y))
    arcs = []
    for rank, (src, to) in enumerate(pairs):
        x1, y1 = src.x + src.w, src.y + src.h / 2
        x2, y2 = to.x + to.w, to.y + to.h / 2
        bend = max(x1, x2) + ARC_W * (rank + 1) / len(pairs)
        arcs.append(Arc(f"M {x1:.1f} {y1:.1f} C {bend:.1f} {y1:.1f} {bend:.1f} {y2:.1f} "
                        f"{x2:.1f} {y2:.1f}"))
    return arcs


def _desc(items: Sequence[Item], name: str, metric: str) -> str:
    words = []
    for i in items:
        if isinstance(i, Layer):
            words.append("input" if i.rows[0].op == "input" else label(i.rows[0]))
        else:
            n = len(i.parts)
            shape = {"branches": f"{n} branches side by side", "residual": "a residual block",
                     "dense": "a dense block", "aux": "an auxiliary classifier"}[i.kind]
            words.append(f"{i.name}: {shape}" + (f", x{i.times}" if i.times > 1 else ""))
    shade = "output volume" if metric == "volume" else "multiply-adds"
    return f"{name}, top to bottom: " + "; ".join(words) + f". Shade shows each box's {shade}."


#: the tree and its labels are re-exported so that callers keep one import for the diagram
__all__ = ["Arc", "Box", "Diagram", "Frame", "Group", "Layer", "Line", "collapse", "diagram",
           "label", "signature", "tree"]
