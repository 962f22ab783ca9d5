"""The lecture hall's per-network charts, laid out on the geometry of
:mod:`app.present.chartgeometry` (no Jinja, no FastAPI).

Every number comes from the engine's analysis; this module only places them in a ``width`` x
``height`` box (SVG user units, origin top left). The templates draw the shapes and the style
sheet colours them by their ``cls``, so projector mode and print restyle them without touching
the geometry. Every text is a :class:`~app.present.labels.Label`
placed by :mod:`app.present.labels` at the largest size any mode draws it, so no two overlap and
none leaves the box, in normal and projector mode alike. Each chart carries a ``title`` and a ``desc``: the
text alternative the SVG's ``<title>``/``<desc>`` hold, written from the same numbers.

Charts:

* :func:`memory_params` per-layer activation memory beside per-layer parameters (two panels
  sharing the layer axis: the VGG lesson, memory early, parameters in the fc layers);
* :func:`cumulative_macs` multiply-adds summed along the network;
* :func:`rf_growth` the receptive field of the main path, layer by layer;

and, in :mod:`app.present.zoocharts`, the zoo's two: accuracy against MACs and the ILSVRC years.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.engine.result import Analysis, LayerRow
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
    Chart,
    LineChart,
    Mark,
    OverlayChart,
    Panel,
    Series,
    Tick,
    axes,
    linear,
    make_ticks,
    nice_step,
    plot_left,
    y_tick_labels,
)
from app.present.formats import megabytes
from app.present.labels import FONTS, Anchor, Label, Placer, Rect, fit, spread, text_width


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "0%"


# -- per-layer charts -------------------------------------------------------------------------
def _layer_rows(analysis: Analysis) -> list[LayerRow]:
    """The rows that hold memory or parameters (in-place ops and views add neither)."""
    return [r for r in analysis.layers if r.activation_bytes or r.params]


def _panel(name: str, cls: str, rows: Sequence[LayerRow], values: Sequence[int], top: float,
           bottom: float, fmt: str, left: float, right: float) -> Panel:
    hi = max(values, default=0) or 1
    slot = (right - left) / max(len(rows), 1)
    gap = min(slot * 0.2, 2.0)
    bars = tuple(Bar(r.name, v, megabytes(v) if fmt == "mb" else f"{v:,}",
                     left + i * slot + gap / 2, bottom - (bottom - top) * v / hi,
                     max(slot - gap, 0.5), (bottom - top) * v / hi, cls, r.index)
                 for i, (r, v) in enumerate(zip(rows, values, strict=True)))
    return Panel(name, cls, top, bottom, bars, make_ticks(0, hi, bottom, top, fmt))


def _panel_labels(placer: Placer, p: Panel, left: float, right: float,
                  spare: float = 0) -> None:
    """The panel's name over its top left, and its tallest bar's name and value over the bar
    (the tallest reaches the panel's top, so the line above it is free of bars); given a
    ``spare`` line over the panel (a narrow chart), the value goes there whole rather than
    shortened beside the name."""
    placer.add(Label(left, p.top - 6, p.name, "panel-name"))
    for lb in y_tick_labels(p.ticks, left):
        placer.add(lb)
    if not p.bars:
        return
    top = p.tallest()
    text, centre = f"{top.label} {top.text}", top.x + top.width / 2
    anchor: Anchor = "end" if centre > (left + right) / 2 else "start"
    room = (centre if anchor == "end" else right - centre)
    near = fit(Label(centre, p.top - 6, text, "bar-label", anchor), room)
    # else after the panel's name, or failing that at the right end, saying what it is
    after = left + text_width(p.name, FONTS["panel-name"]) + 16
    beside = fit(Label(after, p.top - 6, f"largest: {text}", "bar-label"), right - after)
    whole = [near, beside] if not spare else [
        Label(centre, p.top - 6, text, "bar-label", anchor),
        Label(after, p.top - 6, f"largest: {text}", "bar-label"),
        Label(centre, p.top - 6 - spare, text, "bar-label", anchor),
        Label(left, p.top - 6 - spare, f"largest: {text}", "bar-label")]
    placer.place([*whole, near, beside])


def memory_params(analysis: Analysis, label: str = "the network", width: int = WIDTH,
                  height: int = HEIGHT) -> BarChart:
    """Activation memory (for the analysis' dtype and batch) beside parameters, per layer."""
    rows = _layer_rows(analysis)
    # a narrow chart keeps a line over each panel for its largest bar's value
    spare = LINE if width < WIDTH else 0
    top = TOP + spare
    mid = top + (height - top - BOTTOM - spare) / 2
    spans = ((top, mid - 18), (mid + 30 + spare, height - BOTTOM))
    mem_values, par_values = [r.activation_bytes for r in rows], [r.params for r in rows]
    left = plot_left(make_ticks(0, max(mem_values, default=0) or 1, 0, 1, "mb"),
                 make_ticks(0, max(par_values, default=0) or 1, 0, 1))
    right = width - RIGHT
    memory = _panel("activation memory", "memory", rows, mem_values, *spans[0], "mb", left,
                    right)
    params = _panel("parameters", "params", rows, par_values, *spans[1], "compact", left,
                    right)
    placer = Placer(Rect(0, 0, width, height))
    for panel in (memory, params):
        _panel_labels(placer, panel, left, right, spare)
    bars = params.bars
    if bars:
        half = (right - left) / 2 - 8
        placer.add(fit(Label(bars[0].x, params.bottom + 28, bars[0].label, "tick"), half))
        if len(bars) > 1:
            last = bars[-1]
            placer.add(fit(Label(last.x + last.width, params.bottom + 28, last.label, "tick",
                                 "end"), half))
    m, p = memory.tallest(), params.tallest()
    t = analysis.totals
    desc = (f"{len(rows)} layers of {label}. Activation memory totals "
            f"{megabytes(t.activation_bytes)}; the largest is {m.label} ({m.text}, "
            f"{_share(m.value, t.activation_bytes)} of it). Parameters total {t.params:,}; "
            f"the most are in {p.label} ({p.text}, {_share(p.value, t.params)}).")
    return BarChart(f"Memory and parameters by layer: {label}", desc, (memory, params),
                    tuple(placer.placed), left=left, right=right, width=width, height=height,
                    narrow=memory_params(analysis, label, NARROW_WIDTH, NARROW_HEIGHT)
                    if width == WIDTH else None)


def _line(points: Sequence[tuple[int, float]], title: str, desc: str, x_label: str,
          y_label: str, cls: str, fmt: str, width: int = WIDTH,
          height: int = HEIGHT) -> LineChart:
    xs, ys = [p[0] for p in points] or [0], [p[1] for p in points] or [0]
    x_hi, y_hi = max(max(xs), 1), max(max(ys), 1)
    bottom, right = height - BOTTOM, width - RIGHT
    y_ticks = make_ticks(0, y_hi, bottom, TOP, fmt)
    left = plot_left(y_ticks)
    placed = tuple((linear(x, 0, x_hi, left, right), linear(y, 0, y_hi, bottom, TOP))
                   for x, y in points)
    x_ticks = make_ticks(0, x_hi, left, right, "plain")
    placer = axes(left, right, TOP, bottom, x_ticks, y_ticks, x_label, y_label, height, width)
    narrow = _line(points, title, desc, x_label, y_label, cls, fmt, NARROW_WIDTH,
                   NARROW_HEIGHT) if width == WIDTH else None
    return LineChart(title, desc, placed, x_ticks, y_ticks, x_label, y_label, cls,
                     tuple(placer.placed), left=left, right=right, bottom=bottom, width=width,
                     height=height, narrow=narrow)


def cumulative_macs(analysis: Analysis, label: str = "the network") -> LineChart:
    """Multiply-adds summed from the input to each row."""
    running, points = 0, []
    for r in analysis.layers:
        running += r.macs
        points.append((r.index, float(running)))
    half = next((r.name for r, (_, v) in zip(analysis.layers, points, strict=True)
                 if v * 2 >= running), "")
    desc = (f"{label}: {running:,} multiply-adds per image over {len(points)} rows; half "
            f"of them are done by the end of {half}.")
    return _line(points, f"Cumulative MACs: {label}", desc, "row", "MACs", "macs", "compact")


def rf_growth(analysis: Analysis, label: str = "the network") -> LineChart:
    """The receptive field (pixels) of the main path's rows, layer by layer."""
    rows = [r for r in analysis.layers if r.depth == 0]
    points = [(r.index, float(r.rf.size)) for r in rows]
    last = rows[-1]
    desc = (f"{label}: the receptive field grows from 1 pixel at the input to "
            f"{last.rf.size} at {last.name} (jump {last.rf.jump}).")
    return _line(points, f"Receptive field by layer: {label}", desc, "row", "pixels", "rf",
                 "plain")


def overlay_cumulative_macs(items: Sequence[tuple[str, Analysis]], width: int = WIDTH,
                            height: int = HEIGHT) -> OverlayChart:
    """Several networks' cumulative MACs on one chart; x is the share of each network's rows
    (0 at the input, 1 at the output), so networks of different lengths line up. Each line is
    named at its end, in a margin as wide as the longest name (at most a third of the box)."""
    font = FONTS["series-label"]
    room = min(max((text_width(n, font) for n, _ in items), default=0.0) + 12, width / 3)
    right, bottom = width - RIGHT - room, height - BOTTOM
    y_hi = max((a.totals.macs for _, a in items), default=1) or 1
    y_ticks = make_ticks(0, y_hi, bottom, TOP)
    left = plot_left(y_ticks)
    series = []
    for n, (name, analysis) in enumerate(items):
        last = max(len(analysis.layers) - 1, 1)
        running, points = 0, []
        for i, r in enumerate(analysis.layers):
            running += r.macs
            points.append((linear(i / last, 0, 1, left, right),
                           linear(running, 0, y_hi, bottom, TOP)))
        series.append(Series(name, f"s{n % 4}", tuple(points), running))
    desc = ("Cumulative multiply-adds along each network (x: the share of its layers): " +
            "; ".join(f"{s.label} {s.total:,}" for s in series) + ".")
    x_ticks = tuple(Tick(linear(v, 0, 1, left, right), f"{v:.0%}")
                    for v in (0, 0.25, 0.5, 0.75, 1))
    placer = axes(left, right, TOP, bottom, x_ticks, y_ticks, "share of the network's rows",
                   "MACs", height, width)
    ends = [s.points[-1][1] + 7 if s.points else bottom for s in series]
    ys = spread(ends, LINE, TOP + LINE, bottom)
    for s, y in zip(series, ys, strict=True):
        placer.add(fit(Label(right + 8, y, s.label, "series-label"), room - 10))
    return OverlayChart("Cumulative MACs, overlaid", desc, tuple(series), x_ticks, y_ticks,
                        "share of the network's rows", "MACs", tuple(placer.placed), left=left,
                        right=right, bottom=bottom, width=width, height=height,
                        narrow=overlay_cumulative_macs(items, NARROW_WIDTH, NARROW_HEIGHT)
                        if width == WIDTH else None)


#: the geometry types and scales are re-exported so that callers keep one import for charts
__all__ = [
    "NARROW_HEIGHT", "NARROW_WIDTH", "Bar", "BarChart", "Bubble", "BubbleChart", "Chart",
    "LineChart", "Mark", "OverlayChart", "Panel", "Series", "Tick", "cumulative_macs",
    "make_ticks", "memory_params", "nice_step", "overlay_cumulative_macs", "rf_growth",
]
