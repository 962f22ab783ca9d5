"""Invisible characters (bidi overrides, zero-width spaces, controls) in user text: written out
where a message quotes them, refused in JSON-form names (the text form's names are words)."""

from __future__ import annotations

import pytest

from app.engine import SpecError, analyze
from app.engine.errors import short, visible

RLO, ZWSP, BOM = "\u202e", "\u200b", "\ufeff"


@pytest.mark.parametrize("char", [RLO, ZWSP, BOM, "\u2066", "\x00", "\x1b", "\u200f"])
def test_a_quoted_invisible_character_is_written_out(char: str) -> None:
    escape = f"\\u{ord(char):04x}"
    assert short(f"a{char}b") == f"a{escape}b" and char not in short(f"a{char}b")


def test_visible_text_is_left_alone() -> None:
    text = "conv 96 11x11 \t stride 4 — שלום 卷积 ✓"
    assert visible(text) == text


def test_a_line_with_a_right_to_left_override_is_quoted_visibly() -> None:
    with pytest.raises(SpecError) as caught:
        analyze(f"input 8x8x3\n{RLO}vnoc 8 3x3\n")
    message = caught.value.issues[0].message
    assert RLO not in message and "\\u202e" in message, message


@pytest.mark.parametrize("char", [RLO, ZWSP, "\n"])
def test_a_json_name_with_an_invisible_character_is_refused(char: str) -> None:
    spec = {"input": {"h": 8, "w": 8, "c": 3},
            "layers": [{"op": "conv", "name": f"conv{char}1", "out": 2, "kernel": 1}]}
    with pytest.raises(SpecError) as caught:
        analyze(spec)
    issue = caught.value.issues[0]
    assert issue.line == 1 and "'name'" in issue.message and char not in issue.message


def test_a_json_name_with_markup_or_right_to_left_letters_is_kept_as_written() -> None:
    names = ["<script>x</script>", "{{7*7}}", "שכבה"]
    spec = {"input": {"h": 8, "w": 8, "c": 3},
            "layers": [{"op": "conv", "name": n, "out": 2, "kernel": 1} for n in names]}
    assert [row.name for row in analyze(spec).layers[1:]] == names
