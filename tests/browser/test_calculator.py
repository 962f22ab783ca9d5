"""The calculator as a person uses it, in a real Chromium against a live server."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pytest

from app.examples import ALEXNET_SLIDE, EXAMPLES
from tests.browser.conftest import (
    SCREENSHOTS,
    Watched,
    assert_clean,
    goto,
    open_page,
    wait_until,
)

#: what Chromium itself logs for an answer with an error status: the 422 that carries a broken
#: spec's problems (htmx swaps it in, as designed) and the 404 page's own status
NETWORK_STATUS = re.compile(r"^Failed to load resource: the server responded with a status of "
                            r"(404|422) ")


def _type_at_end(w: Watched, text: str) -> None:
    w.page.focus("#spec")
    w.page.keyboard.press("Control+End")
    w.page.keyboard.type(text, delay=15)


def test_typing_updates_the_table_without_a_page_load(base_url: str, watched: Watched) -> None:
    page = watched.page
    goto(watched, f"{base_url}/?example=conv1")
    page.evaluate("window.__sameDocument = 42")
    assert page.locator("table.layers tbody tr.row").count() == 2
    _type_at_end(watched, "maxpool 3x3 stride 2")
    # a pause while typing may show a row for part of the line first ("maxpool 3x3"): the
    # row of the whole line is the one to wait for
    row = page.locator("table.layers tbody tr.row", has_text="pool1").filter(has_text="27x27x96")
    row.wait_for()
    assert page.evaluate("window.__sameDocument") == 42  # swapped in place, no navigation
    wait_until(watched, "location.search.includes('maxpool')")  # the URL follows: it reproduces the page
    assert page.locator("#gutter li").count() == 3  # the lines of the editor, numbered
    # the options update the result too: float16 halves the memory column
    conv1 = page.locator("table.layers tbody tr.row", has_text="CONV1")
    assert f"{55 * 55 * 96 * 4 / 10**6:.3g} MB" in conv1.inner_text()  # 4 bytes a value
    page.select_option("#calc select[name=dtype]", "float16")
    half = f"{55 * 55 * 96 * 2 / 10**6:.3g} MB"
    page.locator("table.layers tbody tr.row", has_text="CONV1").filter(has_text=half).wait_for()
    wait_until(watched, "location.search.includes('dtype=float16')")
    assert_clean(watched)


def test_a_broken_line_is_marked_and_the_table_goes_stale(base_url: str,
                                                           watched: Watched) -> None:
    page = watched.page
    goto(watched, f"{base_url}/?example=conv1")
    _type_at_end(watched, "frobnicate 7")
    mark = page.locator("#gutter li.error")
    mark.wait_for()
    assert mark.inner_text().strip().endswith("3")
    assert "unknown layer" in (mark.get_attribute("title") or "")
    problems = page.locator("#problems .errors")
    assert "line 3" in problems.inner_text()
    # the last good table stays, marked stale
    assert page.locator("table.layers", has_text="CONV1").is_visible()
    assert page.locator(".stale-note").is_visible()
    assert page.eval_on_selector("#analysis", "e => getComputedStyle(e).outlineStyle") == "dashed"
    # the list links to the line: following it selects line 3 in the editor
    page.locator("#problems a.where", has_text="line 3").click()
    selected = page.evaluate("(() => { const t = document.getElementById('spec');"
                             " return [document.activeElement === t,"
                             " t.value.slice(t.selectionStart, t.selectionEnd)]; })()")
    assert selected == [True, "frobnicate 7"]
    # fixing the line clears the marks and brings the table back up to date
    page.keyboard.press("Backspace")
    page.locator("#problems .errors").wait_for(state="detached")
    assert page.locator("#gutter li.error").count() == 0
    assert not page.locator(".stale-note").is_visible()
    assert_clean(watched)  # htmx got the problems with 200: typing a broken line logs nothing


def test_typing_a_broken_spec_logs_no_console_error(base_url: str, watched: Watched) -> None:
    """Each keystroke of a line being written is a spec that does not parse yet: the live
    update answers 200 with the problems, so Chromium logs no failed request; the page
    without JavaScript and the API still answer 422."""
    page = watched.page
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if "spec=" in r.url else None)
    goto(watched, f"{base_url}/?example=conv1")
    statuses.clear()
    _type_at_end(watched, "conv 8 3x3 strid")  # broken at almost every keystroke
    page.locator("#problems .errors", has_text="strid").wait_for()
    _type_at_end(watched, "e 2")  # and whole again
    page.locator("#problems .errors").wait_for(state="detached")
    page.locator("table.layers tbody tr.row", has_text="line 3").wait_for()
    assert statuses and set(statuses) == {200}, statuses
    assert_clean(watched)
    broken = urlencode({"spec": "input 32x32x3\nconv 8 3x3 strid"})
    assert page.request.get(f"{base_url}/?{broken}").status == 422
    assert page.request.get(f"{base_url}/?{broken}", headers={"HX-Request": "true"}).status == 200
    assert page.request.get(f"{base_url}/api/analyze?{broken}").status == 422


def test_a_wrong_claim_is_marked_wrong(base_url: str, watched: Watched) -> None:
    page = watched.page
    spec = ALEXNET_SLIDE.replace("[55x55x96] CONV1", "[55x55x95] CONV1")
    goto(watched, f"{base_url}/?{urlencode({'spec': spec})}")
    wrong = page.locator("table.layers td > .claim.wrong")
    assert wrong.count() == 1
    assert wrong.inner_text() == "✗ wrong"
    row = page.locator("tr.row", has=page.locator("td > .claim.wrong"))
    assert "CONV1" in row.inner_text()
    right = page.locator("table.layers td > .claim.right")
    # every other bracketed volume is right (the first gives the input: not a claim)
    assert right.count() == spec.count("[") - 2
    assert_clean(watched)


def test_a_cells_working_opens_from_the_keyboard(base_url: str, watched: Watched) -> None:
    page = watched.page
    goto(watched, f"{base_url}/?example=conv1")
    page.focus("#spec")
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.cell") == "w1params":
            break
    else:
        pytest.fail("Tab never reached CONV1's params")
    # the working opens in the one panel placed inside the viewport, described by it
    panel = page.locator("#working-pop")
    assert panel.is_visible()
    assert page.evaluate("document.activeElement.getAttribute('aria-describedby')") == "working-pop"
    # the working is fetched when first asked for: wait for it to arrive
    wait_until(watched, "document.querySelector('#working-pop').innerText.includes('34,944')")
    text = panel.inner_text()
    assert "11*11*3*96" in text.replace(" * ", "*") and "34,944" in text
    terms = panel.locator("var.term")
    assert terms.count() >= 2 and terms.first.get_attribute("data-term")
    page.keyboard.press("Tab")  # the next figure's working replaces it
    assert page.evaluate("document.activeElement.dataset.cell") == "w1count"
    wait_until(watched, "document.querySelector('#working-pop').innerText.includes('105,415,200')")
    assert "34,944" not in panel.inner_text()
    page.keyboard.press("Escape")
    assert not panel.is_visible()
    assert_clean(watched)


def test_the_table_fits_1024x768_and_scrolls_inside_on_a_phone(base_url: str,
                                                                browser: Any) -> None:
    for width, height in ((1024, 768), (390, 844)):
        w = open_page(browser, width, height)
        try:
            for url in (f"{base_url}/", f"{base_url}/?example=inception",
                        f"{base_url}/?{urlencode({'spec': _zoo('googlenet')})}"):
                goto(w, url)
                page_scroll = w.page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth")
                assert page_scroll <= 0, (width, url)
                table_scroll = w.page.eval_on_selector(
                    ".table-wrap", "e => e.scrollWidth - e.clientWidth")
                if width == 1024:
                    assert table_scroll <= 0, url  # the default columns fit
            if width == 390:
                assert table_scroll > 0  # the table scrolls in its own box
            assert_clean(w)
        finally:
            w.page.context.close()


def _zoo(model: str) -> str:
    from app.zoo import model_spec

    return model_spec(model)


def test_blocks_collapse_and_expand(base_url: str, watched: Watched) -> None:
    page = watched.page
    goto(watched, f"{base_url}/?{urlencode({'spec': _zoo('googlenet')})}")
    head = page.locator("tr.group-head", has_text="inception_3a").first
    toggle = head.locator("button.toggle")
    assert toggle.get_attribute("aria-expanded") == "false"
    # the page's script dropped the collapsed blocks' rows (the no-script page has them)
    assert page.locator("tr.row", has_text="i3a_3x3_reduce").count() == 0
    assert head.get_attribute("data-lazy") == "true"
    # opening one from the keyboard asks for it, with the block open, and shows its rows
    toggle.focus()
    page.keyboard.press("Enter")
    member = page.locator("tr.row", has_text="i3a_3x3_reduce")
    member.wait_for()
    assert member.is_visible()
    wait_until(watched, "location.search.includes('open=inception_3a')")
    head = page.locator("tr.group-head", has_text="inception_3a").first
    assert head.locator("button.toggle").get_attribute("aria-expanded") == "true"
    # closing it hides its rows at once, without asking
    head.locator("button.toggle").click()
    assert not member.is_visible()
    head.locator("button.toggle").click()
    assert member.is_visible()
    # the choice survives a live update (whose answer leaves out the rows of closed blocks)
    _type_at_end(watched, "\n")
    page.wait_for_timeout(400)
    page.locator("tr.group-head[data-lazy]").first.wait_for()
    assert page.locator("tr.row", has_text="i3a_3x3_reduce").is_visible()
    assert not page.locator("tr.row", has_text="i3b_3x3_reduce").count()
    # a second block: both travel in `open`
    page.locator("tr.group-head", has_text="inception_3b").first.locator("button.toggle").click()
    page.locator("tr.row", has_text="i3b_3x3_reduce").wait_for()
    wait_until(watched, "location.search.includes('open=inception_3a')"
                   " && location.search.includes('open=inception_3b')")
    assert_clean(watched)


PAGES = ["/", "/calc", "/?example=vgg16", "/?example=resnet-bottleneck",
         "/?spec=input+8x8x3%0Afrobnicate", "/no-such-page"]


def test_no_console_errors_or_csp_violations(base_url: str, watched: Watched) -> None:
    for path in PAGES + [f"/?example={e}" for e in EXAMPLES]:
        goto(watched, base_url + path)
        assert_clean(watched, NETWORK_STATUS)
    watched.page.goto(f"{base_url}/docs")
    watched.page.locator(".swagger-ui .info .title").wait_for()
    assert "archcalc" in watched.page.locator(".swagger-ui .info .title").inner_text()
    watched.page.locator(".opblock-summary-path", has_text="/api/analyze").first.wait_for()
    assert_clean(watched)


def test_accessibility_audit(base_url: str, browser: Any, axe_source: str) -> None:
    checks = [(1280, 900, "/"), (1280, 900, "/?example=inception"),
              (1280, 900, "/?spec=input+8x8x3%0Afrobnicate"), (390, 844, "/"),
              (1280, 900, "/no-such-page")]
    for width, height, path in checks:
        w = open_page(browser, width, height)
        try:
            w.page.goto(base_url + path)
            w.page.evaluate(axe_source)  # through the debugger, so the page's CSP allows it
            result = w.page.evaluate("axe.run(document, {resultTypes: ['violations']})")
            bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
                   for v in result["violations"] if v["impact"] in {"serious", "critical"}]
            assert bad == [], (path, width, bad)
        finally:
            w.page.context.close()


def test_screenshots(base_url: str, browser: Any) -> None:
    """The pages as people see them, saved for the README (docs/screenshots/)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = [(1920, 1080, "/", "calc-1920x1080.png", None),
             (1024, 768, "/", "calc-1024x768.png", "table.layers"),
             (390, 844, "/?example=inception", "calc-390x844.png", None),
             (390, 844, "/?example=inception", "table-390x844.png", "table.layers"),
             (1920, 1080, "/?example=3x3-vs-7x7", "working-1920x1080.png", "#w5rf"),
             (1024, 768, "/?" + urlencode({"spec": ALEXNET_SLIDE.replace("pad 0", "pad 0 x")}),
              "errors-1024x768.png", None)]
    for width, height, path, name, focus in shots:
        w = open_page(browser, width, height)
        try:
            goto(w, base_url + path)
            if focus == "table.layers":
                w.page.locator(focus).scroll_into_view_if_needed()
            elif focus:
                w.page.locator(f"[data-cell='{focus[1:]}']").focus()
            w.page.screenshot(path=str(SCREENSHOTS / name))
            assert (SCREENSHOTS / name).stat().st_size > 10_000
        finally:
            w.page.context.close()
    # a line broken while typing: marked in the gutter, listed, the last table kept, stale
    w = open_page(browser, 1920, 1080)
    try:
        goto(w, f"{base_url}/?example=conv1")
        _type_at_end(w, "conv 8 99x99")
        w.page.locator("#line-problems li.error", has_text="99").wait_for()
        w.page.screenshot(path=str(SCREENSHOTS / "stale-1920x1080.png"))
    finally:
        w.page.context.close()
