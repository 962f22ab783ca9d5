"""The receptive-field page (/rf): full page and htmx partial, the picker, errors, escaping."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.testclient import TestClient

from app.present.rfdiagram import RFDiagram

THREE_3X3 = "input 32x32x3\nconv 8 3x3\nconv 8 3x3\nconv 8 3x3"
HOSTILE = "<script>alert(1)</script>"
HX = {"HX-Request": "true"}


def _diagram(response: Any) -> RFDiagram:
    diagram = response.context["diagram"]
    assert isinstance(diagram, RFDiagram)
    return diagram


def _no_inline_style_or_script(html: str) -> None:
    """What the page's CSP (default-src 'self') forbids: style attributes, inline scripts."""
    assert not re.search(r"\sstyle\s*=", html)
    assert "<style" not in html
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag, tag
    assert not re.search(r"\son[a-z]+\s*=", html)


def test_page_draws_the_chosen_row(client: TestClient) -> None:
    response = client.get("/rf", params={"spec": THREE_3X3, "row": 3})
    assert response.status_code == 200, response.text
    assert response.template.name == "rf.html"  # type: ignore[attr-defined]
    assert response.headers["vary"] == "HX-Request"
    d = _diagram(response)
    assert d.row.index == 3 and d.field.h.size == 1 + 3 * (3 - 1)
    html = response.text
    assert html.startswith("<!doctype html>")
    assert html.count('role="img"') >= 2
    assert "<title id=" in html and "<desc id=" in html and "7 x 7" in html
    assert 'href="/static/rf.css"' in html
    assert '<link rel="alternate" type="application/json" href="/api/analyze?' in html
    _no_inline_style_or_script(html)


def test_picker_lists_every_row_and_works_without_js(client: TestClient) -> None:
    response = client.get("/rf", params={"spec": THREE_3X3, "row": 2, "unit": "first"})
    html = response.text
    form = re.search(r'<form class="rf-picker" id="rf-form" method="get" action="/rf">', html)
    assert form is not None
    select = html[html.index('<select id="rf-row" name="row"'):]
    select = select[:select.index("</select>")]
    assert select.count("<option") == len(response.context["analysis"].layers) == 4
    assert re.search(r'<option value="2" selected>', select)
    assert '<label for="rf-row">' in html and '<label for="rf-unit">' in html
    assert 'id="rf-unit" name="unit" value="first" list="rf-units"' in html
    assert all(f'<option value="{u}">' in html for u in ("first", "centre", "last"))
    assert _diagram(response).field.unit == (0, 0)


def test_htmx_request_gets_the_partial_only(client: TestClient) -> None:
    full = client.get("/rf", params={"spec": THREE_3X3, "row": 1})
    part = client.get("/rf", params={"spec": THREE_3X3, "row": 1}, headers=HX)
    assert part.status_code == 200
    assert part.template.name == "partials/_rf.html"  # type: ignore[attr-defined]
    assert part.headers["vary"] == "HX-Request"
    html = part.text.strip()
    assert "<html" not in html and "<form" not in html
    assert re.search(r'<section id="rf-diagram"', html)
    # the partial is exactly what the full page includes
    start = full.text.index('<section id="rf-diagram"')
    assert full.text[start:].startswith(html[html.index('<section id="rf-diagram"'):][:2000])


def test_without_a_spec_the_lecture_example_is_drawn(client: TestClient) -> None:
    response = client.get("/rf")
    assert response.status_code == 200
    d = _diagram(response)
    assert d.field.h.size == 1 + 3 * (3 - 1)  # three 3x3 convs


def test_bad_spec_is_422_in_the_page(client: TestClient) -> None:
    response = client.get("/rf", params={"spec": "input 4x4x1\nconv 8 5x5"})
    assert response.status_code == 422
    assert response.template.name == "rf.html"  # type: ignore[attr-defined]
    errors = response.context["errors"]
    assert errors and errors[0]["line"] == 2 and "larger than the padded input" in errors[0]["message"]
    assert 'role="alert"' in response.text
    assert "input 4x4x1" in response.text  # the spec stays in the form, to be fixed
    part = client.get("/rf", params={"spec": "input 4x4x1\nconv 8 5x5"}, headers=HX)
    assert part.status_code == 422 and 'role="alert"' in part.text and "<html" not in part.text


def test_bad_row_is_422_naming_the_row(client: TestClient) -> None:
    for row in ("9", "-1", "abc", "²"):
        response = client.get("/rf", params={"spec": THREE_3X3, "row": row})
        assert response.status_code == 422, row
        error = response.context["errors"][0]
        assert error["parameter"] == "row" and "from 0 (the input) to 3" in error["message"]
    part = client.get("/rf", params={"spec": THREE_3X3, "row": "9"}, headers=HX)
    assert part.status_code == 422 and "from 0 (the input) to 3" in part.text


def test_bad_unit_is_422_naming_the_unit(client: TestClient) -> None:
    # THREE_3X3's last row is 26 x 26
    for unit, says in (("middle", "not first, centre, last"), ("26,0", "outside"),
                       ("1,2,3", "not first"), ("-1", "not first"), ("x" * 41, "")):
        response = client.get("/rf", params={"spec": THREE_3X3, "unit": unit})
        assert response.status_code == 422, unit
        if says:
            error = response.context["errors"][0]
            assert error["parameter"] == "unit" and says in error["message"], unit


def test_a_unit_by_index_is_drawn(client: TestClient) -> None:
    response = client.get("/rf", params={"spec": THREE_3X3, "unit": "2,25"})
    assert response.status_code == 200
    assert response.context["diagram"].field.unit == (2, 25)
    assert "Drawn: unit (2, 25)" in response.text


def test_api_keeps_its_error_shape(client: TestClient, error_items: Any) -> None:
    response = client.get("/api/analyze", params={"spec": "input 4x4x1\nconv 8 5x5"})
    assert response.status_code == 422
    assert error_items(response.json())[0]["line"] == 2


def test_hostile_layer_name_is_escaped_in_svg_and_picker(client: TestClient) -> None:
    spec = json.dumps({"input": {"h": 16, "w": 16, "c": 3},
                       "layers": [{"op": "conv", "name": HOSTILE, "out": 8, "kernel": 3},
                                  {"op": "conv", "name": '"><img src=x>', "out": 8,
                                   "kernel": 3}]})
    for row in (1, 2):
        response = client.get("/rf", params={"spec": spec, "row": row})
        assert response.status_code == 200, response.text
        html = response.text
        assert HOSTILE not in html and "<img" not in html
        escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
        svg = html[html.index("<svg class=\"rf-svg rf-pyramid"):html.index("</svg>",
                   html.index("<svg class=\"rf-svg rf-pyramid"))]
        assert escaped in svg  # in the level labels and the <title>/<desc>
        select = html[html.index('<select id="rf-row"'):]
        assert escaped in select[:select.index("</select>")]
        _no_inline_style_or_script(html)
    part = client.get("/rf", params={"spec": spec, "row": 1}, headers=HX)
    assert HOSTILE not in part.text and "&lt;script&gt;" in part.text


def test_json_spec_errors_name_the_spec(client: TestClient) -> None:
    response = client.get("/rf", params={"spec": "{not json"})
    assert response.status_code == 422
    assert "not valid JSON" in response.context["errors"][0]["message"]
    deep = client.get("/rf", params={"spec": '{"a": ' + "[" * 5000 + "]" * 5000 + "}"})
    assert deep.status_code == 422


def test_merge_row_shows_the_branches_and_the_warning(client: TestClient) -> None:
    spec = "input 8x8x3\nconcat { branch { conv 4 5x5 } branch { conv 4 2x2 stride 2 } }"
    response = client.get("/rf", params={"spec": spec, "row": 3})
    assert response.status_code == 200
    html = response.text
    assert 'class="rf-branch"' in html and "not aligned" in html
    assert "dashed: each merged input" in html


def test_deep_network_page_is_drawn_shortened(client: TestClient) -> None:
    spec = client.get("/api/models/resnet152/spec").text
    response = client.get("/rf", params={"spec": spec})
    assert response.status_code == 200
    assert "layers …" in response.text
    assert len(response.text) < 400_000


def test_page_links_the_table_of_the_same_spec(client: TestClient) -> None:
    html = client.get("/rf", params={"spec": THREE_3X3, "row": 2}).text
    href = re.search(r'class="rf-table-link" href="([^"]+)"', html)
    assert href is not None
    table = client.get(href.group(1).replace("&amp;", "&"))
    assert table.status_code == 200
    assert table.context["analysis"].layers[3].rf.size == 1 + 3 * (3 - 1)


def test_row_notes_are_shown(client: TestClient) -> None:
    response = client.get("/rf", params={"spec": "input 8x8x3\nconv 4 3x3 stride 2 pad 1",
                                         "row": 1})
    notes = response.context["diagram"].row.notes
    assert notes  # (8 - 3 + 2*1)/2 + 1 = 4.5: only padding goes unread
    assert all(n in response.text for n in notes)


def test_a_unit_after_a_transposed_conv_is_drawn_as_its_own(client: TestClient) -> None:
    # outputs 2m and 2m+1 of the 2x2 stride-2 transposed conv both read conv1's unit m, whose
    # field (3 pixels at jump 2) is centred at 2m: unit 5 at 4, not at -0.5 + 5 = 4.5
    spec = "input 16x16x1\nconv1: conv 1 3x3 stride 2 pad 1\nup: convtranspose 1 2x2 stride 2"
    response = client.get("/rf", params={"spec": spec, "unit": "5,5"})
    assert response.status_code == 200
    f = response.context["diagram"].field
    assert (f.h.size, f.h.centre) == (3, 4.0)
    assert "centred at 4.5" in f.position_note and "centred at 4" in response.text
