"""The "Run for real" fragments: progress polled every second with a cancel button, then the
result beside the analysis; mismatches marked in words; no inline script or style."""

from __future__ import annotations

import re
import time

from app.engine import analyze
from app.web.settings import Settings
from app.web.templating import make_templates
from app.worker import report
from app.worker.models import DeviceInfo, LayerCheck, RunResult, RunStatus, Timing
from tests.worker.conftest import WebServer, tiny_spec

HX = {"HX-Request": "true"}


def _no_inline_code(html: str) -> None:
    assert "<script" not in html and " style=" not in html, html


def test_the_button_starts_a_run_that_polls_then_shows_the_comparison(web: WebServer) -> None:
    with web.client() as client:
        started = client.post("/runs", data={"spec": tiny_spec(36), "page_spec": "input 9x9x3",
                                             "batch_sizes": "1, 2",
                                             "mode": "inference"}, headers=HX)
        assert started.status_code == 202, started.text
        html = started.text
        run_id = re.search(r'id="run-([0-9a-f]{32})"', html)
        assert run_id is not None, html
        assert 'hx-trigger="every 1s"' in html and f'hx-get="/runs/{run_id[1]}"' in html
        assert f'hx-post="/runs/{run_id[1]}/cancel"' in html and "Cancel</button>" in html
        assert "<progress" in html
        _no_inline_code(html)
        deadline = time.monotonic() + 45
        while "every 1s" in html and time.monotonic() < deadline:
            time.sleep(0.3)
            polled = client.get(f"/runs/{run_id[1]}", headers=HX)
            assert polled.headers["Vary"] == "HX-Request"
            html = polled.text
        page = client.get(f"/runs/{run_id[1]}")  # no htmx: the whole page
    assert "every 1s" not in html and "Measured on" in html
    rows = len(analyze(tiny_spec(36)).layers)
    assert f"All {rows} layers match the calculator" in html
    assert html.count(">match<") == rows + 2  # every layer, and the two totals
    assert "batch 2" in html and "<svg" in html
    _no_inline_code(html)
    assert page.status_code == 200 and "<!doctype html>" in page.text.lower()
    assert 'http-equiv="refresh"' not in page.text  # finished: the page stops refreshing


def test_without_htmx_the_form_redirects_to_a_page_that_refreshes(web: WebServer) -> None:
    with web.client() as client:
        answer = client.post("/runs", data={"page_spec": tiny_spec(37), "batch_sizes": "1"})
        assert answer.status_code == 303
        page = client.get(answer.headers["location"])
    assert page.status_code == 200
    if "Measured on" not in page.text:  # still running: it refreshes itself
        assert '<meta http-equiv="refresh" content="1">' in page.text


def test_bad_form_input_is_shown_in_place(web: WebServer) -> None:
    with web.client() as client:
        answer = client.post("/runs", data={"spec": tiny_spec(38), "batch_sizes": "1, eight"},
                             headers=HX)
        missing = client.get("/runs/0123", headers=HX)
    assert answer.status_code == 422
    assert "batch sizes: whole numbers separated by commas" in answer.text
    # htmx swaps only 2xx and 422: the fragment explaining a 404 comes as 200, the code beside
    assert missing.status_code == 200 and missing.headers["X-Archcalc-Status"] == "404"
    assert "no run has the id" in missing.text


def _result(measured_shape: tuple[int, int, int]) -> RunResult:
    layer = LayerCheck(name="conv1", op="conv", analytic_shape=(55, 55, 96),
                       measured_shape=measured_shape, analytic_params=34944,
                       measured_params=34944, analytic_flops=2 * 105415200,
                       measured_flops=2 * 105415200)
    timing = Timing(batch=1, mode="inference", warmup=1, repeats=3, median_ms=2.0, p90_ms=3.0,
                    images_per_s=500.0, peak_bytes=None, analytic_bytes=10**6)
    return RunResult(label="spec", device=DeviceInfo(kind="cpu", name="test", torch_version="x",
                                                     threads=1),
                     worker="w", dtype="float32", mode="inference", optimizer="sgd",
                     layers=[layer], analytic_params=34944, measured_params=34944,
                     analytic_flops=2 * 105415200, measured_flops=2 * 105415200,
                     timings=[timing], timing_method="t", memory_method="m", seconds=1.0)


def test_a_mismatch_is_marked_in_words_not_only_colour() -> None:
    templates = make_templates(Settings())
    fragment = templates.env.get_template("partials/_run_status.html")

    def render(result: RunResult) -> str:
        return fragment.render(run=RunStatus(id="a" * 32, status="done", result=result),
                               errors=[], view=report, finished=True)

    differs = render(_result((54, 54, 96)))
    assert "<mark>differs: shape</mark>" in differs
    assert "1 of 1 layers differ" in differs and 'class="mismatch"' in differs
    assert "not measured" in differs  # no peak memory: said, not left blank
    same = render(_result((55, 55, 96)))
    assert "differs" not in same and "All 1 layers match" in same


def test_the_chart_scales_bars_to_the_fastest_batch() -> None:
    timings = [Timing(batch=b, mode="inference", warmup=0, repeats=1, median_ms=m, p90_ms=m,
                      images_per_s=b / (m / 1e3), peak_bytes=None, analytic_bytes=1)
               for b, m in ((1, 10.0), (8, 40.0))]
    short, tall = report.bars(timings)
    assert tall.height == report.CHART_H - report.AXIS
    assert short.height == tall.height * (1 / 0.010) / (8 / 0.040)
    assert short.y + short.height == tall.y + tall.height  # one baseline
