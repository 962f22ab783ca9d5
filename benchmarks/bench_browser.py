"""Keystroke to updated table in a real browser, and the server's time for the fragment.

Starts uvicorn on a free port and Debian's Chromium (``/usr/bin/chromium``) through Playwright,
opens the calculator with ResNet-152's spec (``app.zoo.model_spec('resnet152')``), and makes
30 edits in the editor: each replaces the last layer's class count (``fc 1000`` becomes
``fc 1001``, ``fc 1002`` ...) in one input event, so every edit changes the table and no two
edits ask the same question (a repeat would be the answer cache's, not the server's work).
For each it records, in the page (``performance.now()`` and the Resource Timing entry of the
request):

* keystroke -> table on screen: from the editor's ``input`` event to the first frame after
  htmx settled the swapped result (a ``requestAnimationFrame`` callback, then a task after the
  frame's paint); this includes the form's debounce (``hx-trigger="input delay:..."``);
* keystroke -> table swapped: the same to htmx's ``afterSettle`` (the DOM updated, not drawn);
* the phases: the debounce, the request (the server's answer, network included), the swap
  (parsing the fragment and morphing the page, ``beforeSwap`` -> ``afterSwap``), the page's
  settle handlers, and the frame (style, layout, paint);
* server: the ``total`` of the response's ``Server-Timing`` header (engine + HTML), and the
  bytes of the fragment; at the end, the CPU time of the engine and of the HTML for the same
  edits' fragments, measured in this process (``time.process_time``), which a busy machine
  disturbs far less than wall-clock times.

Then it asks for the AlexNet slide listing's fragment (``HX-Request: true``) 200 times and
prints the server's time for it. It runs with the answer cache on (the default, as users have
it: a repeated question is a hit, whose ``Server-Timing`` says ``cache``) and off
(``ARCHCALC_ANSWER_CACHE_ENTRIES=0``), ``--rounds`` times each, alternating, so that both see
the same machine. The rate limit is lifted: every request comes from one address. Run from the
repository root, on a machine as idle as you can find (it prints the load average)::

    python benchmarks/bench_browser.py [--edits 30] [--cache on|off|both] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.examples import ALEXNET_SLIDE  # noqa: E402 - after the path insert
from app.zoo import model_spec  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update"]
LAST_LINE = "fc 1000"

#: listeners that time every edit inside the page
TIMERS = """
window.__edits = [];
function last() { return window.__edits[window.__edits.length - 1]; }
document.addEventListener('input', function (evt) {
  if (evt.target.id === 'spec') window.__edits.push({key: performance.now()});
}, true);
document.addEventListener('htmx:beforeRequest', function () {
  var e = last(); if (e && !e.sent) e.sent = performance.now();
});
document.addEventListener('htmx:beforeSwap', function (evt) {
  var e = last();
  if (e && !e.arrived) { e.arrived = performance.now(); e.bytes = evt.detail.xhr.responseText.length; }
}, true);
document.addEventListener('htmx:afterSwap', function () {
  var e = last(); if (e && !e.swapped) e.swapped = performance.now();
}, true);
document.addEventListener('htmx:afterSettle', function () {
  var e = last(); if (e && !e.settling) e.settling = performance.now();
}, true);
document.addEventListener('htmx:afterRequest', function (evt) {
  var e = last();
  if (!e) return;
  e.timing = evt.detail.xhr.getResponseHeader('Server-Timing');
  var xhrs = performance.getEntriesByType('resource').filter(function (r) {
    return r.initiatorType === 'xmlhttprequest';
  });
  var r = xhrs[xhrs.length - 1];
  if (r) { e.requested = r.requestStart; e.answered = r.responseEnd; }
});
document.addEventListener('htmx:afterSettle', function () {
  var e = last();
  if (!e || e.done) return;
  e.done = performance.now();
  requestAnimationFrame(function () {
    setTimeout(function () { e.painted = performance.now(); }, 0);
  });
});
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server_ms(header: str | None) -> tuple[float, bool]:
    """The server's time from a Server-Timing header, in ms, and whether the answer cache
    answered (``cache;desc=hit;dur=...``) rather than the engine (``total;dur=...``)."""
    for part in (header or "").split(","):
        fields = part.strip().split(";")
        durations = [f[4:] for f in fields[1:] if f.startswith("dur=")]
        if fields[0] in {"total", "cache"} and durations:
            return float(durations[0]), fields[0] == "cache"
    raise ValueError(f"no total or cache timing in Server-Timing: {header!r}")


def _start_server(cache: bool) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    # no rate limit: the benchmark's requests come from one address, faster than a person's
    env = os.environ | {"ARCHCALC_RATE_PER_SECOND": "100000", "ARCHCALC_RATE_BURST": "100000"}
    env |= {} if cache else {"ARCHCALC_ANSWER_CACHE_ENTRIES": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "app.web.serve", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/openapi.json", timeout=2):
                return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("uvicorn did not start")


def _wait(page: Any, expression: str, seconds: float = 20) -> None:
    """Poll an expression in the page until it is true (``wait_for_function`` compiles its
    predicate with eval, which the page's CSP refuses)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(expression)
        time.sleep(0.005)


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def _browser_edits(base: str, edits: int) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    spec = model_spec("resnet152")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(f"{base}/?{urllib.parse.urlencode({'spec': spec})}")
        _wait(page, "window.htmx !== undefined")
        page.evaluate(TIMERS)
        end = spec.index(LAST_LINE) + len(LAST_LINE)
        start = end - 4  # the class count's four digits
        for i in range(edits):
            page.eval_on_selector("#spec", f"t => {{ t.focus(); t.setSelectionRange({start}, {end}); }}")
            page.keyboard.insert_text(str(1001 + i))  # one keystroke's input event
            _wait(page, f"window.__edits.length === {i + 1} && "
                        f"window.__edits[{i}].painted !== undefined")
            last = page.locator("table.layers tr.row").last.inner_text()
            assert f"1x1x{1001 + i}" in last, last
        results: list[dict[str, Any]] = page.evaluate("window.__edits")
        elements = page.evaluate("document.getElementsByTagName('*').length")
        for edit in results:
            edit["elements"] = elements
        browser.close()
    return results


def _fragment_times(base: str, spec: str, count: int) -> tuple[list[float], list[float]]:
    url = f"{base}/?{urllib.parse.urlencode({'spec': spec})}"
    server, wall = [], []
    for _ in range(count):
        request = urllib.request.Request(url, headers={"HX-Request": "true"})
        start = time.perf_counter()
        with urllib.request.urlopen(request) as response:
            response.read()
            header = response.headers.get("Server-Timing")
        wall.append((time.perf_counter() - start) * 1000)
        server.append(_server_ms(header)[0])
    return server, wall


def _server_cpu(count: int = 30) -> tuple[list[float], list[float]]:
    """The CPU time (ms) of the engine and of the HTML for each edit's fragment, in this
    process: what the server's share of a keystroke costs, whatever else the machine runs."""
    from starlette.requests import Request

    from app import engine
    from app.web.app import create_app
    from app.web.routers.pages import _query
    from app.web.settings import Settings
    from app.web.templating import render_calc

    app = create_app(Settings(answer_cache_entries=0))
    spec = model_spec("resnet152")
    analysed, rendered = [], []
    for i in range(count + 5):  # the first five warm up
        text = spec.replace(LAST_LINE, f"fc {1001 + i}")
        scope = {"type": "http", "method": "GET", "path": "/", "app": app, "headers": [
            (b"hx-request", b"true")], "query_string": urllib.parse.urlencode(
                {"spec": text}).encode()}
        request = Request(scope)
        start = time.process_time()
        query = _query(request)
        analysis = engine.analyze(query.spec, query.options())
        middle = time.process_time()
        render_calc(request, analysis, [])
        end = time.process_time()
        if i >= 5:
            analysed.append((middle - start) * 1000)
            rendered.append((end - middle) * 1000)
    return analysed, rendered


def _line(label: str, values: list[float], note: str = "", digits: int = 1) -> str:
    return (f"  {label:<36} {statistics.median(values):8.{digits}f} {_p95(values):7.{digits}f}"
            f"   {note}").rstrip()


def _run(cache: bool, edits_wanted: int) -> None:
    load_before = os.getloadavg()
    proc, base = _start_server(cache)
    try:
        _fragment_times(base, ALEXNET_SLIDE, 20)  # warm up
        edits = _browser_edits(base, edits_wanted)
        alex_server, alex_wall = _fragment_times(base, ALEXNET_SLIDE, 200)
        r152_server, _ = _fragment_times(base, model_spec("resnet152"), 30)
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    def between(start: str, end: str) -> list[float]:
        return [e[end] - e[start] for e in edits]

    timed = [_server_ms(e["timing"]) for e in edits]
    hits = sum(hit for _, hit in timed)
    print(f"answer cache {'on' if cache else 'off'}; load average before "
          f"{' '.join(f'{x:.2f}' for x in load_before)}, after "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    print(f"ResNet-152 in the editor, {len(edits)} edits (ms)   median     p95")
    print(_line("keystroke -> table on screen", between("key", "painted"),
                "(includes the debounce; target p95 < 150 ms)"))
    print(_line("keystroke -> table swapped", between("key", "done"), "(htmx afterSettle)"))
    print(_line("  debounce", between("key", "sent")))
    print(_line("  request (server + network)", between("requested", "answered")))
    print(_line("  swap (parse + morph)", between("arrived", "swapped")))
    print(_line("  settle (the page's handlers)", between("swapped", "done")))
    print(_line("  frame (style, layout, paint)", between("done", "painted")))
    print(_line("server time of the fragment", [ms for ms, _ in timed],
                f"({hits} of {len(edits)} answered by the cache)"))
    print(f"  fragment {edits[0]['bytes']:,} characters; the page holds "
          f"{edits[-1]['elements']:,} elements after the edits")
    print(f"  keystroke -> screen, each edit: "
          f"{' '.join(f'{x:.0f}' for x in between('key', 'painted'))}")
    print(_line("server time, direct requests", r152_server,
                "(repeats: with the cache on, hits)"))
    print("AlexNet slide listing fragment, 200 requests (ms)")
    print(_line("server time", alex_server, "(target < 5 ms; with the cache on, hits)", 2))
    print(_line("request wall time over loopback", alex_wall, "", 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edits", type=int, default=30)
    parser.add_argument("--cache", choices=("on", "off", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each, alternating")
    args = parser.parse_args()
    for _ in range(args.rounds):
        for cache in ((True, False) if args.cache == "both" else (args.cache == "on",)):
            _run(cache, args.edits)
    analysed, rendered = _server_cpu()
    print("ResNet-152 fragment, server CPU time in process (ms)  median     p95")
    print(_line("spec -> analysis (engine)", analysed))
    print(_line("analysis -> HTML (table, cells)", rendered))


if __name__ == "__main__":
    main()
