"""A misspelt op gets the closest valid words, three at most, ranked by edit distance; never a
different variant of the same family (a separable conv is not a transposed one)."""

from __future__ import annotations

import pytest

from app import engine
from app.engine.errors import SpecError, closest, edit_distance, suggest
from app.engine.notation import BLOCK_WORDS
from app.engine.notation.canonical import COMMON_OPS
from app.engine.optable import LAYER_OPS, SPELLINGS

WORDS = {**SPELLINGS, "input": "input", **{b: b for b in BLOCK_WORDS}}
#: every spelling of the transposed convolution
TRANSPOSED = {s for s, op in SPELLINGS.items() if op == "convtranspose"}


def test_edit_distance_counts_a_swap_as_one() -> None:
    assert edit_distance("covn", "conv") == 1
    assert edit_distance("maxpol", "maxpool") == 1
    assert edit_distance("sepconv", "upconv") == 2  # drop s, e -> u
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "abc") == 0


@pytest.mark.parametrize(("typo", "first"), [
    ("covn", "conv"), ("cnov", "conv"), ("maxpol", "maxpool"), ("batchnrom", "batchnorm"),
    ("concta", "concat"), ("resdual", "residual"), ("avgpol", "avgpool"), ("Conv", "conv"),
    ("maxpooling", "maxpool"), ("sigmod", "sigmoid"),
])
def test_the_closest_comes_first(typo: str, first: str) -> None:
    found = closest(typo, WORDS)
    assert found[0] == first and 1 <= len(found) <= 3
    distances = [edit_distance(typo.lower(), f) for f in found]
    assert distances[0] == min(distances)


def test_one_spelling_for_each_op_and_three_at_most() -> None:
    found = closest("relu5", WORDS)
    assert found == ["relu6", "relu"]  # one substitution each; relu6 keeps more of the word
    for word in ("conv3d", "pooll", "lyernorm", "dens"):
        ops = [WORDS[f] for f in closest(word, WORDS)]
        assert len(ops) == len(set(ops)) <= 3, word


def test_sepconv_is_never_taken_for_a_transposed_conv() -> None:
    # without a separable conv in the registry, its name is a plain conv's, never a transposed
    without = {s: op for s, op in WORDS.items() if op != "sepconv"}
    found = closest("sepconv", without)
    assert not TRANSPOSED & set(found) and "conv" in found
    # with one (the registry has it), its misspellings find it first
    for typo in ("sepcovn", "sepcon", "sapconv", "sepconf2d"):
        found = closest(typo, WORDS)
        assert WORDS[found[0]] == "sepconv" and not TRANSPOSED & set(found), (typo, found)
    # a real slip in a transposed conv's name is still one
    assert closest("upconc", WORDS)[0] == "upconv" and closest("deconvv", WORDS) == ["deconv"]


def test_the_hint_reads_as_one_guess_and_its_runners_up() -> None:
    assert suggest("covn", WORDS, 3) == "; did you mean `conv`?"
    assert suggest("relu5", WORDS, 3) == "; did you mean `relu6`? (or `relu`)"
    assert suggest("wobble", WORDS, 3) == ""


def test_an_unknown_layer_names_the_closest_ops_not_all_of_them() -> None:
    with pytest.raises(SpecError) as caught:
        engine.analyze("input 8x8x3\nrelu5\n")
    message = caught.value.issues[0].message
    assert message == "unknown layer 'relu5'; did you mean `relu6`? (or `relu`)"
    # a word like no op at all gets the common ops and where the rest are, not all of them
    with pytest.raises(SpecError) as caught:
        engine.analyze("input 8x8x3\nwobble 3\n")
    message = caught.value.issues[0].message
    assert "did you mean" not in message and "docs/spec-language.md" in message
    named = [op for op in LAYER_OPS if f"`{op}`" in message]
    assert named == [op for op in LAYER_OPS if op in COMMON_OPS] and len(named) == len(COMMON_OPS)


def test_the_json_spec_names_the_closest_too() -> None:
    with pytest.raises(SpecError) as caught:
        engine.analyze({"input": [8, 8, 3], "layers": [{"op": "maxpol", "k": 2}]})
    assert "did you mean `maxpool`?" in caught.value.issues[0].message


def test_a_huge_word_is_not_searched() -> None:
    word = "conv" + "x" * 65_000
    assert closest(word, WORDS) == [] and suggest(word, WORDS, 3) == ""
    assert closest("conv" + "x" * 30, WORDS) == ["conv"]  # a long word that wraps an op
