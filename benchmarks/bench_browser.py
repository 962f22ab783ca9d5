"""Keystroke to updated table in a real browser, and the server's time for the fragment.

Starts uvicorn on a free port and Debian's Chromium (``/usr/bin/chromium``) through Playwright,
opens the calculator with ResNet-152's spec (``app.zoo.model_spec('resnet152')``), and makes
30 edits in the editor: each replaces the last layer's class count (``fc 1000`` becomes
``fc 1001``, ``fc 1002`` ...) in one input event, so every edit changes the table and no two
edits ask the same question (a repeat would be the answer cache's, not the server's work).
For each it records, in the page:

* keystroke -> table: from the editor's ``input`` event to htmx's ``afterSettle`` of the
  swapped result; this includes the form's debounce (``hx-trigger="input delay:..."``);
* request -> table: from htmx sending the request to the settled swap (the same minus the
  debounce: the server, the network, parsing and layout of the new table);
* server: the ``total`` of the response's ``Server-Timing`` header (engine + HTML).

Then it asks for the AlexNet slide listing's fragment (``HX-Request: true``) 200 times and
prints the server's time for it. It runs twice: with the answer cache on (the default, as
users have it: a repeated question is a hit, whose ``Server-Timing`` says ``cache``) and off
(``ARCHCALC_ANSWER_CACHE_ENTRIES=0``). Run from the repository root::

    python benchmarks/bench_browser.py [--edits 30] [--cache on|off|both]
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
document.addEventListener('input', function (evt) {
  if (evt.target.id === 'spec') window.__edits.push({key: performance.now()});
}, true);
document.addEventListener('htmx:beforeRequest', function () {
  var e = window.__edits[window.__edits.length - 1]; if (e && !e.sent) e.sent = performance.now();
});
document.addEventListener('htmx:afterRequest', function (evt) {
  var e = window.__edits[window.__edits.length - 1];
  if (e) e.timing = evt.detail.xhr.getResponseHeader('Server-Timing');
});
document.addEventListener('htmx:afterSettle', function () {
  var e = window.__edits[window.__edits.length - 1]; if (e && !e.done) e.done = performance.now();
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
                        f"window.__edits[{i}].done !== undefined")
            last = page.locator("table.layers tr.row").last.inner_text()
            assert f"1x1x{1001 + i}" in last, last
        results: list[dict[str, Any]] = page.evaluate("window.__edits")
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


def _run(cache: bool, edits_wanted: int) -> None:
    proc, base = _start_server(cache)
    try:
        _fragment_times(base, ALEXNET_SLIDE, 20)  # warm up
        edits = _browser_edits(base, edits_wanted)
        alex_server, alex_wall = _fragment_times(base, ALEXNET_SLIDE, 200)
        r152_server, _ = _fragment_times(base, model_spec("resnet152"), 30)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    key_to_table = [e["done"] - e["key"] for e in edits]
    request_to_table = [e["done"] - e["sent"] for e in edits]
    timed = [_server_ms(e["timing"]) for e in edits]
    server = [ms for ms, _ in timed]
    hits = sum(hit for _, hit in timed)
    print(f"answer cache {'on' if cache else 'off'}; load average: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"ResNet-152 in the editor, {len(edits)} edits (ms)   median     p95")
    print(f"  keystroke -> updated table         {statistics.median(key_to_table):8.1f} "
          f"{_p95(key_to_table):7.1f}   (includes the debounce; target p95 < 150 ms)")
    print(f"  request -> updated table           {statistics.median(request_to_table):8.1f} "
          f"{_p95(request_to_table):7.1f}   (the same without the debounce)")
    print(f"  server time of the fragment        {statistics.median(server):8.1f} "
          f"{_p95(server):7.1f}   ({hits} of {len(edits)} answered by the cache)")
    print(f"  request -> table, each edit: {' '.join(f'{x:.0f}' for x in request_to_table)}")
    print(f"  server time, direct requests       {statistics.median(r152_server):8.1f} "
          f"{_p95(r152_server):7.1f}   (repeats: with the cache on, hits)")
    print("AlexNet slide listing fragment, 200 requests (ms)")
    print(f"  server time                        {statistics.median(alex_server):8.2f} "
          f"{_p95(alex_server):7.2f}   (target < 5 ms; with the cache on, hits)")
    print(f"  request wall time over loopback    {statistics.median(alex_wall):8.2f} "
          f"{_p95(alex_wall):7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edits", type=int, default=30)
    parser.add_argument("--cache", choices=("on", "off", "both"), default="both")
    args = parser.parse_args()
    for cache in ((True, False) if args.cache == "both" else (args.cache == "on",)):
        _run(cache, args.edits)


if __name__ == "__main__":
    main()
