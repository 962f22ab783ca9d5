"""The lecture hall in a real Chromium against a live server: gallery, model pages, compare,
lecture, and the modes an instructor runs a class in."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from app import zoo
from tests.browser.conftest import (
    REPO_ROOT,
    SCREENSHOTS,
    Watched,
    assert_clean,
    goto,
    open_page,
    wait_until,
)
from tests.liveserver import free_port, stop, wait_until_ready

#: Chromium logs an error status it was given: the 404 page's, or a 422 shown in place
NETWORK_STATUS = re.compile(r"^Failed to load resource: the server responded with a status of "
                            r"(404|422) ")


def test_the_gallery_reaches_every_model(base_url: str, watched: Watched) -> None:
    goto(watched, base_url + "/")
    links = watched.page.locator(".gallery a.card-link")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert sorted(hrefs) == sorted(f"/models/{m}" for m in zoo.model_ids())
    # follow one as a person would, from the home page
    watched.page.locator('.gallery a.card-link[href="/models/resnet50"]').click()
    watched.page.wait_for_url(re.compile(r"/models/resnet50$"))
    assert "ResNet-50" in watched.page.locator("h1").inner_text()
    # and every model page opens without a console error
    for href in hrefs:
        goto(watched, base_url + str(href))
        assert watched.page.locator("table.layers").count() == 1, href
        assert_clean(watched)


def test_changing_the_input_updates_the_table_and_the_url(base_url: str,
                                                         watched: Watched) -> None:
    page = watched.page
    goto(watched, base_url + "/models/resnet18")
    page.evaluate("window.__marker = 1")  # survives only if the page is not reloaded
    first = page.locator("h2.result-title").inner_text()
    assert "224x224x3" in first
    field = page.locator('input[name="input"]')
    field.fill("64x64x3")
    wait_until(watched, "document.querySelector('h2.result-title').textContent.includes('64x64x3')")
    assert page.evaluate("window.__marker") == 1
    query = parse_qs(urlsplit(page.url).query)
    assert query["input"] == ["64x64x3"] and query["dtype"] == ["float32"]
    conv1 = page.locator("table.layers tr.row", has_text="conv1").first.inner_text()
    assert "32x32x64" in conv1  # (64 + 2*3 - 7)/2 + 1 = 32
    page.select_option('#model-form select[name="dtype"]', "float16")
    wait_until(watched, "location.search.includes('dtype=float16')")
    wait_until(watched, "document.querySelector('.options-used').textContent.includes('float16')")
    # the URL is the page: opening it again shows the same thing
    goto(watched, page.url)
    assert "64x64x3" in page.locator("h2.result-title").inner_text()
    assert page.locator('#model-form select[name="dtype"]').input_value() == "float16"
    assert_clean(watched)


def test_a_compare_preset_shows_both_totals(base_url: str, watched: Watched) -> None:
    page = watched.page
    goto(watched, base_url + "/compare")
    page.locator("nav.presets a", has_text="Naive vs bottleneck").click()
    page.wait_for_url(re.compile(r"preset=inception"))
    macs = page.locator('#compare-totals tr[data-total="macs"] td .value')
    assert macs.count() == 2
    naive = 28 * 28 * 128 * 256 + 28 * 28 * 192 * 3 * 3 * 256 + 28 * 28 * 96 * 5 * 5 * 256
    assert macs.nth(0).inner_text() == f"{naive:,}"
    assert macs.nth(1).inner_text() != macs.nth(0).inner_text()
    assert_clean(watched)


def test_lecture_links_open_their_calculation(base_url: str, watched: Watched) -> None:
    page = watched.page
    goto(watched, base_url + "/lecture")
    rows = page.locator("table.lecture tbody tr")
    assert rows.count() == 19
    page.locator("#claim-9 a.calc-link").click()
    page.wait_for_url(re.compile(r"/models/vgg16"))
    assert page.locator("#planner").is_visible()
    assert_clean(watched)


PAGES = ["/models", "/models/vgg16", "/models/googlenet?aux=true", "/models/tv-resnet50",
         "/lecture", "/compare", "/compare?preset=inception", "/compare?preset=ilsvrc",
         "/compare?preset=3x3-vs-7x7", "/compare?preset=wide-resnext",
         "/models/alexnet?input=2x2x3", "/models/nope"]


def test_no_console_errors_or_csp_violations(base_url: str, watched: Watched) -> None:
    for path in PAGES:
        goto(watched, base_url + path)
        assert_clean(watched, NETWORK_STATUS)


def _axe(w: Watched, axe_source: str) -> list[Any]:
    w.page.evaluate(axe_source)  # through the debugger, so the page's CSP allows it
    result = w.page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in result["violations"] if v["impact"] in {"serious", "critical"}]


def test_accessibility_audit(base_url: str, browser: Any, axe_source: str) -> None:
    checks = [(1280, 900, "/models"), (1280, 900, "/models/vgg16"), (1280, 900, "/lecture"),
              (1280, 900, "/compare?preset=inception"), (390, 844, "/models/resnet50")]
    for width, height, path in checks:
        w = open_page(browser, width, height)
        try:
            goto(w, base_url + path)
            assert _axe(w, axe_source) == [], (path, width)
        finally:
            w.page.context.close()


SHOTS = [("models", "/models"), ("model-vgg16", "/models/vgg16"),
         ("model-resnet50", "/models/resnet50#what-differs"), ("lecture", "/lecture"),
         ("compare", "/compare?preset=inception"), ("home-gallery", "/#gallery-title"),
         ("projector-models", "/models?projector=1"),
         ("reveal-alexnet", "/models/alexnet?reveal=output,params&step=5&projector=1")]


def test_screenshots(base_url: str, browser: Any) -> None:
    """Each page at 1920x1080, 1024x768 and 390x844, saved under docs/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1920, 1080), (1024, 768), (390, 844)):
        w = open_page(browser, width, height)
        try:
            for name, path in SHOTS:
                goto(w, base_url + path)
                if "#" in path:
                    w.page.locator(path.split("#")[1].join(["#", ""])).scroll_into_view_if_needed()
                target = SCREENSHOTS / f"{name}-{width}x{height}.png"
                w.page.screenshot(path=str(target))
                assert target.stat().st_size > 10_000
        finally:
            w.page.context.close()


def _veiled(w: Watched) -> list[str]:
    cells: list[str] = w.page.evaluate(
        "Array.from(document.querySelectorAll('table.layers td.veiled[data-cell]'))"
        ".map(td => td.getAttribute('data-cell'))")
    return cells


def test_reveal_mode_hides_then_reveals_in_order_with_the_keyboard(base_url: str,
                                                                  watched: Watched) -> None:
    page = watched.page
    goto(watched, base_url + "/models/alexnet?reveal=output,params")
    hidden = _veiled(watched)
    # every output and params cell after the input starts hidden, in reading order
    order: list[str] = page.evaluate(
        "Array.from(document.querySelectorAll('table.layers td.num'))"
        ".map(td => td.getAttribute('data-cell') || (td.querySelector('button.fig') || {}).dataset?.cell)"
        ".filter(c => /^w[1-9][0-9]*(output|params)$/.test(c))")
    assert hidden == order and len(order) > 10
    # hidden means off the page: no figure in a hidden cell, no totals until the end
    assert page.locator("td.veiled button.fig").count() == 0
    assert page.locator("dl.totals").count() == 0
    page.locator("body").focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert _veiled(watched) == order[3:]
    assert "step=3" in page.url and "reveal=output" in page.url
    page.keyboard.press("ArrowLeft")
    assert _veiled(watched) == order[2:]
    # a click on the next hidden cell reveals it; the URL keeps how far it got
    page.locator("td.veiled").first.click()
    assert _veiled(watched) == order[3:] and "step=3" in page.url
    goto(watched, page.url)  # a reload resumes there
    assert _veiled(watched) == order[3:]
    page.locator('#reveal-panel [data-reveal="all"]').click()
    assert _veiled(watched) == [] and page.locator("dl.totals").count() == 1
    assert_clean(watched)


def test_projector_mode_toggles_by_key_and_survives_a_reload(base_url: str,
                                                            watched: Watched) -> None:
    page = watched.page
    goto(watched, base_url + "/models/vgg16")
    size = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.locator("body").focus()
    page.keyboard.press("p")
    assert page.evaluate("document.documentElement.classList.contains('projector')")
    assert "projector=1" in page.url
    bigger = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    # the type grows with the screen (20 px at 1024 wide to 26 px at 1920, so that a 1024 px
    # projector still holds the editor and the result side by side): this page is 1280 wide
    assert bigger > size * 1.15
    page.reload()
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.classList.contains('projector')")
    assert page.locator("[data-projector-toggle]").get_attribute("aria-pressed") == "true"
    # the controls keep it in the URL they push
    page.select_option('#model-form select[name="dtype"]', "int8")
    wait_until(watched, "location.search.includes('dtype=int8')")
    assert "projector=1" in page.url
    # typing P into a field types it; the button turns the mode off
    page.locator('input[name="budget"]').press("p")
    assert page.evaluate("document.documentElement.classList.contains('projector')")
    page.locator("[data-projector-toggle]").click()
    assert not page.evaluate("document.documentElement.classList.contains('projector')")
    assert "projector=1" not in page.url
    assert_clean(watched, NETWORK_STATUS)


def test_accessibility_audit_in_projector_mode(base_url: str, browser: Any,
                                               axe_source: str) -> None:
    for path in ("/models?projector=1", "/models/vgg16?projector=1", "/lecture?projector=1",
                 "/?projector=1", "/compare?preset=inception&projector=1"):
        w = open_page(browser, 1280, 900)
        try:
            goto(w, base_url + path)
            assert w.page.evaluate("document.documentElement.classList.contains('projector')")
            assert _axe(w, axe_source) == [], path
            # WCAG AAA contrast (7:1, 4.5:1 for large text): axe's enhanced rule, off by default
            aaa = w.page.evaluate("axe.run(document, {runOnly: {type: 'rule', values: "
                                  "['color-contrast-enhanced']}})")
            assert [(v["id"], [n["target"] for n in v["nodes"]][:5])
                    for v in aaa["violations"]] == [], path
        finally:
            w.page.context.close()


def test_the_inception_diagram_has_four_branches_side_by_side(base_url: str,
                                                             watched: Watched) -> None:
    page = watched.page
    goto(watched, base_url + "/compare?preset=inception")  # the presets' models need no page
    goto(watched, base_url + "/models/googlenet")
    frame = page.locator('svg.arch-svg g.frame[data-kind="branches"]').first
    assert "inception_3a" in frame.inner_html()
    boxes = page.evaluate("""(() => {
      const frame = document.querySelector('svg.arch-svg g.frame[data-kind="branches"] rect');
      const f = frame.getBoundingClientRect();
      const inside = Array.from(document.querySelectorAll('svg.arch-svg a.box-link rect.box'))
        .map(r => r.getBoundingClientRect())
        .filter(r => r.left >= f.left && r.right <= f.right
                     && r.top >= f.top && r.bottom <= f.bottom);
      const top = Math.min(...inside.map(r => r.top));
      return inside.filter(r => Math.abs(r.top - top) < 1).map(r => [r.left, r.right]);
    })()""")
    assert len(boxes) == 4  # one row of four boxes: the branches' first layers
    lefts = [b[0] for b in boxes]
    assert lefts == sorted(lefts)
    assert all(boxes[i][1] <= boxes[i + 1][0] for i in range(3))  # side by side, no overlap
    assert_clean(watched)


def test_resnet50_diagram_shows_its_stage_counts(base_url: str, watched: Watched) -> None:
    page = watched.page
    goto(watched, base_url + "/models/resnet50")
    times = page.locator("svg.arch-svg text.times").all_text_contents()
    assert times == ["x3", "x4", "x6", "x3"]
    # a box shows its row in the table: the block around it opens, the row is outlined
    page.locator('svg.arch-svg a[data-arch-row]').nth(5).click()
    target = page.locator("table.layers tr.arch-target")
    assert target.count() == 1 and target.is_visible()
    # and a row shows its box in the diagram
    page.locator('table.layers tr.row[data-row="1"] a.to-arch').click()
    assert page.locator('svg.arch-svg a.arch-hit[data-arch-row="1"]').count() == 1
    # a block of the table opens in place (the model page's table comes whole)
    head = page.locator('table.layers tr.group-head[data-path="res4a"]')
    inside = page.locator(f'table.layers tr.row[data-in="{head.get_attribute("data-group")}"]')
    assert inside.count() >= 3 and not inside.first.is_visible()
    head.locator("button.toggle").click()
    assert inside.first.is_visible()
    # the shade switch redraws the diagram by multiply-adds
    page.select_option('select[name="shade"]', "macs")
    wait_until(watched, "document.querySelector('figure.arch-macs') !== null")
    assert "shade=macs" in page.url
    assert_clean(watched)


def _server(db: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A uvicorn of its own whose short links live in ``db``."""
    port = free_port()
    env = os.environ | {"ARCHCALC_DATA_DIR": str(db)}
    with log.open("ab") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port",
             str(port), "--log-level", "warning"], cwd=REPO_ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    wait_until_ready(f"{base}/openapi.json", proc, log)
    return proc, base


def test_a_short_link_round_trips_exactly_and_survives_a_restart(
        browser: Any, tmp_path: Path) -> None:
    db, log = tmp_path / "data", tmp_path / "uvicorn.txt"
    spec = ("input 64x64x3\n# a comment, kept\nconv1: conv 32 3x3 pad 1; relu\n\n"
            "  maxpool 2x2 stride 2   \nfc 10\n")
    proc, base = _server(db, log)
    w = open_page(browser, 1280, 900)
    try:
        goto(w, f"{base}/?{urlencode({'spec': spec, 'dtype': 'bfloat16'})}")
        w.page.locator('button[formaction="/s"]').click()
        link = w.page.locator("#short-link a")
        link.wait_for()
        href = str(link.get_attribute("href"))
        assert re.fullmatch(r"/s/[a-z2-7]{13}", href)
        assert_clean(w)
    finally:
        w.page.context.close()
        stop(proc)
    proc, base = _server(db, log)  # a restarted server, the same database file
    w = open_page(browser, 1280, 900)
    try:
        goto(w, base + href)
        assert w.page.locator("#spec").input_value() == spec
        assert w.page.locator('#calc select[name="dtype"]').input_value() == "bfloat16"
        assert w.page.locator(".short-link-banner").is_visible()
        assert_clean(w)
    finally:
        w.page.context.close()
        stop(proc)


def test_print_puts_the_table_totals_and_charts_on_paper(base_url: str,
                                                        watched: Watched) -> None:
    page = watched.page
    goto(watched, base_url + "/models/resnet50?reveal=params")
    page.emulate_media(media="print")
    assert page.locator("#model-form").is_hidden() and page.locator("header.site nav").is_hidden()
    assert page.locator("#reveal-panel").is_hidden()
    rows = page.locator("table.layers tr.row")
    hidden = page.evaluate("Array.from(document.querySelectorAll('table.layers tr.row'))"
                           ".filter(tr => tr.offsetParent === null).length")
    assert rows.count() > 50 and hidden == 0  # every row, collapsed blocks included
    assert page.locator("td.veiled button.fig").first.is_visible()  # nothing veiled on paper
    assert page.locator("dl.totals").is_visible()
    # each chart once on paper: its wide layout (the phone's is for narrow screens)
    assert page.locator("svg.chart-svg:visible").count() == 3
    assert page.locator("svg.chart-wide:visible").count() == 3
    pdf = page.pdf(format="A4")
    assert pdf[:4] == b"%PDF" and len(pdf) > 50_000
    page.emulate_media(media="screen")
    assert_clean(watched)


def test_a_model_rows_receptive_field_diagram(base_url: str, watched: Watched) -> None:
    page = watched.page
    goto(watched, base_url + "/models/vgg16?input=64x64x3")
    row = page.locator('table.layers tr.row[data-row="3"]')  # conv1_2: two 3x3 convs
    row.locator("button.rf-pick").click()
    panel = page.locator("#rf-panel")
    wait_until(watched, "document.querySelector('#rf-panel svg') !== null")
    assert "conv1_2" in panel.inner_text()
    assert_clean(watched)
