"""Browser tests: a real uvicorn server and Debian's Chromium driven by Playwright.

Playwright's own browser download cannot run here, so the tests launch ``/usr/bin/chromium``
(``.ci/setup.d/20-chromium.sh`` installs it). Without Chromium the tests skip, except under CI
(``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.liveserver import free_port, live_server

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("ARCHCALC_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
AXE = REPO_ROOT / "tests" / "browser" / "vendor" / "axe-4.14.1.min.js"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

#: records what the page reports: console errors, uncaught exceptions, CSP violations
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def _require_browser() -> None:
    if CHROMIUM.exists():
        return
    if IN_CI:
        pytest.fail(f"{CHROMIUM} is missing under CI; .ci/setup.d/20-chromium.sh installs it")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")


@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A live uvicorn server on a free port, stopped after the session."""
    _require_browser()
    port = free_port()
    log = tmp_path_factory.mktemp("uvicorn") / "log.txt"
    with live_server(["uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port),
                      "--log-level", "warning"], log, port) as base:
        yield base


@pytest.fixture(scope="module")
def browser(base_url: str) -> Iterator[Any]:
    """One headless Chromium per test module. Not for the session: Playwright's sync API keeps
    an event loop running in this thread while it is open, and later tests call asyncio.run."""
    if IN_CI:
        from playwright.sync_api import sync_playwright
    else:
        sync_api = pytest.importorskip("playwright.sync_api")
        sync_playwright = sync_api.sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Watched:
    """A page with everything it reported."""

    page: Any
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        found: list[str] = self.page.evaluate("window.__csp || []")
        return found


def open_page(browser: Any, width: int, height: int) -> Watched:
    """A fresh page of that viewport size, its console and CSP reports recorded."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(15_000)
    watched = Watched(page)
    page.add_init_script(WATCH_CSP)
    page.on("console", lambda msg: watched.console_errors.append(msg.text)
            if msg.type == "error" else None)
    page.on("pageerror", lambda exc: watched.page_errors.append(str(exc)))
    return watched


@pytest.fixture()
def watched(browser: Any) -> Iterator[Watched]:
    """A 1280x900 page; closed after the test."""
    w = open_page(browser, 1280, 900)
    try:
        yield w
    finally:
        w.page.context.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    return AXE.read_text(encoding="utf-8")
