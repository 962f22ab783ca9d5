"""The receptive-field page and the one-layer helper in a real Chromium against a live server."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from tests.browser.conftest import (
    SCREENSHOTS,
    Watched,
    assert_clean,
    axe_violations,
    goto,
    open_page,
)

#: a stride, a pool and padding: the pyramid spreads and part of the field is in the padding
SPEC = ("input 32x32x3\nconv1: conv 8 3x3 stride 2 pad 1\nrelu\nconv2: conv 8 3x3 pad 1\n"
        "pool1: maxpool 2x2\nconv3: conv 8 3x3\n")
RF_URL = "/rf?" + urlencode({"spec": SPEC, "row": 1, "unit": "first"})
#: Chromium logs the 422 status of an answer that htmx swaps in on purpose
NETWORK_422 = re.compile(r"status of 422 ")


def _svg_title(w: Watched) -> str:
    text: str = w.page.locator("#rf-2d-title").text_content() or ""
    return text


def test_pick_a_layer_with_the_keyboard_and_see_its_diagram(base_url: str,
                                                            watched: Watched) -> None:
    page = watched.page
    goto(watched, base_url + RF_URL, status=200)
    assert "conv1" in _svg_title(watched) and "3 x 3 pixels" in _svg_title(watched)
    page.evaluate("window.__sameDocument = 7")
    picker = page.locator("#rf-row")
    picker.focus()
    for _ in range(4):  # down from row 1 to row 5, conv3
        page.keyboard.press("ArrowDown")
    page.locator("#rf-diagram h2", has_text="conv3").wait_for()
    # conv3 (3x3 at jump 4 after the pool) on conv2 (3x3 at jump 2) on conv1 (3x3 at jump 1)
    size = 1 + (3 - 1) * 1 + (3 - 1) * 2 + (2 - 1) * 2 + (3 - 1) * 4
    assert f"{size} x {size} pixels" in _svg_title(watched)
    assert page.evaluate("window.__sameDocument") == 7  # swapped in place, not reloaded
    assert "row=5" in page.url  # the URL follows the picker
    levels = page.locator("#rf-diagram svg.rf-pyramid-wide text.rf-name")
    assert levels.all_text_contents() == ["conv3", "pool1", "conv2", "conv1", "input"]
    assert page.locator("#rf-diagram svg.rf-pyramid-wide rect.rf-cell-pad").count() > 0
    assert page.evaluate("document.activeElement.id") == "rf-row"  # focus kept
    assert_clean(watched)


def test_type_a_unit_by_index_and_see_it_drawn(base_url: str, watched: Watched) -> None:
    page = watched.page
    goto(watched, base_url + RF_URL)
    unit = page.locator("#rf-unit")
    unit.fill("5,9")
    unit.press("Tab")  # the input's change event asks htmx for the diagram of that unit
    page.locator("#rf-diagram .rf-summary", has_text="Drawn: unit (5, 9)").wait_for()
    assert "unit (5, 9)" in _svg_title(watched)
    assert_clean(watched)


def test_picker_works_without_javascript(base_url: str, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1024,
                                                                       "height": 768})
    try:
        page = context.new_page()
        page.goto(base_url + RF_URL)
        page.select_option("#rf-row", "3")
        with page.expect_navigation():
            page.click("text=Draw")
        assert "row=3" in page.url
        assert "conv2" in (page.locator("#rf-diagram h2").text_content() or "")
    finally:
        context.close()


def test_type_an_answer_and_see_it_marked(base_url: str, watched: Watched) -> None:
    page = watched.page
    goto(watched, f"{base_url}/layer?quiz=true", status=200)
    assert page.locator(".layer-hidden").is_visible()
    assert page.locator(".steps").count() == 0  # nothing to peek at
    page.evaluate("window.__sameDocument = 7")
    page.fill("#a_out", "55x55x96")
    page.fill("#a_weights", str(11 * 11 * 3 * 96 + 96))  # weights and biases: wrong
    page.locator("#a_biases").focus()
    page.keyboard.type("96")
    page.keyboard.press("Enter")
    page.locator(".marks").wait_for()
    marks = page.locator(".mark")
    assert marks.count() == 4
    assert "right" in (marks.nth(0).text_content() or "")
    wrong = marks.nth(1)
    assert "wrong" in (wrong.text_content() or "") and "✗" in (wrong.text_content() or "")
    assert "not answered" in (marks.nth(3).text_content() or "")
    assert f"{11 * 11 * 3 * 96:,}" in (page.locator(".steps").text_content() or "")
    assert page.evaluate("window.__sameDocument") == 7
    assert_clean(watched)


def test_no_page_overflow_and_no_serious_accessibility_problem(base_url: str, browser: Any,
                                                               axe_source: str) -> None:
    answered = "/layer?" + urlencode({"quiz": "true", "a_out": "55x55x96", "a_macs": "105M"})
    for width, height in ((1920, 1080), (1024, 768), (390, 844)):
        for path in (RF_URL, answered):
            w = open_page(browser, width, height)
            try:
                goto(w, base_url + path, status=200)
                overflow = w.page.evaluate("document.documentElement.scrollWidth"
                                           " - document.documentElement.clientWidth")
                assert overflow <= 0, (path, width, overflow)
                bad = axe_violations(w, axe_source)
                assert bad == [], (path, width, bad)
                assert_clean(w)
            finally:
                w.page.context.close()


def test_screenshots(base_url: str, browser: Any) -> None:
    """/rf and /layer as people see them, saved in docs/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    rf_resnet = ""
    for width, height in ((1920, 1080), (1024, 768), (390, 844)):
        w = open_page(browser, width, height)
        try:
            if not rf_resnet:  # torchvision's ResNet-50, the last stage's output (field 427)
                api = f"{base_url}/api/models/tv-resnet50"
                spec = w.page.request.get(f"{api}/spec").text()
                rows = w.page.request.get(api).json()["layers"]
                row = next(r["index"] for r in rows if r["name"] == "relu49")
                rf_resnet = "/rf?" + urlencode({"spec": spec, "row": row, "unit": "centre"})
            for path, name in ((RF_URL.replace("row=1", "row=5"), "rf"),
                               (rf_resnet, "rf-resnet50"),
                               ("/layer?" + urlencode({"quiz": "true", "a_out": "55x55x96",
                                                       "a_weights": "34944", "a_biases": "96",
                                                       "a_macs": "105M"}), "layer")):
                goto(w, base_url + path, status=200)
                target = SCREENSHOTS / f"{name}-{width}x{height}.png"
                w.page.screenshot(path=str(target), full_page=True)
                assert target.stat().st_size > 10_000
        finally:
            w.page.context.close()
