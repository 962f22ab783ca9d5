"""Keystroke to updated table in a real browser, and the server's time for the fragment.

Starts uvicorn on a free port and Debian's Chromium (``/usr/bin/chromium``) through Playwright,
opens the calculator with ResNet-152's spec (``app.zoo.model_spec('resnet152')``), and makes
30 edits in the editor: each is one keystroke on the last layer's line (``fc 1000`` becomes
``fc 10000`` and back), so every edit changes the table. For each it records, in the page:

* keystroke -> table: from the ``keydown`` to htmx's ``afterSettle`` of the swapped result;
  this includes the form's 300 ms debounce (``hx-trigger="input delay:300ms"``);
* request -> table: from htmx sending the request to the settled swap (the same minus the
  debounce: the server, the network, parsing and layout of the new table);
* server: the ``total`` of the response's ``Server-Timing`` header (engine + HTML).

Then it asks for the AlexNet slide listing's fragment (``HX-Request: true``) 200 times and
prints the server's time for it. Run from the repository root::

    python benchmarks/bench_browser.py [--edits 30]
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
document.addEventListener('keydown', function () {
  window.__edits.push({key: performance.now()});
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


def _server_ms(header: str | None) -> float:
    """The ``total`` duration of a Server-Timing header, in ms."""
    for part in (header or "").split(","):
        name, _, rest = part.strip().partition(";dur=")
        if name == "total":
            return float(rest)
    raise ValueError(f"no total in Server-Timing: {header!r}")


def _start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--host",
                             "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            cwd=ROOT, stdout=subprocess.DEVNULL)
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
        page.eval_on_selector("#spec", f"t => {{ t.focus(); t.setSelectionRange({end}, {end}); }}")
        for i in range(edits):
            page.keyboard.press("0" if i % 2 == 0 else "Backspace")
            _wait(page, f"window.__edits.length === {i + 1} && "
                        f"window.__edits[{i}].done !== undefined")
            expected = "10000" if i % 2 == 0 else "1000"
            last = page.locator("table.layers tr.row").last.inner_text()
            assert expected.replace("0000", "0,000") in last or f"1x1x{expected}" in last, last
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
        server.append(_server_ms(header))
    return server, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edits", type=int, default=30)
    args = parser.parse_args()
    proc, base = _start_server()
    try:
        _fragment_times(base, ALEXNET_SLIDE, 20)  # warm up
        edits = _browser_edits(base, args.edits)
        alex_server, alex_wall = _fragment_times(base, ALEXNET_SLIDE, 200)
        r152_server, _ = _fragment_times(base, model_spec("resnet152"), 30)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    key_to_table = [e["done"] - e["key"] for e in edits]
    request_to_table = [e["done"] - e["sent"] for e in edits]
    server = [_server_ms(e["timing"]) for e in edits]
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"ResNet-152 in the editor, {len(edits)} edits (ms)   median     p95")
    print(f"  keystroke -> updated table         {statistics.median(key_to_table):8.1f} "
          f"{_p95(key_to_table):7.1f}   (includes the 300 ms debounce)")
    print(f"  request -> updated table           {statistics.median(request_to_table):8.1f} "
          f"{_p95(request_to_table):7.1f}   (the same without the debounce)")
    print(f"  server time of the fragment        {statistics.median(server):8.1f} "
          f"{_p95(server):7.1f}")
    print(f"  request -> table, each edit: {' '.join(f'{x:.0f}' for x in request_to_table)}")
    print(f"  server time, direct requests       {statistics.median(r152_server):8.1f} "
          f"{_p95(r152_server):7.1f}")
    print("AlexNet slide listing fragment, 200 requests (ms)")
    print(f"  server time (engine + HTML)        {statistics.median(alex_server):8.2f} "
          f"{_p95(alex_server):7.2f}   (target < 5 ms)")
    print(f"  request wall time over loopback    {statistics.median(alex_wall):8.2f} "
          f"{_p95(alex_wall):7.2f}")


if __name__ == "__main__":
    main()
