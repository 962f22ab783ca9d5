"""Every page at the sizes it is used at: a wide screen, a 1024x768 projector, a phone, and
projector mode at 1024x768 and 1920x1080. Nothing wider than the viewport, no box scrolling
sideways (on a phone only a table's own box may), every cell's working inside the viewport and
on top, the result in view while typing, an axe-core audit, no console errors; a screenshot of
each page at each size, for people to look at."""

from __future__ import annotations

import os
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.examples import ALEXNET_SLIDE
from tests.browser.conftest import (
    OVERFLOWING,
    SCREENSHOTS,
    SIDEWAYS,
    VIEWPORTS,
    Watched,
    assert_clean,
    axe_violations,
    goto,
    open_page,
    wait_until,
    with_projector,
)

#: where the screenshots go, each page at each size (open and read them: geometry tests cannot
#: see everything)
SHOTS = Path(os.environ.get("ARCHCALC_SHOTS", str(SCREENSHOTS / "pages")))
#: a student's homework, typed into an empty editor
HOMEWORK = ["input 32x32x3", "conv 8 3x3 pad 1 params: 224", "maxpool 2x2 stride 2",
            "fc 10 params: 20,490"]

PAGES = {
    "alexnet": "/?example=alexnet",
    "layer": "/layer",
    "rf": "/rf?" + urllib.parse.urlencode({"spec": ALEXNET_SLIDE}),
    "models": "/models",
    "model": "/models/resnet50",
    "compare": "/compare?preset=inception",
    "lecture": "/lecture",
    "import": "/import",
    "docs": "/docs",
}
#: boxes that may scroll sideways on a phone: a table's own box, a diagram's
PHONE_SCROLLERS = ("table-wrap", "rf-scroll", "arch-wrap")


def _size(width: int, height: int, projector: bool) -> str:
    return f"{width}x{height}" + ("-projector" if projector else "")


@pytest.fixture(scope="module")
def short_path(base_url: str) -> str:
    """A short link to the AlexNet slide, made as the form makes one."""
    body = urllib.parse.urlencode({"spec": ALEXNET_SLIDE, "dtype": "float32", "batch": "1",
                                   "optimizer": "sgd"}).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{base_url}/s", data=body)) as answer:
        path: str = urllib.parse.urlsplit(answer.geturl()).path
    assert path.startswith("/s/"), path
    return path


@pytest.fixture(scope="module")
def shots() -> Iterator[Path]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield SHOTS


def _fits(w: Watched, width: int) -> None:
    found = w.page.evaluate(OVERFLOWING)
    assert found["page"] <= found["viewport"], (w.page.url, found)
    assert found["out"] == [], (w.page.url, found["out"])
    sideways = w.page.evaluate(SIDEWAYS)
    if width < 700:
        sideways = [s for s in sideways if not any(f".{c}" in s or f" {c}" in s
                                                   for c in PHONE_SCROLLERS)]
    assert sideways == [], (w.page.url, sideways)


def _type_homework(w: Watched) -> None:
    w.page.fill("#spec", "")
    w.page.focus("#spec")
    for i, line in enumerate(HOMEWORK):
        w.page.keyboard.type(line + ("\n" if i < len(HOMEWORK) - 1 else ""), delay=5)
    # the whole homework answered, and nothing left in flight before the next page
    wait_until(w, "document.querySelectorAll('table.layers tr.row').length === 4 && "
                  "!document.querySelector('#problems .errors') && "
                  "document.querySelector('table.layers tr.row:last-of-type td.col-output')"
                  ".textContent.startsWith('1x1x10') && !document.querySelector('.htmx-request')")


@pytest.mark.parametrize(("width", "height", "projector"), VIEWPORTS,
                         ids=[_size(*v) for v in VIEWPORTS])
def test_every_page_fits(base_url: str, browser: Any, short_path: str, shots: Path,
                         width: int, height: int, projector: bool) -> None:
    w = open_page(browser, width, height)
    size = _size(width, height, projector)
    try:
        goto(w, with_projector(f"{base_url}/", projector))
        _type_homework(w)
        _fits(w, width)
        w.page.screenshot(path=str(shots / f"homework-{size}.png"))
        for name, path in {**PAGES, "shortlink": short_path}.items():
            goto(w, with_projector(base_url + path, projector))
            if name == "docs":
                w.page.locator(".swagger-ui .info .title").wait_for()
            _fits(w, width)
            w.page.screenshot(path=str(shots / f"{name}-{size}.png"))
            assert_clean(w)
    finally:
        w.page.context.close()


#: every number cell's working, opened by focus, inside the viewport and on top
WORKING_CHECK = """() => {
  const vw = document.documentElement.clientWidth, vh = document.documentElement.clientHeight;
  const bad = []; let opened = 0;
  for (const fig of document.querySelectorAll('table.layers button.fig')) {
    if (!fig.checkVisibility()) continue;
    fig.focus();
    const pop = document.getElementById('working-pop');
    if (!pop || pop.hidden) { bad.push(fig.dataset.cell + ' did not open'); continue; }
    opened++;
    const r = pop.getBoundingClientRect();
    if (r.left < 0 || r.top < 0 || r.right > vw || r.bottom > vh) {
      bad.push(`${fig.dataset.cell} outside: ${r.left},${r.top},${r.right},${r.bottom}`); continue;
    }
    for (const [x, y] of [[r.left + 3, r.top + 3], [r.right - 3, r.top + 3], [r.left + 3, r.bottom - 3],
                          [r.right - 3, r.bottom - 3], [(r.left + r.right) / 2, (r.top + r.bottom) / 2]]) {
      const hit = document.elementFromPoint(x, y);
      if (!hit || !pop.contains(hit)) { bad.push(`${fig.dataset.cell} covered at ${x},${y}`); break; }
    }
    if (pop.textContent.trim() === '') bad.push(fig.dataset.cell + ' empty');
  }
  return {opened, bad: bad.slice(0, 5)};
}"""


@pytest.mark.parametrize(("width", "height", "projector"), VIEWPORTS,
                         ids=[_size(*v) for v in VIEWPORTS])
def test_every_working_opens_inside_the_viewport(base_url: str, browser: Any, width: int,
                                                 height: int, projector: bool) -> None:
    w = open_page(browser, width, height)
    try:
        for path in ("/?example=alexnet", "/?example=3x3-vs-7x7", "/models/vgg16"):
            goto(w, with_projector(base_url + path, projector))
            found = w.page.evaluate(WORKING_CHECK)
            cells = w.page.locator("table.layers button.fig").count()
            assert found["bad"] == [], (path, found)
            assert found["opened"] >= min(cells, 10), (path, found)
        assert_clean(w)
    finally:
        w.page.context.close()


def _pop_box(w: Watched) -> dict[str, float]:
    box: dict[str, float] = w.page.evaluate(
        "(() => { const p = document.getElementById('working-pop');"
        " if (!p || p.hidden) return null; const r = p.getBoundingClientRect();"
        " return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; })()")
    return box


def test_working_by_pointer_and_keyboard(base_url: str, browser: Any) -> None:
    """The last row's first and last figure, by hovering, clicking and tabbing; Escape closes."""
    w = open_page(browser, 1024, 768)
    try:
        goto(w, f"{base_url}/?example=alexnet")
        last = w.page.locator("table.layers tr.row").last
        first_fig = last.locator("td.num:visible button.fig").first
        last_fig = last.locator("td.num:visible button.fig").last
        for fig in (first_fig, last_fig):
            fig.scroll_into_view_if_needed()
            fig.hover()
            box = _pop_box(w)
            assert box is not None
            assert 0 <= box["left"] and box["right"] <= 1024 and 0 <= box["top"]
            assert box["bottom"] <= 768
            fig.click()  # pinned: it stays when the pointer goes
            w.page.mouse.move(5, 5)
            w.page.wait_for_timeout(400)
            assert _pop_box(w) is not None
            w.page.keyboard.press("Escape")
            assert _pop_box(w) is None
        first_fig.focus()
        w.page.keyboard.press("Shift+Tab")
        w.page.keyboard.press("Tab")  # back onto the figure, by keyboard
        assert _pop_box(w) is not None
        described = w.page.evaluate("document.activeElement.getAttribute('aria-describedby')")
        assert described == "working-pop"
        assert_clean(w)
    finally:
        w.page.context.close()


IN_VIEW = """(sel) => { const el = document.querySelector(sel); if (!el) return false;
        const r = el.getBoundingClientRect();
        const vw = document.documentElement.clientWidth, vh = document.documentElement.clientHeight;
        const top = Math.max(r.top, 0), bottom = Math.min(r.bottom, vh);
        if (bottom - top < 8 || r.left < 0 || r.right > vw) return false;
        const hit = document.elementFromPoint((r.left + r.right) / 2, (top + bottom) / 2);
        return !!hit && (el.contains(hit) || hit.contains(el)); }"""


def _in_view(w: Watched, selector: str, seconds: float = 0) -> bool:
    """Some of the element is inside the viewport and not covered at its centre (within
    ``seconds``: a swap settles, then the pane scrolls)."""
    deadline = time.monotonic() + seconds
    while True:
        seen: bool = w.page.evaluate(IN_VIEW, selector)
        if seen or time.monotonic() >= deadline:
            return seen
        time.sleep(0.05)


def test_the_result_stays_in_view_while_typing_at_1024(base_url: str, browser: Any) -> None:
    w = open_page(browser, 1024, 768)
    try:
        goto(w, f"{base_url}/?example=vgg16")
        spec = w.page.locator("#spec")
        spec.focus()
        w.page.keyboard.press("Control+End")
        w.page.keyboard.type("\nfc 10", delay=10)
        row = "table.layers tr.row:last-of-type"
        wait_until(w, "(() => { const r = document.querySelector('table.layers tr.row:last-of-type');"
                      " return !!r && r.textContent.includes('1x1x10'); })()")
        assert _in_view(w, row, seconds=2)  # the row of the line typed
        assert _in_view(w, "dl.totals")  # the totals
        assert _in_view(w, ".line-claims")  # the claims' verdict
        assert _in_view(w, "#spec")  # and the editor, all at once
        # a line broken while typing: its message at its line, beside the editor, in view
        w.page.keyboard.type(" frobnicate", delay=10)
        # (a pause while typing may first show the message for part of the word)
        w.page.locator("#line-problems li.error", has_text="frobnicate").wait_for()
        assert _in_view(w, "#line-problems li.error")
        assert_clean(w)  # the broken spec's answer is no failed request: nothing logged
    finally:
        w.page.context.close()


def test_on_a_phone_the_result_comes_first_and_the_editor_is_a_tap_away(
        base_url: str, browser: Any) -> None:
    w = open_page(browser, 390, 844)
    try:
        goto(w, f"{base_url}/?example=alexnet")
        assert _in_view(w, ".result-title")
        assert not _in_view(w, "#spec")
        w.page.click("a.to-editor")
        wait_until(w, "(() => { const r = document.getElementById('spec').getBoundingClientRect();"
                      " return r.top >= 0 && r.top < innerHeight; })()")
        assert_clean(w)
    finally:
        w.page.context.close()


@pytest.mark.parametrize(("width", "height", "projector"), [(1024, 768, False),
                                                            (390, 844, False),
                                                            (1920, 1080, True)],
                         ids=["1024x768", "390x844", "1920x1080-projector"])
def test_accessibility_of_every_page(base_url: str, browser: Any, axe_source: str,
                                     short_path: str, width: int, height: int,
                                     projector: bool) -> None:
    w = open_page(browser, width, height)
    try:
        for name, path in {**PAGES, "shortlink": short_path}.items():
            if name == "docs":  # Swagger UI's own page, not ours to audit
                continue
            goto(w, with_projector(base_url + path, projector))
            assert axe_violations(w, axe_source) == [], (name, width, projector)
    finally:
        w.page.context.close()


def test_working_after_a_live_update_is_asked_for_when_opened(base_url: str,
                                                              browser: Any) -> None:
    w = open_page(browser, 1024, 768)
    try:
        goto(w, f"{base_url}/?example=conv1")
        w.page.focus("#spec")
        w.page.keyboard.press("Control+End")
        w.page.keyboard.type("\nconv 16 3x3 pad 1", delay=10)
        row = w.page.locator("table.layers tr.row").last
        row.filter(has_text="55x55x16").wait_for()
        assert row.locator(".working").count() == 0  # the live update left it out
        fig = row.locator("td.col-params button.fig")
        fig.focus()
        pop = w.page.locator("#working-pop")
        weights = f"{3 * 3 * 96 * 16:,}"  # the new conv's: 3x3 kernels over CONV1's 96 channels
        wait_until(w, f"document.getElementById('working-pop').textContent.includes('{weights}')")
        assert f"{3 * 3 * 96 * 16 + 16:,}" in pop.inner_text()
        box = _pop_box(w)
        assert box is not None and box["right"] <= 1024 and box["bottom"] <= 768
        assert_clean(w)
    finally:
        w.page.context.close()
