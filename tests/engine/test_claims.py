"""A student's numbers are claims: checked, marked, explained."""

from __future__ import annotations

from app.engine import analyze
from app.examples import VGG16_NOTES

from .conftest import ALEXNET_SLIDE


def claims(spec: str) -> list:  # type: ignore[type-arg]
    return [(r.name, c) for r in analyze(spec).layers for c in r.claims]


def test_alexnet_slide_listing_is_all_right() -> None:
    found = claims(ALEXNET_SLIDE)
    assert len(found) == 13  # one bracketed volume per layer line
    assert all(c.ok for _, c in found), [c for _, c in found if not c.ok]


def test_two_wrong_answers_are_both_flagged_with_the_working() -> None:
    wrong = ALEXNET_SLIDE.replace("[27x27x96] MAX POOL1", "[26x26x96] MAX POOL1").replace(
        "[13x13x384] CONV4", "[13x13x256] CONV4")
    bad = [(name, c) for name, c in claims(wrong) if not c.ok]
    assert [name for name, _ in bad] == ["MAX POOL1", "CONV4"]
    pool = bad[0][1]
    assert pool.claimed == "26x26x96" and pool.computed == "27x27x96"
    assert "(55 - 3 + 2*0)/2 + 1 = 27" in pool.explanation
    assert bad[1][1].computed == "13x13x384"


def test_rounded_claims_agree_to_the_precision_written() -> None:
    spec = ("input 224x224x3 memory: 224*224*3=150K\n"
            "conv3-64 memory: 224*224*64=3.2M params: (3*3*3)*64 = 1,728\n"
            "pool2 memory: 112*112*64=800K\n"
            "conv 64 3x3 pad 1 memory: 3.3M\n")
    a = analyze(spec)
    assert a.layers[0].claims[0].ok and a.layers[0].claims[0].computed == 224 * 224 * 3
    mem, params = a.layers[1].claims
    assert mem.ok and mem.computed == 224 * 224 * 64
    assert params.ok and params.computed == 3 * 3 * 3 * 64 and "weights only" in params.explanation
    assert a.layers[2].claims[0].ok  # 802,816 is 800K to one significant figure
    assert not a.layers[3].claims[0].ok  # 3.3M is not 3,211,264 to two figures


def test_params_with_biases_is_also_right_and_says_so() -> None:
    c = analyze("input 227x227x3\nconv 96 11x11 stride 4 params: 34,944").layers[1].claims[0]
    assert c.ok and c.computed == 11 * 11 * 3 * 96 + 96 and "biases" in c.explanation
    c = analyze("input 227x227x3\nconv 96 11x11 stride 4 params: 35K").layers[1].claims[0]
    assert c.ok


def test_a_wrong_product_is_caught_even_if_the_rounding_looks_right() -> None:
    c = analyze("input 224x224x3\nconv3-64 memory: 224*224*63=3.2M").layers[1].claims[0]
    assert not c.ok


def test_vgg_total_lines_are_claims_about_the_whole_network() -> None:
    spec = ("input 224x224x3\nconv3-64\nTOTAL memory: 24M * 4 bytes ~= 96MB / image\n"
            "TOTAL params: 1.8K parameters")
    a = analyze(spec)
    by = {c.field: c for c in a.claims}
    assert not by["activations"].ok and by["activations"].computed == 224 * 224 * 3 + 224 * 224 * 64
    assert not by["activation_bytes"].ok
    assert by["params"].ok and by["params"].computed == 3 * 3 * 3 * 64 + 64


def test_canonical_lines_take_bracketed_answers() -> None:
    a = analyze("input 227x227x3\nconv 96 11x11 stride 4 [55x55x96]\n"
                "maxpool 3x3 stride 2 [28x28x96]")
    assert a.layers[1].claims[0].ok
    assert not a.layers[2].claims[0].ok and a.layers[2].claims[0].computed == "27x27x96"


def test_the_vgg16_notes_rows_are_right_and_their_total_memory_is_not() -> None:
    a = analyze(VGG16_NOTES)
    figures = [c for r in a.layers for c in r.claims]
    assert len(figures) == 22 * 3 - 4  # 22 rows of volume, memory, params; the input has none
    assert all(c.ok for c in figures), [c for c in figures if not c.ok]
    by = {c.field: c for c in a.claims}
    values = (224 * 224 * 3 + 2 * 224 * 224 * 64 + 112 * 112 * 64 + 2 * 112 * 112 * 128
              + 56 * 56 * 128 + 3 * 56 * 56 * 256 + 28 * 28 * 256 + 3 * 28 * 28 * 512
              + 14 * 14 * 512 + 3 * 14 * 14 * 512 + 7 * 7 * 512 + 4096 + 4096 + 1000)
    assert by["activations"].computed == values and not by["activations"].ok
    assert by["activation_bytes"].computed == values * 4 and not by["activation_bytes"].ok
    assert by["params"].ok and by["params"].computed == 138_357_544


def test_homework_notation_with_answers() -> None:
    a = analyze("Input volume: 32x32x3\n"
                "CONV: 10 5x5 filters with stride 1, pad 2 [32x32x10] params: 760\n"
                "POOL: 2x2 filters at stride 2 [16x16x10]\n"
                "FC: 10 neurons params: 25,600")
    conv, pool, fc = a.layers[1:]
    assert conv.output.c == 10 and conv.claims[0].ok
    assert conv.claims[1].ok and conv.claims[1].computed == 5 * 5 * 3 * 10 + 10
    assert pool.op == "maxpool" and pool.claims[0].ok
    assert fc.claims[0].ok and fc.claims[0].computed == 16 * 16 * 10 * 10  # the weights alone
    assert "weights only" in fc.claims[0].explanation
