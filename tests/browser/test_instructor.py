"""The instructor's tools, reached by clicks alone: reveal mode (columns chosen, stepped
through, the answers off the page meanwhile, the editor's included), the quiz on /layer, the
help panel and the link to /import."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import (
    Watched,
    assert_clean,
    goto,
    open_page,
    wait_until,
)

#: the page as someone could read it: its text, every field's value, its title, and its markup
PAGE_TEXT = """() => [document.body.innerText, document.title, document.body.outerHTML,
  ...Array.from(document.querySelectorAll('textarea, input')).map(f => f.value)].join('\\n')"""


@pytest.fixture()
def w1024(browser: Any) -> Iterator[Watched]:
    w = open_page(browser, 1024, 768)
    try:
        yield w
    finally:
        w.page.context.close()


def test_reveal_by_clicks_hides_every_answer_until_revealed(base_url: str,
                                                            w1024: Watched) -> None:
    page = w1024.page
    goto(w1024, f"{base_url}/?example=alexnet")
    conv1 = "55x55x96"  # CONV1's output volume, written on its line and computed in the table
    total = page.locator("dl.totals dd strong").first.inner_text()  # the parameters, 62,378,344
    assert conv1 in page.evaluate(PAGE_TEXT) and total in page.evaluate(PAGE_TEXT)
    page.click("header [data-reveal-toggle]")
    chooser = page.locator("#reveal-panel")
    chooser.wait_for()
    boxes = chooser.locator("input[type=checkbox]")
    assert boxes.count() >= 6  # a box for each column of the table
    chooser.get_by_label("Params").check()
    chooser.get_by_label("Output").check()
    chooser.locator("[data-reveal=start]").click()
    cells = page.locator("table.layers td.veiled")
    assert cells.count() >= 2 * 13
    text = page.evaluate(PAGE_TEXT)
    assert conv1 not in text and total not in text  # off the page, the editor's text included
    assert "CONV1" in page.input_value("#spec")  # the spec is still there, less its figures
    # step through: the bar's buttons, then a click on a "?"
    for _ in range(3):
        page.click("#reveal-panel [data-reveal=next]")
    assert "revealed 3 of" in chooser.inner_text()
    revealed = page.evaluate("document.querySelectorAll("
                             "'table.layers td.num:not(.veiled)[data-cell]').length")
    assert revealed == 3
    cells.first.click()
    assert "revealed 4 of" in chooser.inner_text()
    assert "step=4" in page.url
    # the header, not a floating bar, holds the controls: no table cell is covered
    covered = page.evaluate("""() => Array.from(document.querySelectorAll('table.layers td.num')).filter(td => {
        const r = td.getBoundingClientRect(); if (r.bottom < 0 || r.top > innerHeight || !r.width) return false;
        const hit = document.elementFromPoint(r.left + r.width / 2, Math.max(r.top, 0) + 2);
        return hit && document.getElementById('reveal-panel').contains(hit); }).length""")
    assert covered == 0
    page.click("#reveal-panel [data-reveal=all]")
    text = page.evaluate(PAGE_TEXT)
    assert conv1 in text and total in text and f"[{conv1}]" in page.input_value("#spec")
    page.click("#reveal-panel [data-reveal=stop]")
    assert "reveal=" not in page.url and page.locator("#reveal-panel").is_hidden()
    assert_clean(w1024)


def test_reveal_survives_typing_and_sends_the_spec_as_written(base_url: str,
                                                               w1024: Watched) -> None:
    page = w1024.page
    goto(w1024, f"{base_url}/?example=alexnet&reveal=output&step=0")
    assert page.locator("table.layers td.veiled").count() > 5
    page.select_option("#calc select[name=dtype]", "float16")  # a live update while revealing
    wait_until(w1024, "location.search.includes('dtype=float16')")
    wait_until(w1024, "document.querySelectorAll('table.layers td.veiled').length > 5")
    assert "55x55x96" not in page.evaluate(PAGE_TEXT)
    page.click("#reveal-panel [data-reveal=all]")
    # the claims written on the lines were still checked: the spec sent was the one written
    assert page.locator("table.layers .claim.right").count() >= 10
    assert_clean(w1024)


def test_the_quiz_hides_answers_at_once_and_follows_the_typing(base_url: str,
                                                               w1024: Watched) -> None:
    page = w1024.page
    goto(w1024, f"{base_url}/layer")
    assert "55x55x96" in page.evaluate(PAGE_TEXT)
    page.get_by_label("quiz: hide the answers").check()
    assert "55x55x96" not in page.evaluate("document.body.innerText")  # at once, by the page
    page.locator("#layer-result .layer-hidden").wait_for()
    page.fill("input[name=filters]", "64")  # the page follows the typing, answers still hidden
    wait_until(w1024, "document.querySelector('#layer-result h2').textContent.includes('64')")
    assert "55x55x64" not in page.evaluate("document.body.innerText")
    page.fill("#a_out", "55x55x64")
    page.wait_for_timeout(500)  # a live update: the answer typed is not checked yet
    assert page.locator("#layer-result .marks").count() == 0
    page.click("#layer-form button[type=submit]")
    page.locator("#layer-result .mark.right").first.wait_for()
    assert "55x55x64" in page.locator("#layer-result").inner_text()
    assert_clean(w1024)


def test_help_for_instructors_and_import_in_the_navigation(base_url: str,
                                                           w1024: Watched) -> None:
    page = w1024.page
    goto(w1024, f"{base_url}/models")
    page.click("header nav a[href='/import']")
    page.wait_for_url("**/import")
    page.click("header .instructor-help summary")
    help_body = page.locator("header .instructor-help .help-body")
    assert help_body.is_visible()
    box = help_body.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1024
    for key in ("Projector mode", "Reveal mode", "Quiz"):
        assert key in help_body.inner_text()
    page.keyboard.press("Escape")
    assert not help_body.is_visible()
    # no table on this page: no reveal control
    assert page.locator("header [data-reveal-toggle]").is_hidden()
    assert_clean(w1024)
