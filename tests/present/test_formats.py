"""One rule of significant figures for the memory figures: every MB and MiB to three, whatever
its size, so a column never jumps between 0.3, 0.0369, 0.004 and 0.0."""

from __future__ import annotations

import itertools

import pytest

from app import zoo
from app.present.charts import make_ticks
from app.present.columns import BY_KEY
from app.present.formats import mebibytes, megabytes, significant


@pytest.mark.parametrize(("value", "text"), [
    (0.618348, "0.618"), (0.036864, "0.0369"), (0.004, "0.00400"), (61.2, "61.2"),
    (0.3, "0.300"), (9.996, "10.0"), (99.95, "100"), (12.845056, "12.8"), (1234.5, "1,234"),
    (0, "0"), (-0.5, "-0.500"),
])
def test_three_significant_figures(value: float, text: str) -> None:
    assert significant(value) == text


def _figures(number: str) -> int:
    """Significant figures written in a number such as '0.0369' or '1,234'."""
    digits = number.replace(",", "").replace("-", "").replace(".", "").lstrip("0")
    return len(digits)


@pytest.mark.parametrize("model", ["alexnet", "vgg16", "resnet50", "mobilenet_v2"])
def test_the_memory_column_keeps_one_precision(model: str) -> None:
    analysis = zoo.analyze_model(model)
    column = BY_KEY["memory"]
    for row in analysis.layers:
        text = column.text(row)
        number = text.removesuffix(" MB")
        value = row.activation_bytes / 10**6
        if value == 0:
            assert text == "0 MB"
            continue
        # at least three significant figures, and no more unless the whole part has more
        assert _figures(number) == max(3, len(str(int(value)))), text
        assert float(number.replace(",", "")) == pytest.approx(value, rel=5e-3)
        short = column.short(row) if column.short else ""
        assert _figures(short.removesuffix(" MiB")) >= 3


def test_mb_and_mib_follow_the_same_rule() -> None:
    assert megabytes(290_400 * 4) == "1.16 MB"  # AlexNet conv1: 55*55*96 values of 4 bytes
    assert mebibytes(290_400 * 4) == f"{290_400 * 4 / 2**20:.3g} MiB"
    assert megabytes(9_216 * 4) == "0.0369 MB" and megabytes(4_096 * 4) == "0.0164 MB"


def test_a_memory_axis_is_written_to_its_steps_precision() -> None:
    for hi in (1.5e6, 12.8e6, 0.037e6, 250e6):
        texts = [t.text.removesuffix(" MB") for t in make_ticks(0, hi, 0, 1, "mb")]
        decimals = {len(t.split(".")[1]) if "." in t else 0 for t in texts}
        assert len(decimals) == 1, texts  # one precision along the axis
        # read back, the labels are the ticks themselves: evenly spaced, nothing rounded away
        values = [float(t.replace(",", "")) for t in texts]
        steps = {round(b - a, 9) for a, b in itertools.pairwise(values)}
        assert len(steps) == 1 and steps.pop() > 0, texts
