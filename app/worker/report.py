"""What the pages show of a run: comparison rows, totals and the chart's geometry.

Pure (no torch, no Celery, no Jinja): the templates draw these values; the tests read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.worker.models import LayerCheck, RunResult, Timing

CHART_W, CHART_H, BAR_GAP, AXIS = 360, 160, 16, 28


@dataclass(frozen=True, slots=True)
class TotalLine:
    """One total: the engine's figure, the measured one, and whether they agree."""

    what: str
    analytic: int | None
    measured: int | None

    @property
    def agrees(self) -> bool | None:
        if self.analytic is None or self.measured is None:
            return None
        return self.analytic == self.measured


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of the throughput chart, in SVG user units."""

    batch: int
    images_per_s: float
    x: float
    y: float
    width: float
    height: float


def totals(result: RunResult) -> list[TotalLine]:
    """Parameters and FLOPs side by side; training FLOPs have no analytic twin."""
    lines = [TotalLine("parameters", result.analytic_params, result.measured_params),
             TotalLine("FLOPs per image, forward (2 x MACs)", result.analytic_flops,
                       result.measured_flops)]
    if result.measured_training_flops is not None:
        lines.append(TotalLine("FLOPs per image, forward + backward", None,
                               result.measured_training_flops))
    return lines


def mismatched(layers: list[LayerCheck]) -> list[LayerCheck]:
    return [row for row in layers if row.mismatches]


def bars(timings: list[Timing]) -> list[Bar]:
    """Images per second by batch size, scaled to the tallest bar."""
    if not timings:
        return []
    top = max(t.images_per_s for t in timings) or 1.0
    width = (CHART_W - AXIS - BAR_GAP * (len(timings) + 1)) / len(timings)
    plot_h = CHART_H - AXIS
    out = []
    for i, t in enumerate(timings):
        height = plot_h * t.images_per_s / top
        out.append(Bar(batch=t.batch, images_per_s=t.images_per_s,
                       x=AXIS + BAR_GAP + i * (width + BAR_GAP), y=plot_h - height,
                       width=width, height=height))
    return out
