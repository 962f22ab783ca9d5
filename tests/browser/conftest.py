"""Browser tests: a real uvicorn server and Debian's Chromium driven by Playwright.

Playwright's own browser download cannot run here, so the tests launch ``/usr/bin/chromium``
(``.ci/setup.d/20-chromium.sh`` installs it). Without Chromium the tests skip, except under CI
(``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import re
import time
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
    with live_server(["app.web.serve", "--host", "127.0.0.1", "--port", str(port)], log,
                     port) as base:
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
    page.on("console", lambda msg: watched.console_errors.append(
        msg.text + (f" ({msg.location.get('url')}:{msg.location.get('lineNumber')})"
                    if "inline style" in msg.text else ""))
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


# -- shared helpers --------------------------------------------------------------------------

#: the sizes every page is laid out for: (width, height, projector mode)
VIEWPORTS = [(1920, 1080, False), (1024, 768, False), (390, 844, False), (1024, 768, True),
             (1920, 1080, True)]


def wait_until(w: Watched, expression: str, seconds: float = 15) -> None:
    """Poll an expression in the page until it holds (``wait_for_function`` compiles its
    predicate with eval, which the page's CSP refuses)."""
    deadline = time.monotonic() + seconds
    while not w.page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.02)


def goto(w: Watched, url: str, status: int | None = None, htmx: bool | None = None) -> None:
    """Load a page (answered with ``status``, when given) and wait for its scripts to be in
    place: htmx, unless ``htmx`` is False or the page is Swagger UI's, which has none."""
    response = w.page.goto(url)
    assert response is not None, url
    assert status is None or response.status == status, (url, response.status)
    w.page.wait_for_load_state("load")
    if htmx if htmx is not None else "/docs" not in url:
        wait_until(w, "window.htmx !== undefined")


def assert_clean(w: Watched, allowed: re.Pattern[str] | None = None) -> None:
    """Nothing went wrong in the page since the last check: no console error (but those
    ``allowed`` matches, such as the status of an answer swapped in on purpose), no uncaught
    exception, no CSP report. Forgets what it checked, so the next check sees only what
    follows."""
    errors = [e for e in w.console_errors if not (allowed and allowed.search(e))]
    assert errors == [], (w.page.url, errors)
    assert w.page_errors == [], (w.page.url, w.page_errors)
    assert w.csp_violations() == [], w.page.url
    w.console_errors.clear()
    w.page_errors.clear()


def with_projector(url: str, on: bool) -> str:
    return url + ("&" if "?" in url else "?") + "projector=1" if on else url


#: elements (rendered) that reach past the viewport's sides without a scroll box around them
OVERFLOWING = """() => {
  const vw = document.documentElement.clientWidth, out = [];
  for (const el of document.querySelectorAll('body *')) {
    if (!el.checkVisibility()) continue;
    const r = el.getBoundingClientRect();
    if (!r.width || (r.right <= vw + 1 && r.left >= -1)) continue;
    if (el.matches('.skip, .visually-hidden')) continue;
    let p = el.parentElement, boxed = false;
    while (p && p !== document.body) {
      if (getComputedStyle(p).overflowX !== 'visible') { boxed = true; break; }
      p = p.parentElement;
    }
    if (!boxed) out.push(`${el.tagName}.${el.className} ${Math.round(r.left)}..${Math.round(r.right)}`);
  }
  return {page: document.documentElement.scrollWidth, viewport: vw, out: out.slice(0, 5)};
}"""

#: boxes that scroll sideways (their content wider than they are)
SIDEWAYS = """() => Array.from(document.querySelectorAll('body *')).filter(el => {
  const s = getComputedStyle(el);
  return el.checkVisibility() && (s.overflowX === 'auto' || s.overflowX === 'scroll')
    && el.scrollWidth > el.clientWidth + 1;
}).map(el => `${el.tagName}.${el.className} ${el.scrollWidth}>${el.clientWidth}`)"""


def axe_violations(w: Watched, axe_source: str) -> list[Any]:
    """The serious and critical violations of an axe-core audit of the page as it is."""
    w.page.evaluate(axe_source)  # through the debugger, so the page's CSP allows it
    result = w.page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in result["violations"] if v["impact"] in {"serious", "critical"}]
