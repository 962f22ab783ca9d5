"""One line splitter: the engine numbers lines as the editor does, whatever the text holds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.engine import SpecError, Volume, analyze, analyze_layer
from app.engine.lines import LINE_BREAK, editor_line_count, split_lines

APP_JS = Path(__file__).resolve().parents[2] / "static" / "editor.js"
#: characters str.splitlines() breaks at and the editor does not: pdftotext's page break (FF),
#: VT, the file/group/record separators, NEL, LINE and PARAGRAPH SEPARATOR (and the unit
#: separator, whitespace too)
NOT_LINE_ENDS = ["\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\u2028", "\u2029"]


def editor_rule() -> re.Pattern[str]:
    """The expression static/editor.js splits the editor's text with, read from the file."""
    m = re.search(r"var LINE_BREAK = /(.+)/;", APP_JS.read_text(encoding="utf-8"))
    assert m, "static/editor.js declares no LINE_BREAK"
    return re.compile(m[1])


def test_the_editor_splits_with_the_engines_expression_and_nothing_else() -> None:
    source = APP_JS.read_text(encoding="utf-8")
    assert editor_rule().pattern == LINE_BREAK.pattern
    assert 'split("\\n")' not in source and "split('\\n')" not in source


def _error_line(spec: str) -> int:
    with pytest.raises(SpecError) as info:
        analyze(spec)
    assert len(info.value.issues) == 1, info.value.issues
    return info.value.issues[0].line


@pytest.mark.parametrize("ch", NOT_LINE_ENDS, ids=lambda c: f"U+{ord(c):04X}")
def test_a_character_that_is_no_line_end_shifts_nothing(ch: str) -> None:
    spec = f"input 8x8x3\nconv 4 3x3{ch}\n{ch}relu{ch}\nfrob 3\nrelu\n"
    editor_lines = editor_rule().split(spec)
    assert _error_line(spec) == editor_lines.index("frob 3") + 1 == 4
    assert len(spec.splitlines()) > 5 or ch == "\x1f"  # str.splitlines would count more lines
    # inside a line the character is whitespace: the layers around it are read
    a = analyze(spec.replace("frob 3", f"conv{ch}2 1x1"))
    assert [r.op for r in a.layers[1:]] == ["conv", "relu", "conv", "relu"]
    assert a.totals.params == (3 * 3 * 3 * 4 + 4) + (1 * 1 * 4 * 2 + 2)


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_the_three_line_ends(end: str) -> None:
    spec = end.join(["input 8x8x3", "conv 4 3x3", "", "frob 3", "relu"]) + end
    assert _error_line(spec) == editor_rule().split(spec).index("frob 3") + 1 == 4
    assert editor_line_count(spec) == len(editor_rule().split(spec)) == 6


def test_a_leading_byte_order_mark_is_dropped() -> None:
    spec = "\ufeffinput 8x8x3\nconv 4 3x3\n"
    assert analyze(spec).totals.params == 3 * 3 * 3 * 4 + 4
    assert split_lines(spec) == ["input 8x8x3", "conv 4 3x3"]
    # only a leading one: elsewhere it is a character of the line (and refused there)
    assert _error_line("input 8x8x3\n\ufeffconv 4 3x3\n") == 2


@pytest.mark.parametrize("ch", ["\x01", "\x07", "\x08", "\x1b", "\x7f", "\x9b"],
                         ids=lambda c: f"U+{ord(c):04X}")
def test_any_other_control_character_is_refused_on_its_own_line(ch: str) -> None:
    with pytest.raises(SpecError) as info:
        analyze(f"input 8x8x3\nconv 4 3x3\nrelu {ch}[31m\nfrob\n")
    lines = [(i.line, i.message) for i in info.value.issues]
    assert lines[0] == (3, f"the line holds the control character U+{ord(ch):04X} at column 6; "
                           f"delete it or retype the line")
    assert [n for n, _ in lines] == [3, 4]  # and reading went on


@pytest.mark.parametrize("text, lines", [
    ("", []), ("a", ["a"]), ("a\n", ["a"]), ("\n", [""]), ("a\r\n\rb", ["a", "", "b"]),
    ("a\n\n", ["a", ""]), ("\ufeff", []), ("a\x0cb", ["a\x0cb"]),
])
def test_split_lines_keeps_what_splitlines_kept_for_plain_text(text: str,
                                                               lines: list[str]) -> None:
    assert split_lines(text) == lines
    if not any(c in text for c in "\x0c\ufeff"):
        assert lines == text.splitlines()


@pytest.mark.parametrize("text, ok", [
    ("conv 4 3x3\x0cstride 2", True), ("\ufeffconv 4 3x3", True), ("conv 4 3x3 # note", True),
    ("conv 4 3x3\r\n", True), ("conv 4 3x3\rrelu", False), ("conv 4 3x3\u2028stride 2", True),
    ("conv 4 3x3\x1b[2J", False), ("conv 4 " + "x" * 3000, False),
])
def test_one_layer_alone_follows_a_spec_lines_rules(text: str, ok: bool) -> None:
    if ok:
        row = analyze_layer(text, Volume(8, 8, 3))
        assert row.op == "conv" and row.params == 3 * 3 * 3 * 4 + 4
    else:
        with pytest.raises(SpecError) as info:
            analyze_layer(text, Volume(8, 8, 3))
        assert info.value.issues[0].line == 1
