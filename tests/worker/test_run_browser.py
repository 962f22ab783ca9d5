"""In Chromium: a model page's "Run for real" runs at the input typed into the page (htmx sends
the field as it is now), and the run's token stays with that browser."""

from __future__ import annotations

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, _require_browser
from tests.worker.conftest import WebServer


def test_a_model_page_runs_at_the_input_typed_into_it(web: WebServer) -> None:
    _require_browser()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{web.base}/models/lenet5")
            field = page.locator("#model-form input[name=input]")
            field.fill("36x36x1")
            page.wait_for_url("**input=36x36x1**", timeout=15_000)
            page.locator(".run-form input[name=batch_sizes]").fill("1")
            page.get_by_role("button", name="Run for real").click()
            status = page.locator("#run-status")
            status.get_by_text("Measured on").wait_for(timeout=90_000)
            text = status.inner_text()
            cookies = page.context.cookies()
        finally:
            browser.close()
    assert "input 36x36x1" in text and "lenet5 at 36x36x1" in text, text
    (cookie,) = [c for c in cookies if c["name"] == "archcalc_run_token"]
    assert cookie["path"].startswith("/runs/") and cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
