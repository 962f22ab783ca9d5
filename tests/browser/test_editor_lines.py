"""The editor's line numbers are the engine's, in a real Chromium, for every character that
``str.splitlines()`` would have broken a line at."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest

from app.engine import SpecError, analyze
from app.engine.lines import editor_line_count
from tests.browser.conftest import Watched

CASES = {"FF": "\x0c", "VT": "\x0b", "FS": "\x1c", "RS": "\x1e", "NEL": "\x85",
         "LS": "\u2028", "PS": "\u2029", "BOM": "\ufeff"}
#: what the page shows: how many lines the gutter numbers, and which it marks
STATE = """(() => {
  const marked = [...document.querySelectorAll('#gutter li.error')].map(li => li.textContent);
  return [document.querySelectorAll('#gutter li').length, marked];
})()"""


def _engine_error_line(spec: str) -> int:
    with pytest.raises(SpecError) as info:
        analyze(spec)
    (issue,) = info.value.issues
    return issue.line


@pytest.mark.parametrize("name", CASES)
def test_the_gutter_marks_the_line_the_engine_blames(base_url: str, watched: Watched,
                                                     name: str) -> None:
    ch = CASES[name]
    spec = ("\ufeffinput 8x8x3\nconv 4 3x3\nrelu\n\nfrob 3\nrelu" if name == "BOM"
            else f"input 8x8x3\nconv 4 3x3 {ch}\n{ch}relu\n\nfrob 3\nrelu")
    line = _engine_error_line(spec)
    page = watched.page
    page.goto(f"{base_url}/?{urlencode({'spec': spec})}")
    page.wait_for_load_state("load")
    assert page.evaluate("document.getElementById('spec').value") == spec
    count, marked = page.evaluate(STATE)
    assert (count, marked) == (editor_line_count(spec), [str(line)])
    # the editor numbers its lines again after a keystroke (app.js), and agrees
    page.focus("#spec")
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    deadline = time.monotonic() + 15
    while page.evaluate(STATE) != [count + 1, [str(line)]]:
        assert time.monotonic() < deadline, page.evaluate(STATE)
        time.sleep(0.05)
    # following the problem's link selects exactly the line the engine named
    page.locator("#problems a.where", has_text=f"line {line}").click()
    selected = page.evaluate("(() => { const t = document.getElementById('spec');"
                             " return t.value.slice(t.selectionStart, t.selectionEnd); })()")
    assert selected == "frob 3"
    assert watched.page_errors == [] and watched.csp_violations() == []
