"""One test per error class and per limit: a clear message naming the line, never a crash."""

from __future__ import annotations

import pytest

from app.engine import (
    LIMITS,
    LimitError,
    SpecError,
    analyze,
    parse_json_spec,
    parse_spec,
)


def error(spec: str, **opts: object) -> SpecError:
    with pytest.raises(SpecError) as info:
        analyze(spec, **opts)  # type: ignore[arg-type]
    return info.value


@pytest.mark.parametrize("spec, line, words", [
    ("input 32x32x3\nfoo 3", 2, "unknown layer 'foo 3'"),
    ("input 5x5x3\nconv 8 7x7", 2, "larger than the padded input 5 + 2*0 = 5"),
    ("input 32x32x3\nmaxpool 3x3 stride 0", 2, "stride must be at least 1"),
    ("conv 8 3x3", 1, "no input line"),
    ("input 32x32x3\nconcat { branch { conv 8 1x1 }", 2, "never closed"),
    ("input 32x32x3\nconv 8 1x1 }", 2, "closes no block"),
    ("input 32x32x3\nresidual { conv 8 3x3 stride 2 pad 1 }", 2, "shortcut gives 32x32x3"),
    ("input 32x32x3\nconcat {\n branch { conv 8 1x1 }\n branch { conv 8 3x3 } }", 2,
     "spatial sizes must agree"),
    ("input 32x32x6\nconv 8 3x3 groups 4", 2, "groups 4 must divide"),
    ("input 32x32x3\ninput 32x32x3", 2, "second input"),
    ("input 32x32x3\nmaxpool 3x3 pad 2", 2, "at most half the kernel"),
    ("input 32x32\nconv 8 3x3", 1, "input needs a volume"),
    ("input 32x32x3\nbranch { conv 8 1x1 }", 2, "only allowed inside"),
    ("input 32x32x3\nfrobnicate { conv 8 1x1 }", 2, "cannot open a block"),
    ("input 32x32x3\nrepeat 0 { conv 8 1x1 }", 2, "at least 1"),
    ("input 32x32x3\nconv 8 3x3 pad 1,2,3", 2, "pad takes 2 values"),
    ("input 32x32x3\nconvtranspose 8 3x3 stride 2 pad 1,2", 2, "same pad on both sides"),
    ("input 32x32x3\nconvtranspose 8 3x3 stride 2 outpad 2", 2, "output padding"),
    ("input 32x32x3\nnn.Conv2d(4, 8, 3)", 2, "written for 4 input channels, but 3"),
    ("input 32x32x3\nscale { conv 4 1x1 }", 2, "cannot multiply"),
    ("input 32x32x3\ndropout 1.5", 2, "dropout probability"),
    ("input 8x8x6\nconv 8 1x1\nsplit {\n branch { }\n branch { conv 4 1x1 }\n branch { } }", 3,
     "8 channels cannot be split equally among 3 branches"),
    ("input 8x8x6\nsplit { branch { conv 4 1x1 } }", 2, "at least two branches"),
    ("input 8x8x6\nsplit { branch { conv 4 3x3 } branch { } }", 2, "spatial sizes must agree"),
    ("input 32x32x3\nconcat { branch { conv 8 1x1 } }", 2, "at least two branches"),
    ("input 32x32x3\njoin { branch { conv 8 1x1 } branch { conv 4 1x1 } }", 2, "must match"),
    ("input 32x32x3\nconv 3x3", 2, "number of filters"),
    ("input 32x32x3\nconv 8 3x3 wobble 2", 2, "unexpected 'wobble'"),
    ("input 8x8x4\npadchannels 2", 2, "fewer than the 4 input channels"),
    ("input 32x32x3\n{ conv 8 1x1 }", 2, "must follow a block name"),
    ("input 32x32x3\nresidual survival 1.5 { conv 3 1x1 }", 2, "survival probability"),
])
def test_bad_spec_names_the_line_and_the_problem(spec: str, line: int, words: str) -> None:
    e = error(spec)
    assert e.issues[0].line == line, e.issues
    assert words in e.issues[0].message, e.issues[0].message


def test_residual_error_suggests_a_projection() -> None:
    e = error("input 56x56x64\nblock1: residual { conv 128 3x3 stride 2 pad 1 }")
    assert "shortcut { conv 128 1x1 stride 2 }" in e.issues[0].message
    assert e.issues[0].layer == "block1"


def limit(spec: str, **opts: object) -> LimitError:
    with pytest.raises(LimitError) as info:
        analyze(spec, **opts)  # type: ignore[arg-type]
    return info.value


def test_limit_body_size() -> None:
    big = "input 8x8x3\n" + "relu\n" * (LIMITS.max_body_bytes // 5)
    assert limit(big).limit == "max_body_bytes"


def test_limit_layers_after_repeat_is_checked_before_expanding() -> None:
    e = limit("input 8x8x3\nrepeat 1000000000 { repeat 1000000000 { relu } }")
    assert e.limit == "max_layers"
    assert limit("input 8x8x3\nrepeat 5001 { relu }").limit == "max_layers"
    assert len(analyze("input 8x8x3\nrepeat 5000 { relu }").layers) == 5001


def test_limit_nesting() -> None:
    deep = "input 8x8x3\n" + "repeat 1 { " * 17 + "relu" + " }" * 17
    assert limit(deep).limit == "max_nesting"
    ok = "input 8x8x3\n" + "repeat 1 { " * 16 + "relu" + " }" * 16
    assert analyze(ok).totals.depth == 0


@pytest.mark.parametrize("spec, name", [
    ("input 8x8x65537\nrelu", "max_channels"),
    ("input 8x8x3\nconv 65537 1x1", "max_channels"),
    ("input 8x8x40000\nconcat { branch { } branch { } }", "max_channels"),
    ("input 16385x8x3\nrelu", "max_hw"),
    ("input 16384x16384x1\nconv 1 1x1 pad 1", "max_hw"),
    ("input 128x128x3\nconv 8 65x65", "max_kernel"),
    ("input 128x128x3\nconv 8 3x3 stride 65", "max_stride"),
    ("input 128x128x3\nconv 8 3x3 dilation 65", "max_dilation"),
    ("input 16384x16384x65536\nconv 65536 1x1", "max_total"),
])
def test_size_limits(spec: str, name: str) -> None:
    e = limit(spec)
    assert e.limit == name
    assert e.issues[0].line >= 1


def test_limit_batch() -> None:
    assert limit("input 8x8x3\nrelu", batch=4097).limit == "max_batch"
    assert analyze("input 8x8x3\nrelu", batch=4096).totals.activation_bytes == 8 * 8 * 3 * 4 * 4096


def test_bad_options() -> None:
    assert "dtype" in str(error("input 8x8x3", dtype="float64"))
    assert "batch" in str(error("input 8x8x3", batch=0))
    assert "optimizer" in str(error("input 8x8x3", optimizer="lbfgs"))


@pytest.mark.parametrize("obj, words", [
    ({"layers": []}, "no input"),
    ({"input": [8, 8], "layers": []}, "'input' must be"),
    ({"input": [8, 8, 3], "layers": [{"op": "conv", "out": 4, "kernel": "big"}]}, "'kernel'"),
    ({"input": [8, 8, 3], "layers": [{"op": "nope"}]}, "unknown op"),
    ({"input": [8, 8, 3], "layers": [{"kernel": 3}]}, "must be an object with an 'op'"),
    ({"input": [8, 8, 3], "layers": [{"op": "repeat", "times": 0, "body": []}]}, "repeat"),
    ({"input": [8, 8, 3], "layers": "conv"}, "must be a list"),
])
def test_json_form_errors(obj: dict, words: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(SpecError) as info:
        parse_json_spec(obj)
    assert words in str(info.value)


def test_garbage_never_crashes() -> None:
    for text in ["", "}", "{", "input", "[[[", "input 0x0x0", "input 8x8x3\nconv -1 3x3",
                 "input 8x8x3\nfc", "input 8x8x3\n:::", "input 8x8x3\nrepeat x { relu }",
                 "\x00\x01", "input 8x8x3\nconv 8 3x3 stride", "input 8x8x3\ntotal"]:
        with pytest.raises(SpecError):
            parse_spec(text)


def test_huge_numbers_and_long_text_are_refused_politely() -> None:
    big = "9" * 5000
    for spec in (f"input {big}x8x3", f"input 8x8x3\nconv 8 3x3 params: {big}",
                 f"input 8x8x3\nrepeat {big} {{ relu }}"):
        e = error(spec)
        assert "longer than 18 digits" in e.issues[0].message
    e = error("input 8x8x3\n" + "a" * 60_000)
    assert len(e.issues[0].message) < 400 and e.issues[0].line == 2


def test_a_deeply_nested_claim_is_unreadable_not_a_crash() -> None:
    claim = "(" * 900 + "1" + ")" * 900  # as deep as a line of at most MAX_LINE characters holds
    row = analyze(f"input 8x8x3\nconv 8 3x3 params: {claim}").layers[1]
    assert not row.claims[0].ok and "could not read" in row.claims[0].explanation
