"""The lecture's worked numbers: each row has a computed value, the expected status and its
arithmetic; figures are read at the precision they are written in."""

from __future__ import annotations

from fractions import Fraction

import pytest

from app import engine, lecture, zoo
from app.engine import Analysis
from app.lecture import judge, lecture_claims, read_figure

#: row -> the status the recomputation must give (as the reference table gives them). 854M is
#: 854,196,224 written short (0.02% away: "match"); 138M is 138,357,544 rounded (0.26% away:
#: "rounded"); the 0.1% line of app.lecture.MATCH_WITHIN separates the two.
EXPECTED = {1: "match", 2: "rounded", 3: "match", 4: "match", 5: "rounded", 6: "match",
            7: "match", 8: "differs", 9: "differs", 10: "rounded", 11: "match", 12: "match",
            13: "match", 14: "differs", 15: "differs", 16: "match", 17: "match",
            18: "rounded", 19: "match"}
#: the VGG16 slide's rows: input, conv outputs, pool outputs, fc outputs (values per image)
VGG16_SLIDE_VALUES = (224 * 224 * 3 + 2 * 224 * 224 * 64 + 112 * 112 * 64
                      + 2 * 112 * 112 * 128 + 56 * 56 * 128 + 3 * 56 * 56 * 256
                      + 28 * 28 * 256 + 3 * 28 * 28 * 512 + 14 * 14 * 512 + 3 * 14 * 14 * 512
                      + 7 * 7 * 512 + 4096 + 4096 + 1000)


@pytest.fixture(scope="module")
def claims() -> dict[int, lecture.LectureClaim]:
    return {c.row: c for c in lecture_claims()}


def test_one_claim_per_reference_row(claims: dict[int, lecture.LectureClaim]) -> None:
    assert sorted(claims) == list(range(1, 20))
    for c in claims.values():
        assert c.claim and c.where and c.lecture and c.explanation and c.parts
        assert c.computed not in (None, "")
        assert all(p.computed not in (None, "") for p in c.parts)


@pytest.mark.parametrize(("row", "status"), sorted(EXPECTED.items()))
def test_status(claims: dict[int, lecture.LectureClaim], row: int, status: str) -> None:
    assert claims[row].status == status


def test_row_status_is_the_worst_of_its_parts(claims: dict[int, lecture.LectureClaim]) -> None:
    order = ["match", "rounded", "differs"]
    for c in claims.values():
        assert c.status == max((p.status for p in c.parts), key=order.index)


def test_alexnet_rows(claims: dict[int, lecture.LectureClaim]) -> None:
    assert claims[1].computed == "55x55x96"
    assert claims[2].computed == 11 * 11 * 3 * 96 + 96
    assert claims[4].computed == (224 - 11) / 4 + 1
    assert claims[5].computed == 60_965_224  # test_zoo_published states it layer by layer


def test_vgg_memory_rows(claims: dict[int, lecture.LectureClaim]) -> None:
    assert claims[8].parts[0].computed == VGG16_SLIDE_VALUES  # about 15.2M, not 24M
    assert claims[8].parts[1].computed == VGG16_SLIDE_VALUES * 4
    assert claims[9].computed == 5 * 10**9 // (VGG16_SLIDE_VALUES * 4)
    assert "52.08" in claims[9].explanation  # 5 GB / the slide's own 96MB
    assert claims[10].computed == 138_357_544


def test_inception_rows(claims: dict[int, lecture.LectureClaim]) -> None:
    assert claims[12].computed == "28x28x672"
    assert claims[13].computed == (28 * 28 * 128 * 1 * 1 * 256 + 28 * 28 * 192 * 3 * 3 * 256
                                   + 28 * 28 * 96 * 5 * 5 * 256)
    bottleneck = 28 * 28 * (128 * 256 + 64 * 256 + 192 * 3 * 3 * 64 + 64 * 256
                            + 96 * 5 * 5 * 64 + 64 * 256)
    assert claims[14].computed == bottleneck == 271_351_808
    if_128 = bottleneck - 28 * 28 * 192 * 3 * 3 * 64 + 28 * 28 * 192 * 3 * 3 * 128
    assert f"{if_128:,}" in claims[14].explanation
    assert read_figure("358M").value == round(if_128, -6)


def test_googlenet_row(claims: dict[int, lecture.LectureClaim]) -> None:
    parts = {p.what: p.computed for p in claims[15].parts}
    plain = zoo.analyze_model("googlenet").totals.params
    assert parts["parameters without the auxiliary classifiers"] == plain
    assert parts["parameters with them"] == zoo.analyze_model("googlenet", aux=True).totals.params
    assert parts["AlexNet's parameters / GoogLeNet's"] == pytest.approx(60_965_224 / plain)


def test_depth_rows(claims: dict[int, lecture.LectureClaim]) -> None:
    assert [p.computed for p in claims[11].parts] == [16, 19]
    assert [p.computed for p in claims[16].parts] == [34, 50, 101, 152]


def test_small_spec_rows(claims: dict[int, lecture.LectureClaim]) -> None:
    assert [p.computed for p in claims[6].parts] == [7, 7]
    assert [p.computed for p in claims[7].parts] == [3 * 3 * 3, 7 * 7]
    assert [p.computed for p in claims[17].parts] == ["28x28x64", "28x28x64", "28x28x256",
                                                      "28x28x256"]
    assert f"{1 * 1 * 256 * 64 + 3 * 3 * 64 * 64 + 1 * 1 * 64 * 256:,}" in claims[17].explanation


def test_squeezenet_row(claims: dict[int, lecture.LectureClaim]) -> None:
    assert claims[18].computed == pytest.approx(60_965_224 / 1_248_424)


def test_ilsvrc_row_is_labelled_data(claims: dict[int, lecture.LectureClaim]) -> None:
    assert [p.lecture for p in claims[19].parts] == ["28.2", "25.8", "16.4", "11.7", "7.3",
                                                     "6.7", "3.57", "5.1"]
    assert "Russakovsky" in claims[19].explanation


def test_values_are_computed_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Change AlexNet's conv1 and the lecture rows follow: nothing is typed in."""
    real = zoo.analyze_model

    def narrower_alexnet(model_id: str, **kw: object) -> Analysis:
        if model_id != "alexnet":
            return real(model_id, **kw)
        return engine.analyze(zoo.model_spec("alexnet").replace("conv 96 11x11", "conv 64 11x11"))

    monkeypatch.setattr(zoo, "analyze_model", narrower_alexnet)  # what app.lecture calls
    rows = {c.row: c for c in lecture_claims()}
    assert rows[1].computed == "55x55x64" and rows[1].status == "differs"
    assert rows[2].computed == 11 * 11 * 3 * 64 + 64 and rows[2].status == "differs"


@pytest.mark.parametrize(("text", "value", "place"), [
    ("35K", 35_000, 1_000), ("60M", 60 * 10**6, 10 * 10**6), ("138M", 138 * 10**6, 10**6),
    ("96MB", 96 * 10**6, 10**6), ("0.5MB", 500_000, 100_000), ("3.57", Fraction(357, 100),
    Fraction(1, 100)), ("50", 50, 10), ("7", 7, 1), ("0", 0, 1), ("12x", 12, 1)])
def test_read_figure(text: str, value: Fraction, place: Fraction) -> None:
    f = read_figure(text)
    assert (f.value, f.place) == (value, place)


@pytest.mark.parametrize(("figure", "exact", "status"), [
    ("7", 7, "match"), ("35K", 34_944, "rounded"), ("35K", 34_848, "rounded"),
    ("60M", 60_965_224, "rounded"), ("854M", 854_196_224, "match"),
    ("358M", 271_351_808, "differs"), ("358M", 358_055_936, "match"),
    ("5M", 6_998_552, "differs"), ("50", Fraction(60_965_224, 1_248_424), "rounded"),
    ("12", Fraction(60_965_224, 6_998_552), "differs"), ("24M", 15_237_608, "differs")])
def test_judge(figure: str, exact: int | Fraction, status: str) -> None:
    assert judge(figure, exact) == status


def test_read_figure_refuses_words() -> None:
    with pytest.raises(ValueError):
        read_figure("about fifty")
