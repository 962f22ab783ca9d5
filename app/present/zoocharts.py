"""The zoo's charts: published top-1 against computed MACs (bubble area = parameters), and the
ILSVRC winners' top-5 error by year with the human level marked. Geometry as in
:mod:`app.present.chartgeometry`, whose dataclasses and axes they share; every label is placed
so that none overlaps another, a bubble, a bar or the box's edge, a bubble's name moving round it, out
along a leader line, or into a numbered key when its neighbourhood is full.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from app.present.chartgeometry import (
    BOTTOM,
    HEIGHT,
    LINE,
    NARROW_HEIGHT,
    NARROW_WIDTH,
    RIGHT,
    TOP,
    WIDTH,
    Bar,
    BarChart,
    Bubble,
    BubbleChart,
    Mark,
    Panel,
    axes,
    linear,
    make_ticks,
    plot_left,
    y_tick_labels,
)
from app.present.formats import compact
from app.present.labels import (
    FONTS,
    Anchor,
    Label,
    Placer,
    Rect,
    Shape,
    fit,
    line_height,
    text_width,
    thin,
)


@dataclass(frozen=True, slots=True)
class ZooPoint:
    """What the complexity chart needs of one zoo model."""

    model: str
    label: str
    macs: int
    top1: float
    params: int


#: the largest bubble's radius; a bubble's area is proportional to its parameters
MAX_RADIUS = 34.0


def _around(b: Bubble, text: str, far: float) -> list[Label]:
    """Positions for a bubble's label, nearest first: right, left, above, below, then the
    corners, ``far`` units out from the circle."""
    font = FONTS["bubble-label"]
    d, up = b.r + 3 + far, font.size * 0.35
    diag = (b.r + far) * math.sqrt(0.5) + 2
    return [
        Label(b.cx + d, b.cy + up, text, "bubble-label", "start"),
        Label(b.cx - d, b.cy + up, text, "bubble-label", "end"),
        Label(b.cx, b.cy - d - font.size * 0.3, text, "bubble-label", "middle"),
        Label(b.cx, b.cy + d + font.size * 0.95, text, "bubble-label", "middle"),
        Label(b.cx + diag, b.cy - diag - 3, text, "bubble-label", "start"),
        Label(b.cx + diag, b.cy + diag + font.size * 0.95, text, "bubble-label", "start"),
        Label(b.cx - diag, b.cy - diag - 3, text, "bubble-label", "end"),
        Label(b.cx - diag, b.cy + diag + font.size * 0.95, text, "bubble-label", "end"),
    ]


def _leader(b: Bubble, lb: Label) -> tuple[float, float, float, float]:
    """A line from the circle's edge towards the nearest point of a label's box."""
    box = lb.box()
    nx, ny = min(max(b.cx, box.x0), box.x1), min(max(b.cy, box.y0), box.y1)
    dist = math.hypot(nx - b.cx, ny - b.cy) or 1.0
    return (b.cx + (nx - b.cx) * b.r / dist, b.cy + (ny - b.cy) * b.r / dist, nx, ny)


def _bubble_labels(bubbles: Sequence[Bubble], placer: Placer, plot: Rect
                   ) -> tuple[list[tuple[float, float, float, float]], list[Bubble]]:
    """Each bubble's name beside it, or a little further out with a leader line; off any
    circle and any other label (the names join ``placer``'s labels). Returns the leaders and
    the bubbles left for a key."""
    leaders, unplaced = [], []
    # inside the plot and off the circles, checked against the labels placed so far
    inner = Placer(plot, placer.obstacles + [b.circle() for b in bubbles], list(placer.placed))
    for b in sorted(bubbles, key=lambda b: (-b.r, b.cx)):
        spot = inner.place(_around(b, b.label, 0))
        if spot is None:
            spot = inner.place(c for far in (14, 30) for c in _around(b, b.label, far))
            if spot is not None:
                leaders.append(_leader(b, spot))
        if spot is None:
            unplaced.append(b)
        else:
            placer.add(spot)
    return leaders, unplaced


def _key(unplaced: Sequence[Bubble], placer: Placer, plot: Rect, height: float
         ) -> float:
    """Numbers by the bubbles whose names found no room, and a key of the names: in a free
    corner of the plot, else under the chart (which grows). Returns the chart's height."""
    if not unplaced:
        return height
    font = FONTS["key"]
    lines = [f"{n} = {b.label}" for n, b in enumerate(unplaced, 1)]
    width = max(text_width(t, font) for t in lines) + 16
    step = line_height(font) + 2
    for n, b in enumerate(unplaced, 1):
        spot = placer.place([*_around(b, str(n), 0), *_around(b, str(n), 12)])
        if spot is None:
            placer.add(Label(b.cx, b.cy + 5, str(n), "bubble-label", "middle"))
    for cols in (1, 2, 3):
        rows = math.ceil(len(lines) / cols)
        for x, y in ((plot.x1 - width * cols, plot.y1 - step * rows - 4),
                     (plot.x0 + 6, plot.y0 + 4)):
            block = [Label(x + width * (i // rows), y + step * (i % rows + 0.8), t, "key")
                     for i, t in enumerate(lines)]
            if all(placer.fits(lb) for lb in block):
                for lb in block:
                    placer.add(lb)
                return height
    for i, t in enumerate(lines):
        placer.add(Label(8, height + step * (i + 0.8), t, "key"))
    return height + step * len(lines) + 6


def complexity(points: Sequence[ZooPoint], width: int = WIDTH,
               height: int = HEIGHT) -> BubbleChart:
    """Top-1 (published) against MACs (computed), bubble area proportional to parameters."""
    x_hi = max((p.macs for p in points), default=1) * 1.08
    y_lo = math.floor(min((p.top1 for p in points), default=50) / 5) * 5 - 5
    y_hi = math.ceil(max((p.top1 for p in points), default=80) / 5) * 5 + 2
    p_hi = max((p.params for p in points), default=1)
    bottom, right = height - BOTTOM, width - RIGHT
    # the bubbles shrink with the plot, so a narrow chart keeps room between them for names
    max_radius = MAX_RADIUS * math.sqrt(width / WIDTH)
    y_ticks = make_ticks(y_lo, y_hi, bottom, TOP, "plain")
    left = plot_left(y_ticks)
    x_ticks = make_ticks(0, x_hi, left, right)
    bubbles = [Bubble(p.model, p.label, p.macs, p.top1, p.params,
                      linear(p.macs, 0, x_hi, left, right),
                      linear(p.top1, y_lo, y_hi, bottom, TOP),
                      max_radius * math.sqrt(p.params / p_hi)) for p in points]
    x_label, y_label = "multiply-adds per image (computed)", "top-1 accuracy, % (published)"
    placer = axes(left, right, TOP, bottom, x_ticks, y_ticks, x_label, y_label, height, width)
    plot = Rect(left + 2, TOP - LINE + 8, right, bottom - 2)
    leaders, unplaced = _bubble_labels(bubbles, placer, plot)
    # the key may grow the chart downwards: room for a line a name
    placed = Placer(Rect(0, 0, width, height + LINE * (len(unplaced) + 1)),
                    [b.circle() for b in bubbles], list(placer.placed))
    grown = _key(unplaced, placed, plot, height)
    best = max(points, key=lambda p: p.top1) if points else None
    desc = (f"{len(points)} zoo models with a published ImageNet top-1. " +
            (f"The most accurate is {best.label} ({best.top1}% top-1, {compact(best.macs)} "
             f"MACs, {compact(best.params)} parameters). " if best else "") +
            "; ".join(f"{p.label}: {p.top1}% at {compact(p.macs)} MACs, "
                      f"{compact(p.params)} params" for p in points) + ".")
    return BubbleChart("Accuracy against computation (bubble area = parameters)", desc,
                       tuple(sorted(bubbles, key=lambda b: -b.r)), x_ticks, y_ticks, x_label,
                       y_label, tuple(placed.placed), tuple(leaders), left=left, right=right,
                       bottom=bottom, width=width, height=math.ceil(grown),
                       narrow=complexity(points, NARROW_WIDTH, NARROW_HEIGHT)
                       if width == WIDTH else None)


@dataclass(frozen=True, slots=True)
class YearEntry:
    year: int
    label: str
    top5_error: float
    model: str | None


def _mark_label(placer: Placer, y: float, text: str, left: float, right: float,
                top: float) -> tuple[float, float, float] | None:
    """The reference line's label just above or below the line at either end, off every bar;
    else in a key at the plot's top right with a sample of the line. Returns the sample."""
    font = FONTS["mark-label"]
    above, below = y - 5, y + font.size * 0.93 + 5
    ends: tuple[tuple[float, Anchor], ...] = ((right - 4, "end"), (left + 4, "start"))
    spot = placer.place([Label(x, yy, text, "mark-label", a) for yy in (above, below)
                         for x, a in ends])
    if spot is not None:
        return None
    width = text_width(text, font)
    key_y = top + font.size * 0.93
    for x in (right - 4 - width, left + 56):
        if placer.place([Label(x, key_y, text, "mark-label")]):
            return (x - 48, x - 8, key_y - font.size * 0.33)
    placer.add(fit(Label(left + 56, key_y, text, "mark-label"), right - left - 60))
    return (left + 8, left + 48, key_y - font.size * 0.33)


def _year_labels(placer: Placer, bars: Sequence[Bar], names: Sequence[str],
                 bottom: float) -> None:
    """Each bar's year and name under it, on the first of two rows where it overlaps no
    other (alternate bars drop to the second row when neighbours are long); shortened, with
    the whole name kept for hover, when neither row has room."""
    rows = (bottom + 28, bottom + 28 + LINE)
    for b, name in zip(bars, names, strict=True):
        centre = b.x + b.width / 2
        tries = [Label(centre, y, name, "tick", "middle") for y in rows]
        if placer.place(tries) is None:
            placer.place(fit(Label(centre, rows[1], name, "tick", "middle"), w)
                         for w in (b.width * 2, b.width * 1.4, b.width))


def _short(e: YearEntry) -> str:
    return f"{e.year} {e.label.split(' (')[0].split(',')[0]}"


def _ilsvrc_rows(entries: Sequence[YearEntry], human: float, human_label: str,
                 width: int) -> BarChart:
    """The ILSVRC chart for a narrow screen: one row an entry, its name on the left and its
    bar running right, so every name keeps its whole width instead of sharing a bar's; the
    human level is a line down the bars, named over them."""
    pitch, gap = LINE + 14, 7.0
    top = TOP + LINE + 8  # a line for the human level's name, between the title and the bars
    bottom = top + pitch * len(entries)
    height = math.ceil(bottom + BOTTOM)
    font = FONTS["tick"]
    names = [_short(e) for e in entries]
    name_w = min(max((text_width(n, font) for n in names), default=0.0), width * 0.42)
    values = [f"{e.top5_error:g}%" for e in entries]
    value_w = max((text_width(v, FONTS["bar-label"]) for v in values), default=0.0) + 8
    left, right = 8 + name_w + 8, width - RIGHT
    hi = max([e.top5_error for e in entries] + [human]) * 1.05
    end = right - value_w
    ticks = make_ticks(0, hi, left, end, "plain")
    bars = tuple(Bar(_short(e), e.top5_error, v, left, top + i * pitch + gap / 2,
                     linear(e.top5_error, 0, hi, left, end) - left, pitch - gap,
                     "cnn" if e.model else "other")
                 for i, (e, v) in enumerate(zip(entries, values, strict=True)))
    panel = Panel("top-5 error, %", "ilsvrc", top, bottom, bars, ticks)
    x = linear(human, 0, hi, left, end)
    line = Rect(x - 1.5, top, x + 1.5, bottom)
    obstacles: list[Shape] = [b.rect() for b in bars]
    placer = Placer(Rect(0, 0, width, height), [*obstacles, line])
    placer.add(Label(8, TOP - 6, panel.name, "panel-name"))
    text = f"{human_label}: {human:g}%"
    placer.place([Label(x - 4, top - 8, text, "mark-label", "start"),
                  Label(x + 4, top - 8, text, "mark-label", "end"),
                  Label(8, top - 8, text, "mark-label", "start"),
                  fit(Label(8, top - 8, text, "mark-label", "start"), right - 8)])
    for b, name, v in zip(bars, names, values, strict=True):
        base = b.y + b.height / 2 + font.size * 0.35
        placer.add(fit(Label(left - 8, base, name, "tick", "end"), name_w))
        # the value just past the bar's end, or past the human line when the bar stops short
        placer.place([Label(b.x + b.width + 5, base, v, "bar-label"),
                      Label(x + 5, base, v, "bar-label")])
    for lb in thin([Label(t.pos, bottom + 26, t.text, "tick", "middle") for t in ticks]):
        placer.place([lb])
    desc = ("ILSVRC classification top-5 error by year: " +
            "; ".join(f"{e.year} {e.label} {e.top5_error:g}%" for e in entries) +
            f". Human level: {human:g}% ({human_label}).")
    return BarChart("ILSVRC winners: top-5 error by year", desc, (panel,), tuple(placer.placed),
                    left=left, right=end, width=width, height=height,
                    marks=(Mark(x, text, "human", None, vertical=True),), kind="hbars")


def ilsvrc(entries: Sequence[YearEntry], human: float, human_label: str, width: int = WIDTH,
           height: int = HEIGHT) -> BarChart:
    """One bar per ILSVRC entry (by year), top-5 error; the human level drawn across. Its
    phone layout (``narrow``) turns the bars on their side (:func:`_ilsvrc_rows`)."""
    top, bottom = TOP, height - BOTTOM - LINE
    hi = max([e.top5_error for e in entries] + [human]) * 1.15
    ticks = make_ticks(0, hi, bottom, top, "plain")
    left, right = plot_left(ticks), width - RIGHT
    slot = (right - left) / max(len(entries), 1)
    bars = tuple(Bar(f"{e.year} {e.label}", e.top5_error, f"{e.top5_error:g}%",
                     left + i * slot + slot * 0.12, linear(e.top5_error, 0, hi, bottom, top),
                     slot * 0.76, linear(0, 0, hi, bottom, top) -
                     linear(e.top5_error, 0, hi, bottom, top),
                     "cnn" if e.model else "other")
                 for i, e in enumerate(entries))
    panel = Panel("top-5 error, %", "ilsvrc", top, bottom, bars, ticks)
    placer = Placer(Rect(0, 0, width, height), [b.rect() for b in bars])
    placer.add(Label(left, top - LINE + 4, panel.name, "panel-name"))
    for lb in y_tick_labels(ticks, left):
        placer.add(lb)
    y = linear(human, 0, hi, bottom, top)
    # a value is not written across the reference line: a bar just under it has its value
    # just over it instead
    line = Rect(left, y - 1.5, right, y + 1.5)
    for b in bars:
        on_bar = Label(b.x + b.width / 2, b.y - 6, b.text, "bar-label", "middle")
        if on_bar.box().overlaps(line):
            on_bar = Label(on_bar.x, y - 5, b.text, "bar-label", "middle")
        placer.add(on_bar)
    _year_labels(placer, bars, [_short(e) for e in entries], bottom)
    text = f"{human_label}: {human:g}%"
    mark = Mark(y, text, "human", _mark_label(placer, y, text, left, right, top))
    desc = ("ILSVRC classification top-5 error by year: " +
            "; ".join(f"{e.year} {e.label} {e.top5_error:g}%" for e in entries) +
            f". Human level: {human:g}% ({human_label}).")
    return BarChart("ILSVRC winners: top-5 error by year", desc, (panel,), tuple(placer.placed),
                    left=left, right=right, width=width, height=height, marks=(mark,),
                    narrow=_ilsvrc_rows(entries, human, human_label, NARROW_WIDTH))


__all__ = ["YearEntry", "ZooPoint", "complexity", "ilsvrc"]
