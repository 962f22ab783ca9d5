"""Chart geometry (app.present.charts), the batch planner and the comparisons, on the engine's
numbers: expected values are written as the arithmetic of the architectures."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from app import zoo
from app.present import charts, planner, zoocharts
from app.present.compare import block_totals, diff

VGG16_PARAMS = 138_357_544  # torchvision's published num_params for vgg16
#: VGG16's activations per image: the input, each conv output, each pool, fc6-8 and softmax
VGG16_ACTIVATIONS = (224 * 224 * 3 + 2 * 224 * 224 * 64 + 112 * 112 * 64
                     + 2 * 112 * 112 * 128 + 56 * 56 * 128 + 3 * 56 * 56 * 256 + 28 * 28 * 256
                     + 3 * 28 * 28 * 512 + 14 * 14 * 512 + 3 * 14 * 14 * 512 + 7 * 7 * 512
                     + 4096 + 4096 + 1000 + 1000)


def test_vgg16_memory_is_in_the_first_block_and_parameters_in_fc6() -> None:
    chart = charts.memory_params(zoo.analyze_model("vgg16"), "VGG16")
    memory, params = chart.panels
    tallest_memory, tallest_params = memory.tallest(), params.tallest()
    assert tallest_memory.label.startswith("conv1_")
    assert tallest_memory.value == 224 * 224 * 64 * 4
    assert tallest_params.label == "fc6"
    assert tallest_params.value == 7 * 7 * 512 * 4096 + 4096
    # every bar is as tall as its value: height / panel height = value / largest value
    for panel in chart.panels:
        top = panel.tallest()
        for bar in panel.bars:
            assert bar.height == pytest.approx((panel.bottom - panel.top) * bar.value / top.value)
            assert bar.y + bar.height == pytest.approx(panel.bottom)
    assert sum(b.value for b in memory.bars) == VGG16_ACTIVATIONS * 4
    assert sum(b.value for b in params.bars) == VGG16_PARAMS
    assert "fc6" in chart.desc and "conv1_1" in chart.desc


def test_bars_share_the_layer_axis_and_stay_in_the_box() -> None:
    chart = charts.memory_params(zoo.analyze_model("resnet50"), "ResNet-50")
    memory, params = chart.panels
    assert [b.row for b in memory.bars] == [b.row for b in params.bars]
    assert [b.x for b in memory.bars] == [b.x for b in params.bars]
    for bar in memory.bars + params.bars:
        assert chart.left <= bar.x and bar.x + bar.width <= chart.right + 1e-9


def test_cumulative_macs_ends_at_the_total() -> None:
    analysis = zoo.analyze_model("alexnet")
    chart = charts.cumulative_macs(analysis, "AlexNet")
    ys = [y for _, y in chart.points]
    assert ys == sorted(ys, reverse=True)  # SVG y grows downwards: the sum only rises
    assert ys[-1] == pytest.approx(chart.top)
    # conv1 alone: 55*55*96*11*11*3 of the total, so its point sits that far up the axis
    conv1 = next(i for i, r in enumerate(analysis.layers) if r.name == "conv1")
    share = (chart.bottom - ys[conv1]) / (chart.bottom - chart.top)
    assert share == pytest.approx(55 * 55 * 96 * 11 * 11 * 3 / analysis.totals.macs)


def test_rf_growth_follows_the_engine() -> None:
    analysis = zoo.analyze_model("vgg16")
    chart = charts.rf_growth(analysis, "VGG16")
    main = [r for r in analysis.layers if r.depth == 0]
    assert len(chart.points) == len(main)
    top = max(r.rf.size for r in main)
    conv1_2 = main.index(next(r for r in main if r.name == "conv1_2"))
    # two stacked 3x3 convs see 5 pixels
    height = chart.bottom - chart.points[conv1_2][1]
    assert height == pytest.approx(5 / top * (chart.bottom - chart.top))


def _complexity() -> charts.BubbleChart:
    points = [zoocharts.ZooPoint(s.id, s.name, s.totals.macs, s.top1, s.totals.params)
              for s in zoo.model_summaries() if s.top1 is not None]
    return zoocharts.complexity(points)


def test_bubbles_follow_published_top1_and_computed_macs() -> None:
    chart = _complexity()
    published = {s.id: s for s in zoo.model_summaries() if s.top1 is not None}
    assert {b.model for b in chart.bubbles} == set(published)
    vgg16 = next(b for b in chart.bubbles if b.model == "vgg16")
    assert vgg16.macs == zoo.analyze_model("vgg16").totals.macs
    assert vgg16.top1 == published["vgg16"].top1
    x_per_mac = (vgg16.cx - chart.left) / vgg16.macs
    for b in chart.bubbles:
        assert b.macs == published[b.model].totals.macs and b.top1 == published[b.model].top1
        # x is linear in MACs from the left edge; y linear in top-1; area proportional to params
        assert (b.cx - chart.left) == pytest.approx(x_per_mac * b.macs)
        assert b.r ** 2 / b.params == pytest.approx(vgg16.r ** 2 / vgg16.params)
    ordered = sorted(chart.bubbles, key=lambda b: b.top1)
    assert [b.cy for b in ordered] == sorted((b.cy for b in ordered), reverse=True)
    lo, hi = ordered[0], ordered[-1]
    per_point = (lo.cy - hi.cy) / (hi.top1 - lo.top1)
    for b in ordered:
        assert lo.cy - b.cy == pytest.approx(per_point * (b.top1 - lo.top1))


def test_ilsvrc_chart_marks_the_human_level() -> None:
    entries = [zoocharts.YearEntry(e.year or 0, e.entry, e.top5_error, e.model)
               for e in zoo.ilsvrc_results()]
    human = zoo.human_top5().top5_error
    chart = zoocharts.ilsvrc(entries, human, "human")
    (panel,) = chart.panels
    (mark,) = chart.marks
    resnet = next(b for b in panel.bars if "ResNet" in b.label)
    googlenet = next(b for b in panel.bars if "GoogLeNet" in b.label)
    # ResNet's 3.57 is below the human 5.1, GoogLeNet's 6.7 above (SVG y grows downwards)
    assert resnet.y > mark.y > googlenet.y
    per_point = resnet.height / resnet.value
    assert panel.bottom - mark.y == pytest.approx(per_point * human)
    assert [b.label.split()[0] for b in panel.bars] == [str(e.year) for e in entries]


def test_nice_steps() -> None:
    assert charts.nice_step(100) == 20
    assert charts.nice_step(7) == 2
    assert charts.nice_step(0.3) == pytest.approx(0.1)


# -- the batch planner ------------------------------------------------------------------------
def test_vgg16_in_the_lectures_5_gb() -> None:
    plan = planner.plan(zoo.analyze_model("vgg16"), "5", "GB")
    per_image = VGG16_ACTIVATIONS * 4
    assert plan.budget_bytes == 5 * 10**9 and plan.per_image == per_image
    assert plan.activations_only.images == 5 * 10**9 // per_image
    assert plan.inference.images == (5 * 10**9 - VGG16_PARAMS * 4) // per_image
    # training: weights + gradients + momentum, 3 copies of the parameters
    assert plan.training.images == (5 * 10**9 - 3 * VGG16_PARAMS * 4) // per_image
    assert f"{plan.inference.images:,} images" in plan.inference.working
    assert plan.activations_only.images != 50  # the slide's 96 MB an image is not VGG16's


def test_gib_adam_and_half_precision() -> None:
    plan = planner.plan(zoo.analyze_model("resnet50", dtype="float16", optimizer="adam"), "1.5",
                        "GiB")
    assert plan.budget_bytes == 3 * 2**29 and plan.budget == Fraction(3, 2)
    assert plan.per_image == zoo.analyze_model("resnet50").totals.activation_bytes // 2
    params = 25_557_032
    assert plan.training.images == (3 * 2**29 - 4 * params * 2) // plan.per_image


def test_a_budget_too_small_fits_nothing() -> None:
    plan = planner.plan(zoo.analyze_model("vgg16"), "0.1", "GB")
    assert plan.inference.images == 0 and plan.training.images == 0
    assert "more than the" in plan.training.working


@pytest.mark.parametrize(("amount", "unit", "words"), [
    ("abc", "GB", "must be a number"), ("-1", "GB", "more than 0"), ("0", "GiB", "more than 0"),
    ("5", "TB", "GB or GiB"), ("nan", "GB", "must be a number"), ("1e9", "GB", "at most"),
])
def test_bad_budgets_are_named(amount: str, unit: str, words: str) -> None:
    with pytest.raises(planner.PlanError, match=words):
        planner.plan(zoo.analyze_model("alexnet"), amount, unit)


def test_the_plan_does_not_depend_on_the_batch_analysed() -> None:
    one = planner.plan(zoo.analyze_model("alexnet"), "5", "GB")
    assert planner.plan(zoo.analyze_model("alexnet", batch=8), "5", "GB") == one


# -- comparisons ------------------------------------------------------------------------------
def test_resnet50_and_torchvision_differ_only_in_where_the_stride_is() -> None:
    d = diff(zoo.analyze_model("resnet50"), zoo.analyze_model("tv-resnet50"))
    by_key = {t.key: t for t in d.totals}
    assert by_key["params"].delta == 0 and by_key["depth"].delta == 0
    # torchvision's first 1x1 of stages 3-5 runs at the input resolution: (H_in^2 - H_out^2)
    # x C_in x C_mid more multiply-adds; the 3x3 that now strides has the same output
    extra = ((56**2 - 28**2) * 256 * 128 + (28**2 - 14**2) * 512 * 256
             + (14**2 - 7**2) * 1024 * 512)
    assert by_key["macs"].delta == extra
    assert sum(c.macs_delta for c in d.changes) == extra
    strided = [c for c in d.changes if c.left and c.left.op == "conv"
               and c.left.attrs["sh"] == 2 and c.left.attrs["kh"] == 1
               and c.left.block.endswith("body")]
    assert len(strided) == 3
    assert d.same_rows + len(d.changes) >= len(zoo.analyze_model("resnet50").layers)


def test_alexnet_and_torchvision_alexnet() -> None:
    d = diff(zoo.analyze_model("alexnet"), zoo.analyze_model("tv-alexnet"))
    lefts = {c.left.op for c in d.changes if c.left}
    assert "lrn" in lefts  # torchvision has no local response normalisation
    by_key = {t.key: t for t in d.totals}
    assert by_key["params"].delta == 61_100_840 - 60_965_224


@pytest.mark.parametrize("model", ["vgg16", "resnet152", "googlenet", "densenet121", "alexnet"])
def test_stage_subtotals_add_up(model: str) -> None:
    analysis = zoo.analyze_model(model)
    stages = block_totals(analysis)
    assert sum(s.rows for s in stages) == len(analysis.layers)
    assert sum(s.params for s in stages) == analysis.totals.params
    assert sum(s.macs for s in stages) == analysis.totals.macs
    assert len({s.name for s in stages}) == len(stages)


def test_resnet_stages() -> None:
    stages = {s.name: s for s in block_totals(zoo.analyze_model("resnet50"))}
    assert {"res2", "res3", "res4", "res5"} <= set(stages)
    assert stages["res4"].output == "14x14x1024"
    assert stages["res5"].output == "1x1x2048"  # a stage keeps the pool that follows it
    assert math.isclose(stages["res2"].macs, sum(
        r.macs for r in zoo.analyze_model("resnet50").layers if r.block.startswith("res2")))


def test_the_geometry_modules_load_no_web_stack() -> None:
    import subprocess
    import sys

    code = ("import sys; import app.present.charts, app.present.archdiagram, "
            "app.present.planner, app.present.compare; "
            "print(sorted(m for m in ('fastapi', 'starlette', 'jinja2', 'torch', 'httpx') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_overlaid_cumulative_macs_end_at_each_total() -> None:
    models = ["alexnet", "vgg16", "googlenet", "resnet152"]
    chart = charts.overlay_cumulative_macs([(m, zoo.analyze_model(m)) for m in models])
    assert [s.label for s in chart.series] == models
    tallest = max(zoo.analyze_model(m).totals.macs for m in models)
    for s, m in zip(chart.series, models, strict=True):
        total = zoo.analyze_model(m).totals.macs
        assert s.total == total
        x_end, y_end = s.points[-1]
        assert x_end == pytest.approx(chart.right) and s.points[0][0] == pytest.approx(chart.left)
        assert chart.bottom - y_end == pytest.approx((chart.bottom - chart.top) * total / tallest)
    assert len({s.cls for s in chart.series}) == 4  # each line its own dash pattern
