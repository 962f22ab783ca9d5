"""Features that could step on each other: the calculator's "RF diagram" buttons and the
batch planner's unit, the planner opening itself on a live update."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import goto, open_page, wait_until

#: the output volume shown in the table's last row
LAST_OUTPUT = ("Array.from(document.querySelectorAll('table.layers tr.row')).pop()"
               ".querySelector('td.col-output .x, td.col-output button.fig').firstChild.textContent")


def test_rf_diagram_buttons_and_the_planner_on_the_calculator(base_url: str,
                                                              browser: Any) -> None:
    w = open_page(browser, 1280, 900)
    page = w.page
    try:
        goto(w, f"{base_url}/?example=alexnet")
        planner = page.locator("#planner")
        assert planner.get_attribute("open") is None
        page.focus("#spec")
        page.keyboard.press("Control+End")
        page.keyboard.type("fc 77", delay=10)  # live updates: the planner stays closed
        wait_until(w, f"{LAST_OUTPUT} === '1x1x77'")
        assert page.locator("#planner").get_attribute("open") is None
        page.click("#planner > summary")  # opened by hand, it stays open as the table updates
        page.keyboard.press("Control+End")
        page.focus("#spec")
        page.keyboard.press("Control+End")
        page.keyboard.press("Backspace")
        wait_until(w, f"{LAST_OUTPUT} === '1x1x7'")
        assert page.locator("#planner").get_attribute("open") is not None
        # a row's RF diagram: the planner's unit never reaches /rf as its unit
        page.locator("table.layers tr.row", has_text="CONV2").locator("button.rf-pick").click()
        wait_until(w, "document.querySelector('#rf-panel svg') !== null")
        assert "CONV2" in page.locator("#rf-panel").inner_text()
        assert page.locator("#problems .errors").count() == 0  # and the table is not stale
        # the diagram a live update left out is drawn when opened, and kept while open
        page.click("details.calc-arch > summary")
        wait_until(w, "document.querySelector('details.calc-arch svg.arch-svg') !== null")
        page.focus("#spec")
        page.keyboard.press("Control+End")
        page.keyboard.type("7", delay=10)
        wait_until(w, f"{LAST_OUTPUT} === '1x1x77'")
        assert page.locator("details.calc-arch[open] svg.arch-svg").count() == 1
        assert w.console_errors == [] and w.page_errors == []
    finally:
        page.context.close()
