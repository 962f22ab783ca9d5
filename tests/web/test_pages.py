"""The pages: the form, the per-layer table, errors in place; all without JavaScript."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from app.engine.result import Analysis
from app.web import filters


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


def test_index_shows_the_form(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert _template_name(response) == "index.html"
    html = response.text
    assert '<form class="calc" method="get" action="/analyze">' in html
    for name in ("spec", "dtype", "batch", "optimizer", "aux"):
        assert f'name="{name}"' in html
    assert _ctx(response)["form"]["spec"].strip()  # an example to start from
    assert 'href="/static/app.css"' in html


def test_stylesheet_is_served(client: TestClient) -> None:
    response = client.get("/static/app.css")
    assert response.status_code == 200 and "font-size" in response.text


def test_analyze_page_shows_the_numbers(client: TestClient, small_spec: str) -> None:
    response = client.get("/analyze", params={"spec": small_spec, "batch": 2})
    assert response.status_code == 200, response.text
    assert _template_name(response) == "analyze.html"
    conv1 = next(row for row in _analysis(response).layers if row.name == "conv1")
    assert (conv1.output.h, conv1.output.w, conv1.output.c) == (55, 55, 96)
    assert conv1.weights == 11 * 11 * 3 * 96
    assert conv1.macs == 55 * 55 * 96 * 11 * 11 * 3
    html = response.text
    assert "55x55x96" in html
    assert f"{11 * 11 * 3 * 96:,}" in html
    assert f"{55 * 55 * 96 * 11 * 11 * 3:,}" in html
    assert "How we count" in html
    assert _ctx(response)["form"]["batch"] == "2"


def test_analyze_page_shows_formulas_and_conventions(client: TestClient,
                                                     small_spec: str) -> None:
    response = client.get("/analyze", params={"spec": small_spec})
    analysis = _analysis(response)
    html = response.text
    for row in analysis.layers:
        for text in row.formulas.values():
            assert _escaped(text) in html
    for text in analysis.conventions.values():
        assert _escaped(text) in html


def _escaped(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&#34;").replace("'", "&#39;"))


def test_claims_are_marked(client: TestClient, alexnet_slide: str) -> None:
    response = client.get("/analyze", params={"spec": alexnet_slide})
    assert response.status_code == 200, response.text
    claims = [claim for row in _analysis(response).layers for claim in row.claims]
    assert claims, "the slide's bracketed volumes are claims"
    html = response.text
    assert html.count("✓ right") == sum(c.ok for c in claims)
    assert html.count("✗ wrong") == sum(not c.ok for c in claims)


def test_page_links_its_json_twin(client: TestClient, small_spec: str) -> None:
    params = {"spec": small_spec, "dtype": "float16", "batch": "4"}
    response = client.get("/analyze", params=params)
    match = re.search(r'<link rel="alternate" type="application/json" href="([^"]+)">',
                      response.text)
    assert match is not None
    href = match.group(1).replace("&amp;", "&")
    assert urlsplit(href).path == "/api/analyze"
    assert {k: v[0] for k, v in parse_qs(urlsplit(href).query).items()} == params
    twin = client.get(href)
    assert twin.status_code == 200 and twin.json()["options"]["dtype"] == "float16"


def test_form_round_trips_through_the_url(client: TestClient, small_spec: str) -> None:
    spec = "\n" + small_spec  # a leading blank line must survive the textarea
    response = client.get("/analyze", params={"spec": spec, "dtype": "int8", "batch": 7,
                                              "optimizer": "adam", "aux": "true"})
    html = response.text
    assert "<textarea" in html and f">\n\n{small_spec}</textarea>" in html
    assert '<option value="int8" selected>' in html
    assert '<option value="adam" selected>' in html
    assert 'value="7"' in html and "checked" in html


def test_bad_spec_shows_errors_in_the_page(client: TestClient) -> None:
    spec = "input 32x32x3\nconv 8 3x3\nfrobnicate 7\n"
    response = client.get("/analyze", params={"spec": spec})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    errors = _ctx(response)["errors"]
    assert [e["line"] for e in errors] == [3]
    assert "line 3" in response.text and 'role="alert"' in response.text
    assert _ctx(response)["analysis"] is None
    assert _ctx(response)["form"]["spec"] == spec  # refilled so it can be fixed


def test_bad_options_show_errors_in_the_page(client: TestClient, small_spec: str) -> None:
    response = client.get("/analyze", params={"spec": small_spec, "batch": "5000",
                                              "dtype": "float64"})
    assert response.status_code == 422
    errors = _ctx(response)["errors"]
    assert {e.get("limit") for e in errors} >= {"max_batch"}
    assert any("dtype" in e["message"] for e in errors)
    assert "max_batch" in response.text


def test_missing_spec_shows_errors_in_the_page(client: TestClient) -> None:
    response = client.get("/analyze")
    assert response.status_code == 422
    assert any("spec" in e["message"] for e in _ctx(response)["errors"])


def test_unknown_page_is_a_404_page(client: TestClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


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
    assert filters.mebibytes(3 * 2**20) == "3.0 MiB"
    assert filters.percent(0.75) == "75%" and filters.percent(None) == ""


def test_rf_filter(client: TestClient) -> None:
    row = client.post("/api/layer", json={"layer": "conv 8 1x7", "input": "32x32x3"}).json()

    class Axis:
        def __init__(self, size: int) -> None:
            self.size = size

    class RF:
        h, w = Axis(row["rf"]["h"]["size"]), Axis(row["rf"]["w"]["size"])

    assert filters.rf_size(RF()) == "1x7"

