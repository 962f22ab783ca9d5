"""The calculator page: the form, the partials htmx swaps, errors at their line, the table."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app import engine
from app.engine.result import Analysis
from app.examples import ALEXNET_SLIDE, BOTTLENECK_INCEPTION, EXAMPLES, VGG16_NOTES
from app.present.table import Group, Line, build_table
from app.present.working import to_html
from app.web import filters

HX = {"HX-Request": "true"}
BROKEN = "input 32x32x3\nconv 8 3x3\nfrobnicate 7\n"


def _ctx(response: Any) -> dict[str, Any]:
    """The template context TestClient records for a rendered page."""
    context: dict[str, Any] = response.context
    return context


def _template_name(response: Any) -> str:
    name: str = response.template.name
    return name


def _analysis(response: Any) -> Analysis:
    analysis = _ctx(response)["analysis"]
    assert isinstance(analysis, Analysis)
    return analysis


def test_index_is_the_calculator(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert _template_name(response) == "calc.html"
    html = response.text
    assert '<form id="calc" class="calc" method="get" action="/"' in html
    for name in ("spec", "dtype", "batch", "optimizer", "aux", "flops", "allops"):
        assert f'name="{name}"' in html
    # live update: debounced, only the newest request waiting, the result morphed in place
    # (static/app.js keeps the URL in step once the answer is drawn)
    assert 'hx-trigger="input delay:25ms, submit"' in html
    assert 'hx-sync="this:queue last"' in html and 'hx-swap="morph:innerHTML' in html
    assert '<script src="/static/idiomorph-ext-0.8.0.min.js" defer></script>' in html
    assert _ctx(response)["form"]["spec"] == ALEXNET_SLIDE
    assert [r.name for r in _analysis(response).layers][:2] == ["input", "CONV1"]
    assert 'id="result-region" aria-live="polite"' in html and 'id="rf-panel"' in html
    assert response.headers["vary"] == "HX-Request"


def test_calc_and_analyze_are_the_same_page(client: TestClient, small_spec: str) -> None:
    pages = [client.get(path, params={"spec": small_spec}) for path in ("/", "/calc", "/analyze")]
    assert {_template_name(p) for p in pages} == {"calc.html"}
    assert len({p.text for p in pages}) == 1


def test_htmx_request_gets_the_result_partial(client: TestClient, small_spec: str) -> None:
    full = client.get("/", params={"spec": small_spec})
    part = client.get("/", params={"spec": small_spec}, headers=HX)
    assert part.status_code == 200 and _template_name(part) == "partials/_result.html"
    assert part.headers["vary"] == "HX-Request" and full.headers["vary"] == "HX-Request"
    assert "<html" not in part.text and "<form" not in part.text
    # the gutter comes along out of band; the table is the same markup the full page has, less
    # each cell's working (asked for when a cell is opened: GET /working)
    assert '<ol id="gutter" class="gutter" aria-hidden="true" hx-swap-oob="morph">' in part.text
    table = re.search(r'<table class="layers">.*?</table>', part.text, re.DOTALL)
    whole = re.search(r'<table class="layers">.*?</table>', full.text, re.DOTALL)
    assert table is not None and whole is not None
    without = re.sub(r'<span class="working">.*?</span></button>', "</button>", whole.group(0))
    assert 'class="working"' not in table.group(0) and table.group(0) == without


def test_history_restore_gets_the_whole_page(client: TestClient, small_spec: str) -> None:
    headers = HX | {"HX-History-Restore-Request": "true"}
    response = client.get("/", params={"spec": small_spec}, headers=headers)
    assert _template_name(response) == "calc.html"


def test_broken_spec_swaps_the_problems_only(client: TestClient) -> None:
    # 200 for htmx: a spec broken mid-typing is no failed request (a browser logs each 4xx);
    # the page without JavaScript keeps its 422
    assert client.get("/", params={"spec": BROKEN}).status_code == 422
    response = client.get("/", params={"spec": BROKEN}, headers=HX)
    assert response.status_code == 200
    assert _template_name(response) == "partials/_problems.html"
    assert response.headers["hx-retarget"] == "#problems"
    assert response.headers["hx-reswap"] == "innerHTML settle:0ms"
    assert response.headers["vary"] == "HX-Request"
    assert [e["line"] for e in _ctx(response)["errors"]] == [3]
    html = response.text
    assert '<table class="layers">' not in html  # the last good table stays in the page
    assert '<a class="where" href="#L3" data-line="3">line 3</a>' in html
    assert re.search(r'<li id="L3" class="error" title="unknown layer[^"]*">3</li>', html)
    # and the message at its line, beside the editor
    assert re.search(r'<ul id="line-problems"[^>]*hx-swap-oob="morph"><li class="error">'
                     r'<a class="where" href="#L3" data-line="3">.*line 3</a> unknown layer', html)
    assert 'role="alert"' in html and "stale-note" in html


def test_every_error_is_marked_at_its_line(client: TestClient) -> None:
    spec = "input 32x32x3\nconv 8 3x3 strid 2\nconv 8 99x99\nfc ten\n"
    response = client.get("/", params={"spec": spec})
    assert response.status_code == 422 and _template_name(response) == "calc.html"
    errors = _ctx(response)["errors"]
    lines = sorted({e["line"] for e in errors if e["line"]})
    assert lines == [2, 3, 4]  # every bad line at once
    assert "did you mean <code>stride</code>?" in response.text
    for line in lines:
        assert re.search(rf'<li id="L{line}" class="error" title="[^"]+">{line}</li>',
                         response.text)
        assert f'href="#L{line}" data-line="{line}">line {line}</a>' in response.text
    assert f"{len(errors)} problem" in response.text


def test_full_page_with_errors_refills_the_form(client: TestClient) -> None:
    response = client.get("/", params={"spec": BROKEN, "batch": "3"})
    assert response.status_code == 422
    assert _ctx(response)["analysis"] is None
    assert _ctx(response)["form"]["spec"] == BROKEN
    assert f">\n{BROKEN}</textarea>" in response.text


def test_bad_options_show_errors_in_the_page(client: TestClient, small_spec: str) -> None:
    response = client.get("/", params={"spec": small_spec, "batch": "5000",
                                       "dtype": "float64"})
    assert response.status_code == 422
    errors = _ctx(response)["errors"]
    assert {e.get("limit") for e in errors} >= {"max_batch"}
    assert any("dtype" in e["message"] for e in errors)
    assert "max_batch" in response.text
    part = client.get("/", params={"spec": small_spec, "batch": "5000"}, headers=HX)
    assert part.status_code == 200 and part.headers["hx-retarget"] == "#problems"


def test_numbers_and_their_working(client: TestClient, small_spec: str) -> None:
    response = client.get("/", params={"spec": small_spec, "batch": 2})
    assert response.status_code == 200, response.text
    conv1 = next(row for row in _analysis(response).layers if row.name == "conv1")
    assert conv1.weights == 11 * 11 * 3 * 96 and conv1.macs == 55 * 55 * 96 * 11 * 11 * 3
    html = response.text
    assert "55x55x96" in html
    assert f'<span class="x">{11 * 11 * 3 * 96:,}</span><span class="c">35K</span>' in html
    assert f"{55 * 55 * 96 * 11 * 11 * 3:,}" in html
    for working in conv1.working.values():  # each figure's working, its terms marked up
        assert to_html(working) in html
    assert '<var class="term" data-term="K_h" title="K_h: kernel height">11</var>' in html
    # each number cell: a focusable button holding its working panel, with no id (htmx
    # matches every id of a swapped fragment against the page, which was seconds for 4,000)
    cell = re.search(rf'<button type="button" class="fig" data-cell="w{conv1.index}count">'
                     r'(.*?)</button>', html)
    assert cell is not None and f"{55 * 55 * 96 * 11 * 11 * 3:,}" in cell.group(1)
    assert '<span class="working">' in cell.group(1)
    table = re.search(r'<table class="layers">.*?</table>', html, re.DOTALL)
    assert table is not None and " id=" not in table.group(0)
    assert "How we count" in html
    assert _ctx(response)["form"]["batch"] == "2"


def test_memory_in_mb_with_mib_in_the_title(client: TestClient, small_spec: str) -> None:
    response = client.get("/", params={"spec": small_spec, "dtype": "float16", "batch": 3})
    conv1 = next(row for row in _analysis(response).layers if row.name == "conv1")
    conv1_bytes = 55 * 55 * 96 * 2 * 3
    assert filters.megabytes(conv1_bytes) in response.text
    assert f'title="{filters.mebibytes(conv1_bytes)} ({conv1_bytes:,} bytes)"' in response.text
    assert conv1.activations * 2 * 3 == conv1_bytes


def _escaped(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&#34;").replace("'", "&#39;"))


def test_activations_fold_into_the_row_they_follow(client: TestClient,
                                                   small_spec: str) -> None:
    folded = client.get("/", params={"spec": small_spec})
    assert '<span class="label">conv1 + ReLU</span>' in folded.text
    every = client.get("/", params={"spec": small_spec, "allops": "true"})
    assert "conv1 + ReLU" not in every.text
    assert '<span class="label">relu1</span>' in every.text
    assert 'name="allops" value="true" checked' in every.text


def test_notes_and_warnings_in_the_output_working(client: TestClient) -> None:
    from app.zoo import model_spec

    response = client.get("/", params={"spec": model_spec("tv-resnet50"), "open": "*"})
    noted = [r for r in _analysis(response).layers if r.notes]
    assert noted  # stride-2 layers whose floor drops only padding
    for row in noted:
        for note in row.notes:
            assert f'<span class="step note">note: {_escaped(note)}</span>' in response.text
    at_224 = ALEXNET_SLIDE.replace("[227x227x3] INPUT", "[224x224x3] INPUT")
    warned = client.get("/", params={"spec": at_224})
    conv1 = next(r for r in _analysis(warned).layers if r.name == "CONV1")
    assert conv1.warnings
    assert (f'<span class="step note"><span aria-hidden="true">⚠</span> '
            f"{_escaped(conv1.warnings[0])}</span>") in warned.text


def test_flops_switch(client: TestClient, small_spec: str) -> None:
    response = client.get("/", params={"spec": small_spec, "flops": "true"})
    from app.present.columns import BY_KEY

    flops = BY_KEY["flops"]
    assert f'<abbr title="{flops.description}">{flops.title}</abbr>' in response.text
    assert BY_KEY["macs"].title not in re.findall(r"<abbr[^>]*>([^<]+)</abbr>", response.text)
    assert f"{2 * 55 * 55 * 96 * 11 * 11 * 3:,}" in response.text


def test_claims_marked_beside_their_cell(client: TestClient, alexnet_slide: str) -> None:
    response = client.get("/", params={"spec": alexnet_slide})
    assert response.status_code == 200, response.text
    claims = [claim for row in _analysis(response).layers for claim in row.claims]
    assert claims and all(c.ok for c in claims)
    right = '<span class="claim right"><span aria-hidden="true">✓</span> right</span>'
    # each verdict twice: beside the number and in the working's explanation (only wrong
    # ones are listed again above the table)
    assert response.text.count(right) == 2 * len(claims)
    wrong_spec = alexnet_slide.replace("[55x55x96] CONV1", "[55x55x95] CONV1")
    wrong = client.get("/", params={"spec": wrong_spec})
    bad = [c for row in _analysis(wrong).layers for c in row.claims if not c.ok]
    assert [c.claimed for c in bad] == ["55x55x95"]
    # beside the number, in its working, and in the list of wrong claims above the table
    assert wrong.text.count('<span class="claim wrong">') == 3
    assert _escaped(bad[0].explanation) in wrong.text
    every = [c for row in _analysis(wrong).layers for c in row.claims]
    summary = re.search(r"<strong>(\d+) figures written on the lines checked:</strong>\s*"
                        r"(\d+) right, (\d+) wrong:", wrong.text)
    assert summary is not None
    assert [int(g) for g in summary.groups()] == [len(every), len(every) - 1, 1]


def test_whole_network_claims(client: TestClient) -> None:
    response = client.get("/", params={"spec": VGG16_NOTES})
    analysis = _analysis(response)
    assert analysis.claims
    for claim in analysis.claims:
        assert _escaped(claim.explanation) in response.text


def test_blocks_are_groups_with_subtotals(client: TestClient) -> None:
    response = client.get("/", params={"spec": BOTTLENECK_INCEPTION})
    table = _ctx(response)["table"]
    (group,) = [it for it in table.items if isinstance(it, Group)]
    branch_params = [64 * 1 * 1 * 256 + 64, 64 * 1 * 1 * 256 + 64, 128 * 256 + 128,
                     192 * 3 * 3 * 64 + 192, 96 * 5 * 5 * 64 + 96, 64 * 256 + 64]
    assert table.value(group, "params") == sum(branch_params)
    assert group.kind == "concat" and group.output.c == 128 + 192 + 96 + 64
    html = response.text
    # the header row is the merge's row too (the architecture diagram's concat box leads to it)
    assert re.search(r'<tr class="group-head d0" data-in="" data-group="g1" '
                     r'data-path="inception" data-row="\d+">', html)
    assert '<button type="button" class="toggle" aria-expanded="true" data-toggle="g1">' in html
    assert html.count('data-in="g1"') == 6 + 1 + 4  # six convs, the pool, four branch headings
    assert f"{sum(branch_params):,}" in html


def test_large_networks_start_collapsed(client: TestClient) -> None:
    from app.zoo import model_spec

    spec = model_spec("googlenet")
    full = client.get("/", params={"spec": spec})
    table = _ctx(full)["table"]
    assert table.collapsed and table.group_count == 9
    members = [it for it in table.items if isinstance(it, Line) and it.groups]
    assert members and all(it.hidden for it in members)
    # the full page has every row (hidden only where JavaScript runs: `.js tr.folded`)
    assert full.text.count('class="toggle" aria-expanded="false"') == 9
    assert len(re.findall(r'<tr class="row d1 folded" data-in="g\d+"', full.text)) == len(members)
    # an htmx answer leaves the collapsed blocks' rows out, and says so on their headers
    part = client.get("/", params={"spec": spec}, headers=HX)
    assert part.text.count('data-lazy="true"') == 9
    assert 'class="row d1' not in part.text
    assert len(part.text) < len(full.text) / 3
    # a block named in `open` comes with its rows
    opened = client.get("/", params={"spec": spec, "open": "inception_4a"}, headers=HX)
    assert opened.text.count('data-lazy="true"') == 8
    assert '<span class="label">i4a_3x3_reduce + ReLU</span>' in opened.text
    assert 'aria-expanded="true" data-toggle' in opened.text
    every = client.get("/", params={"spec": spec, "open": "*"}, headers=HX)
    assert "data-lazy" not in every.text and not _ctx(every)["table"].collapsed


def test_table_rows_add_up_to_the_totals() -> None:
    from app.zoo import model_spec

    for model in ("alexnet", "googlenet", "resnet50", "densenet121", "fractalnet"):
        analysis = engine.analyze(model_spec(model))
        for fold in (True, False):
            table = build_table(analysis, fold=fold)
            top = [it for it in table.items
                   if isinstance(it, (Line, Group)) and not it.groups]
            for key in ("params", "macs", "activations"):
                assert sum(table.value(it, key) for it in top) == getattr(analysis.totals, key)


def test_rf_control_on_every_row(client: TestClient, small_spec: str) -> None:
    response = client.get("/", params={"spec": small_spec, "allops": "true"})
    analysis = _analysis(response)
    for row in analysis.layers:
        assert (f'<button type="submit" class="rf-pick" form="calc" formaction="/rf" '
                f'name="row" value="{row.index}" hx-get="/rf"') in response.text


def test_examples_load_from_the_url(client: TestClient) -> None:
    page = client.get("/")
    for example_id, (title, spec) in EXAMPLES.items():
        assert f'<a href="/?example={example_id}">{_escaped(title)}</a>' in page.text
        response = client.get("/", params={"example": example_id})
        assert response.status_code == 200, (example_id, response.text[:500])
        assert _ctx(response)["form"]["spec"] == spec


def test_three_3x3_convs_see_what_one_7x7_sees(client: TestClient) -> None:
    response = client.get("/", params={"example": "3x3-vs-7x7"})
    convs = [r for r in _analysis(response).layers if r.op == "conv"]
    assert [r.rf.size for r in convs] == [3, 5, 7, 7]
    assert sum(r.weights for r in convs[:3]) == 3 * (3 * 3 * 64 * 64)
    assert convs[3].weights == 7 * 7 * 64 * 64


def test_page_links_its_json_twin(client: TestClient, small_spec: str) -> None:
    params = {"spec": small_spec, "dtype": "float16", "batch": "4"}
    response = client.get("/", params=params)
    match = re.search(r'<link rel="alternate" type="application/json" href="([^"]+)">',
                      response.text)
    assert match is not None
    href = match.group(1).replace("&amp;", "&")
    assert urlsplit(href).path == "/api/analyze"
    query = {k: v[0] for k, v in parse_qs(urlsplit(href).query).items()}
    assert query == params | {"optimizer": "sgd", "aux": "false"}
    twin = client.get(href)
    assert twin.status_code == 200 and twin.json()["options"]["dtype"] == "float16"


def test_form_round_trips_through_the_url(client: TestClient, small_spec: str) -> None:
    spec = "\n" + small_spec  # a leading blank line must survive the textarea
    response = client.get("/", params={"spec": spec, "dtype": "int8", "batch": 7,
                                       "optimizer": "adam", "aux": "true", "flops": "true"})
    html = response.text
    assert f">\n\n{small_spec}</textarea>" in html
    assert '<option value="int8" selected>' in html
    assert '<option value="adam" selected>' in html
    assert 'value="7"' in html
    assert 'name="aux" value="true" checked' in html
    assert 'name="flops" value="true" checked' in html
    assert 'name="allops" value="true">' in html


HOSTILE = ["<script>alert(1)</script>", "{{7*7}}", '"><img src=x onerror=alert(1)>']


def test_hostile_layer_names_are_escaped(app: FastAPI) -> None:
    from starlette.requests import Request

    from app.web.templating import calc_context

    layers: list[dict[str, Any]] = [{"op": "conv", "name": HOSTILE[0], "out": 8, "kernel": 3},
                                    {"op": "relu", "name": HOSTILE[1]},
                                    {"op": "fc", "name": HOSTILE[2], "out": 10}]
    analysis = engine.analyze({"input": {"h": 8, "w": 8, "c": 3}, "layers": layers})
    scope = {"type": "http", "app": app, "path": "/", "query_string": b"allops=true",
             "headers": [], "method": "GET"}
    context = calc_context(Request(scope), analysis, [])
    html = app.state.templates.env.get_template("calc.html").render(context | {"hx": False})
    assert HOSTILE[0] not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html and "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    # a template expression in a name is shown as written, never evaluated
    assert '<span class="label">{{7*7}}</span>' in html and ">49<" not in html


def test_hostile_text_in_the_spec_is_escaped(client: TestClient) -> None:
    for hostile in HOSTILE:
        spec = f"input 8x8x3\n{hostile}\n"
        for headers in ({}, HX):
            response = client.get("/", params={"spec": spec}, headers=headers)
            assert response.status_code == (200 if headers else 422)
            assert "<script>" not in response.text and "<img" not in response.text
            assert ">49<" not in response.text
    claim = client.get("/", params={"spec": "input 8x8x3\nconv 8 3x3 params: <b>1</b>\n"})
    assert claim.status_code == 200
    assert "<b>1</b>" not in claim.text and "&lt;b&gt;1&lt;/b&gt;" in claim.text


def test_no_inline_script_or_style_in_any_page(client: TestClient) -> None:
    from app.zoo import model_spec

    pages = [client.get("/"), client.get("/", params={"spec": BROKEN}),
             client.get("/", params={"spec": model_spec("googlenet")}),
             client.get("/", params={"example": "vgg16"}, headers=HX),
             client.get("/no-such-page"), client.get("/docs")]
    for page in pages:
        html = page.text
        assert not re.search(r"\sstyle\s*=", html, re.IGNORECASE), page.url
        assert "<style" not in html.lower()
        for tag in re.findall(r"<script\b[^>]*>", html, re.IGNORECASE):
            assert re.search(r'\ssrc="/static/[^"]+"', tag), tag
        assert not re.search(r"\son[a-z]+\s*=", html, re.IGNORECASE), page.url
        assert "http://" not in html and "https://" not in html, page.url


def test_unknown_page_is_a_404_page(client: TestClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert _template_name(response) == "error.html"
    assert "No such page" in response.text and "/no-such-page" in response.text
    api = client.get("/api/no-such-thing")
    assert api.status_code == 404 and api.headers["content-type"] == "application/json"
    assert set(api.json()) == {"errors"}


def test_security_headers_on_every_response(client: TestClient, small_spec: str) -> None:
    responses = [client.get("/"), client.get("/", headers=HX),
                 client.get("/", params={"spec": BROKEN}, headers=HX),
                 client.get("/no-such-page"), client.get("/api/no-such-thing"),
                 client.get("/api/analyze", params={"spec": small_spec}),
                 client.post("/api/analyze", content=b"not json"),
                 client.get("/static/app.css"), client.get("/openapi.json"), client.get("/docs")]
    for response in responses:
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-eval" not in csp
        if response.url.path != "/docs":
            assert "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"


def test_security_headers_on_a_500() -> None:
    from app.web.app import create_app

    app = create_app()

    @app.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/boom")
    assert response.status_code == 500
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_docs_are_served_from_our_own_copy(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert 'data-openapi-url="/openapi.json"' in response.text
    for asset in ("/static/swagger/swagger-ui-bundle.js", "/static/swagger/swagger-ui.css",
                  "/static/swagger-init.js"):
        assert asset in response.text
        assert client.get(asset).status_code == 200, asset


def test_htmx_is_vendored_and_configured(client: TestClient) -> None:
    from app.web.templating import HTMX_VERSION

    page = client.get("/").text
    assert f'<script src="/static/htmx-{HTMX_VERSION}.min.js" defer></script>' in page
    script = client.get(f"/static/htmx-{HTMX_VERSION}.min.js")
    assert script.status_code == 200 and f'version:"{HTMX_VERSION}"' in script.text
    config = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", page)
    assert config is not None
    import json

    settings = json.loads(config.group(1))
    assert {"code": "422", "swap": True} in settings["responseHandling"]
    assert settings["includeIndicatorStyles"] is False  # no inline <style> under the CSP
    assert settings["allowEval"] is False


def test_filters() -> None:
    assert filters.thousands(34848) == "34,848"
    assert filters.thousands(2.5) == "2.50" and filters.thousands(3.0) == "3"
    assert filters.thousands(None) == "—"
    # as the lecture writes them: 35K for AlexNet conv1's 34,944 params, 3.2M, 105M
    assert filters.compact(105_415_200) == "105M" and filters.compact(34_944) == "35K"
    assert filters.compact(3_211_264) == "3.2M" and filters.compact(1_000_000) == "1M"
    assert filters.compact(96) == "96"
    assert filters.volume({"h": 55, "w": 55, "c": 96}) == "55x55x96"
    assert filters.megabytes(61_200_000) == "61.2 MB"
    assert filters.mebibytes(3 * 2**20) == "3.00 MiB"
    assert filters.percent(0.75) == "75%" and filters.percent(None) == ""


def test_rf_filter(client: TestClient) -> None:
    row = client.post("/api/layer", json={"layer": "conv 8 1x7", "input": "32x32x3"}).json()

    class Axis:
        def __init__(self, size: int) -> None:
            self.size = size

    class RF:
        h, w = Axis(row["rf"]["h"]["size"]), Axis(row["rf"]["w"]["size"])

    assert filters.rf_size(RF()) == "1x7"


def test_a_split_block_is_a_group_named_split() -> None:
    spec = ("input 28x28x116\nunit: split { branch { } branch { conv 58 1x1; relu } }\n"
            "channelshuffle 2")
    table = build_table(engine.analyze(spec))
    (group,) = [it for it in table.items if isinstance(it, Group)]
    assert group.kind == "split" and group.head is not None
    assert group.head.main.output.c == 58 + 58


def test_a_cells_working_on_demand_is_the_one_the_page_inlines(client: TestClient) -> None:
    """A live update leaves each cell's working out; GET /working gives a cell's, the same
    markup as a whole page inlines (the same table: folding, blocks opened, columns)."""
    from app.examples import BOTTLENECK_INCEPTION

    query = {"spec": BOTTLENECK_INCEPTION, "flops": "true"}
    page = client.get("/", params=query).text
    live = client.get("/", params=query, headers=HX).text
    assert 'class="working"' in page and 'class="working"' not in live
    cells = re.findall(r'data-cell="([wg][0-9]+[a-z]+)"', page)
    assert len(cells) > 40
    for cell in cells[::7]:
        inline = re.search(rf'data-cell="{cell}"[^>]*>.*?<span class="working">(.*?)</span></button>',
                           page).group(1)
        answer = client.get("/working", params=query | {"cell": cell}, headers=HX)
        assert answer.status_code == 200 and answer.text == inline, cell
    bad = client.get("/working", params=query | {"cell": "../etc"})
    assert bad.status_code == 422 and "cell" in bad.text
    assert client.get("/working", params=query | {"cell": "w999params"}).status_code == 404
