"""The lecture hall's pages: gallery, model pages, lecture, compare (context and HTML)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from app import engine, zoo
from app.engine.result import Analysis
from app.lecture import lecture_claims

HX = {"HX-Request": "true"}


def _ctx(response: Any) -> dict[str, Any]:
    context: dict[str, Any] = response.context
    return context


def _template(response: Any) -> str:
    name: str = response.template.name
    return name


def _no_inline_code(html: str) -> None:
    """The CSP forbids inline scripts and style attributes; the pages must not need them."""
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"\son[a-z]+=", html)


# -- gallery --------------------------------------------------------------------------------
def test_models_page_links_every_model(client: TestClient) -> None:
    response = client.get("/models")
    assert response.status_code == 200 and _template(response) == "models.html"
    html = response.text
    for model_id in zoo.model_ids():
        assert f'href="/models/{model_id}"' in html
    years = [int(y) for y in re.findall(r'<h3 id="year-(\d+)">', html)]
    assert years == sorted({s.year for s in zoo.model_summaries()})
    assert '<link rel="alternate" type="application/json" href="/api/models">' in html
    _no_inline_code(html)


def test_gallery_marks_the_ilsvrc_winners(client: TestClient) -> None:
    html = client.get("/models").text
    found = re.findall(r'<li class="card( winner)?">\s*<a class="card-link" '
                       r'href="/models/([^"]+)"', html)
    cards = {model: winner for winner, model in found}
    assert set(cards) == set(zoo.model_ids())
    winners = {m for m, w in cards.items() if w}
    assert winners == {"alexnet", "zfnet", "googlenet", "resnet152"}
    assert "ILSVRC 2014, second" in html  # VGG was second in classification
    assert "ILSVRC 2012 winner" in html


def test_gallery_shows_depth_params_macs_and_top5(client: TestClient) -> None:
    html = client.get("/models").text
    vgg16 = zoo.analyze_model("vgg16").totals
    card = html[html.index('<a class="card-link" href="/models/vgg16"'):]
    card = card[:card.index("</li>")]
    assert f"<dd>{vgg16.depth}</dd>" in card and vgg16.depth == 13 + 3
    assert 'title="138,357,544"' in card and "7.3%" in card
    assert f'title="{vgg16.macs:,}"' in card


def test_home_page_has_the_calculator_and_the_gallery(client: TestClient) -> None:
    response = client.get("/")
    assert _template(response) == "calc.html"
    html = response.text
    assert html.index('<form id="calc"') < html.index('id="gallery-title"')
    for model_id in zoo.model_ids():
        assert f'href="/models/{model_id}"' in html


def test_zoo_charts_on_the_models_page(client: TestClient) -> None:
    response = client.get("/models")
    ctx = _ctx(response)
    bubbles = ctx["complexity"].bubbles
    assert {b.model for b in bubbles} == {s.id for s in zoo.model_summaries() if s.top1}
    html = response.text
    # each chart drawn twice: laid out for wide screens and for a phone
    assert html.count('role="img"') == 4 and html.count('class="chart-svg chart-narrow') == 2
    assert '<title id="complexity-t">' in html and '<desc id="ilsvrc-d">' in html
    assert 'class="mark mark-human"' in html and f"{zoo.human_top5().top5_error:g}%" in html


# -- model pages ------------------------------------------------------------------------------
def test_model_page_has_the_table_totals_and_links(client: TestClient) -> None:
    response = client.get("/models/vgg16")
    assert response.status_code == 200 and _template(response) == "model.html"
    ctx = _ctx(response)
    analysis = ctx["analysis"]
    assert isinstance(analysis, Analysis)
    assert analysis.totals.params == 138_357_544
    assert ctx["form"]["input"] == "224x224x3"
    html = response.text
    assert '<table class="layers">' in html and "fc6" in html
    # the calculator's own partial renders the result
    assert '<div id="analysis">' in html and 'id="problems"' in html
    json_url = "/api/models/vgg16?input=224x224x3&dtype=float32&batch=1&optimizer=sgd&aux=false"
    assert ctx["json_url"] == json_url
    escaped = json_url.replace("&", "&amp;")
    assert f'<link rel="alternate" type="application/json" href="{escaped}">' in html
    assert "Simonyan and Zisserman" in html
    # the table's RF-diagram buttons send this model's spec to /rf
    assert '<form id="calc" class="rf-source" method="get" action="/rf" hidden>' in html
    assert ctx["rf_spec"] == zoo.model_spec("vgg16") and 'id="rf-panel"' in html
    _no_inline_code(html)


def test_model_page_and_its_json_twin_agree(client: TestClient) -> None:
    response = client.get("/models/resnet50", params={"input": "64x64x3", "dtype": "float16",
                                                      "batch": "4", "optimizer": "adam"})
    ctx = _ctx(response)
    api = client.get(ctx["json_url"]).json()
    analysis = ctx["analysis"]
    assert api["totals"]["params"] == analysis.totals.params
    assert api["totals"]["training_bytes"] == analysis.totals.training_bytes
    assert api["options"] == {"dtype": "float16", "batch": 4, "optimizer": "adam", "aux": False}
    assert analysis.input.h == 64 and analysis.layers[1].output.h == (64 + 2 * 3 - 7) // 2 + 1


def test_open_in_calculator_gives_the_same_numbers(client: TestClient) -> None:
    ctx = _ctx(client.get("/models/resnet18", params={"input": "96x96x3", "dtype": "int8"}))
    query = parse_qs(urlsplit(ctx["calc_url"]).query)
    again = engine.analyze(query["spec"][0], dtype=query["dtype"][0])
    assert again.totals == ctx["analysis"].totals
    page = client.get(ctx["calc_url"])
    assert _ctx(page)["analysis"].totals == ctx["analysis"].totals


def test_model_controls_use_the_api_names_and_push_the_url(client: TestClient) -> None:
    html = client.get("/models/googlenet").text
    form = html[html.index('<form id="model-form"'):html.index("</form>")]
    for name in ("input", "dtype", "batch", "optimizer", "aux", "budget", "budget_unit"):
        assert f'name="{name}"' in form
    assert 'hx-get="/models/googlenet"' in form and 'hx-push-url="true"' in form
    assert 'hx-target="#model-result"' in form
    # no aux control on a model without auxiliary classifiers
    vgg = client.get("/models/vgg16").text
    assert 'name="aux"' not in vgg[vgg.index('<form id="model-form"'):vgg.index("</form>")]


def test_htmx_gets_the_model_partial(client: TestClient) -> None:
    full = client.get("/models/alexnet")
    part = client.get("/models/alexnet", params={"dtype": "float16"}, headers=HX)
    assert _template(part) == "partials/_model_result.html"
    assert "<html" not in part.text and '<form id="model-form"' not in part.text
    assert part.headers["vary"] == "HX-Request" == full.headers["vary"]
    assert _ctx(part)["analysis"].options.dtype == "float16"
    assert 'hx-swap-oob' not in part.text  # no calculator gutter outside the calculator


def test_aux_counts_the_auxiliary_classifiers(client: TestClient) -> None:
    plain = _ctx(client.get("/models/googlenet"))["analysis"].totals.params
    with_aux = _ctx(client.get("/models/googlenet", params={"aux": "true"}))["analysis"]
    assert with_aux.totals.params > plain and with_aux.options.aux


@pytest.mark.parametrize(("params", "words"), [
    ({"input": "abc"}, "HxWxC"), ({"batch": "0"}, "batch"), ({"dtype": "float64"}, "dtype"),
    ({"input": "3x3x3"}, "conv1"),
])
def test_bad_options_show_in_the_model_page(client: TestClient, params: dict[str, str],
                                            words: str) -> None:
    response = client.get("/models/alexnet", params=params)
    assert response.status_code == 422 and _template(response) == "model.html"
    errors = _ctx(response)["errors"]
    assert errors and any(words in e["message"] or words in e.get("layer", "")
                          or words in e.get("parameter", "") for e in errors)
    assert 'class="errors"' in response.text


def test_unknown_model_is_the_404_page(client: TestClient) -> None:
    response = client.get("/models/no-such-net")
    assert response.status_code == 404 and _template(response) == "error.html"
    assert "No such page" in response.text and "no-such-net" in response.text


def test_hostile_query_values_are_escaped(client: TestClient) -> None:
    response = client.get("/models/alexnet", params={"input": '"><script>alert(1)</script>',
                                                     "budget": "<b>5</b>"})
    assert "<script>alert" not in response.text and "<b>5</b>" not in response.text
    assert "&lt;script&gt;" in response.text or "&#34;&gt;&lt;script" in response.text


# -- what differs ---------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["alexnet", "googlenet", "resnet50", "resnet101", "resnet152",
                                   "tv-resnet50"])
def test_models_with_two_builds_show_what_differs(client: TestClient, model: str) -> None:
    response = client.get(f"/models/{model}")
    d = _ctx(response)["diff"]
    assert d is not None and d.changes
    assert 'id="what-differs"' in response.text
    pair = _ctx(response)["pair"]
    assert f'href="/models/{pair}?input=' in response.text


def test_resnet50_what_differs_states_the_extra_macs(client: TestClient) -> None:
    d = _ctx(client.get("/models/resnet50"))["diff"]
    macs = next(t for t in d.totals if t.key == "macs")
    extra = ((56**2 - 28**2) * 256 * 128 + (28**2 - 14**2) * 512 * 256
             + (14**2 - 7**2) * 1024 * 512)
    assert macs.delta == extra
    assert f"{extra:+,}" in client.get("/models/resnet50").text


def test_model_without_a_second_build_has_no_diff(client: TestClient) -> None:
    response = client.get("/models/vgg16")
    assert _ctx(response)["diff"] is None and 'id="what-differs"' not in response.text


# -- planner --------------------------------------------------------------------------------
def test_planner_on_the_vgg16_page(client: TestClient) -> None:
    response = client.get("/models/vgg16", params={"budget": "5", "budget_unit": "GB", "batch": "8"})
    plan = _ctx(response)["planner"]["plan"]
    per_image = zoo.analyze_model("vgg16").totals.activation_bytes  # batch 1
    assert plan.per_image == per_image
    assert plan.activations_only.images == 5 * 10**9 // per_image
    html = response.text
    assert 'id="planner"' in html and f"{plan.training.images:,}</strong>" in html
    assert "5,000,000,000 bytes" in html


def test_planner_bad_budget_is_named_and_the_page_still_works(client: TestClient) -> None:
    response = client.get("/models/vgg16", params={"budget": "lots"})
    assert response.status_code == 200
    assert "must be a number" in _ctx(response)["planner"]["error"]
    assert 'class="plan-error" role="alert"' in response.text


# -- charts on model pages -------------------------------------------------------------------
def test_model_page_charts(client: TestClient) -> None:
    response = client.get("/models/vgg16")
    memory, _macs, _rf = _ctx(response)["charts"]
    assert memory.panels[1].tallest().label == "fc6"
    assert response.text.count('class="chart-svg chart-wide') == 3
    assert 'class="bar bar-params tallest"' in response.text


# -- lecture -----------------------------------------------------------------------------------
def test_lecture_page_lists_every_claim(client: TestClient) -> None:
    response = client.get("/lecture")
    assert response.status_code == 200
    html = response.text
    claims = lecture_claims()
    for c in claims:
        row = html[html.index(f'<tr id="claim-{c.row}"'):]
        row = row[:row.index("</tr>")]
        assert f'data-status="{c.status}"' in row
        for p in c.parts:
            assert p.lecture.replace('"', "&#34;") in row or p.lecture in row
        assert 'class="calc-link" href="' in row
        # status in words and icon, not colour alone
        word = {"match": "matches", "rounded": "rounded", "differs": "differs"}[c.status]
        assert f'<span class="status {c.status}"><span aria-hidden="true">' in row and word in row
    assert len(re.findall(r'<tr id="claim-\d+"', html)) == len(claims)
    _no_inline_code(html)


def test_lecture_links_lead_to_pages_that_work(client: TestClient) -> None:
    ctx = _ctx(client.get("/lecture"))
    hrefs = {href for _, (href, _) in ctx["rows"]}
    for href in hrefs:
        assert client.get(href.split("#")[0]).status_code == 200, href
    by_row = {c.row: href for c, (href, _) in ctx["rows"]}
    assert by_row[14] == "/compare?preset=inception" and by_row[10] == "/models/vgg16"


# -- compare -----------------------------------------------------------------------------------
def _items(response: Any) -> list[Any]:
    items: list[Any] = _ctx(response)["items"]
    return items


def test_inception_preset(client: TestClient) -> None:
    response = client.get("/compare", params={"preset": "inception"})
    naive, bottleneck = (i.analysis for i in _items(response))
    assert naive.totals.macs == (28 * 28 * 128 * 1 * 1 * 256 + 28 * 28 * 192 * 3 * 3 * 256
                                 + 28 * 28 * 96 * 5 * 5 * 256)
    assert bottleneck.totals.macs == (28 * 28 * 128 * 256 + 28 * 28 * 64 * 256
                                      + 28 * 28 * 192 * 3 * 3 * 64 + 28 * 28 * 64 * 256
                                      + 28 * 28 * 96 * 5 * 5 * 64 + 28 * 28 * 64 * 256)
    html = response.text
    assert f"{naive.totals.macs:,}" in html and f"{bottleneck.totals.macs:,}" in html
    _no_inline_code(html)


def test_3x3_vs_7x7_preset(client: TestClient) -> None:
    stack, single = (i.analysis for i in _items(client.get("/compare?preset=3x3-vs-7x7")))
    assert stack.totals.weights == 27 * 64 * 64 and single.totals.weights == 49 * 64 * 64
    assert stack.layers[-1].rf.size == single.layers[-1].rf.size == 7


@pytest.mark.parametrize(("preset", "models"), [
    ("ilsvrc", ["alexnet", "vgg16", "googlenet", "resnet152"]),
    ("wide-resnext", ["resnet50", "wide_resnet50_2", "resnext50_32x4d"]),
])
def test_model_presets(client: TestClient, preset: str, models: list[str]) -> None:
    response = client.get("/compare", params={"preset": preset})
    items = _items(response)
    assert [i.model for i in items] == models
    for i in items:
        assert i.analysis.totals == zoo.analyze_model(i.model).totals
        assert sum(b.params for b in i.blocks) == i.analysis.totals.params
    # and the overlay
    assert response.text.count('class="chart-svg chart-wide') == len(models) + 1


def test_compare_items_from_the_url(client: TestClient) -> None:
    spec = "input 32x32x3\nconv 8 3x3"
    response = client.get("/compare", params=[("item", "vgg11"), ("item", spec),
                                              ("dtype", "int8")])
    a, b = _items(response)
    assert a.model == "vgg11" and b.model is None
    assert b.analysis.totals.params == 3 * 3 * 3 * 8 + 8
    assert a.analysis.options.dtype == "int8"
    assert "spec" in response.text and f"{3 * 3 * 3 * 8 + 8:,}" in response.text


@pytest.mark.parametrize("items", [["vgg16"], ["vgg16"] * 5])
def test_compare_takes_two_to_four(client: TestClient, items: list[str]) -> None:
    response = client.get("/compare", params=[("item", i) for i in items])
    assert response.status_code == 422
    assert "2 to 4 items" in response.text


def test_compare_bad_spec_is_reported_and_escaped(client: TestClient) -> None:
    response = client.get("/compare", params=[("item", "alexnet"),
                                              ("item", "input 8x8x3\n<script>x</script> 3")])
    assert response.status_code == 422
    bad = _items(response)[1]
    assert bad.analysis is None and bad.errors
    assert "<script>x" not in response.text


def test_new_pages_carry_the_security_headers(client: TestClient) -> None:
    for path in ("/models", "/models/alexnet", "/lecture", "/compare?preset=inception"):
        response = client.get(path)
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
        assert response.headers["x-content-type-options"] == "nosniff"


# -- architecture diagram ----------------------------------------------------------------------
def test_model_page_draws_the_architecture(client: TestClient) -> None:
    response = client.get("/models/resnet50")
    diagram = _ctx(response)["diagram"]
    assert [f.times for f in diagram.frames] == [3, 4, 6, 3]
    html = response.text
    assert 'class="arch-svg"' in html and html.count('class="times"') == 4
    assert '<title id="arch-t">Architecture of ResNet-50' in html
    for box in diagram.boxes:
        assert f'data-arch-row="{box.rows[0]}"' in html
    macs = _ctx(client.get("/models/resnet50", params={"shade": "macs"}))["diagram"]
    assert macs.metric == "macs" and 'figure class="arch arch-macs"' in client.get(
        "/models/resnet50", params={"shade": "macs"}).text


def test_the_calculator_has_the_planner(client: TestClient) -> None:
    from app.examples import VGG16_NOTES

    response = client.get("/", params={"example": "vgg16", "budget": "5", "unit": "GB",
                                       "batch": "4"})
    html = response.text
    assert 'name="budget"' in html and 'name="budget_unit"' in html and html.count('id="planner"') == 1
    analysis = engine.analyze(VGG16_NOTES, batch=4)
    per_image = analysis.totals.activation_bytes // 4
    # the listing's rows: 24M values on the slide, fewer when summed; at 4 bytes a value
    assert per_image == analysis.totals.activations * 4
    assert f"<strong>{5 * 10**9 // per_image:,}</strong> images" in html
    part = client.get("/", params={"example": "vgg16", "budget": "-2"}, headers=HX)
    assert part.status_code == 200 and "more than 0" in part.text


def test_vgg16_planner_sets_the_lecture_beside_the_computed_answer(client: TestClient) -> None:
    html = client.get("/models/vgg16").text
    plan = _ctx(client.get("/models/vgg16"))["planner"]["plan"]
    assert "about 100 MB an image, so 5 GB holds only about 50 images" in html
    assert f"so {plan.activations_only.images:,} images in 5 GB" in html


def test_the_planner_unit_and_the_receptive_field_unit_never_share_a_name(
        client: TestClient) -> None:
    """The calculator's "RF diagram" buttons send the whole form to /rf, whose ``unit`` is
    the unit drawn (first, centre, last): the planner's is ``budget_unit``."""
    html = client.get("/", params={"example": "alexnet"}).text
    form = html[html.index('<form id="calc"'):html.index("</form>", html.index('<form id="calc"'))]
    assert 'name="budget_unit"' in form and 'name="unit"' not in form
    rf = client.get("/rf", params={"example": "alexnet", "spec": engine_spec(), "row": "1",
                                   "budget": "5", "budget_unit": "GiB"}, headers=HX)
    assert rf.status_code == 200 and "<svg" in rf.text
    # an older link's unit=GiB still sets the planner's unit, on both pages
    for path in ("/models/vgg16", "/"):
        page = client.get(path, params={"example": "vgg16", "budget": "5", "unit": "GiB"}).text
        assert "in 5 GiB" in page
        assert '<option value="GiB" selected>' in page


def engine_spec() -> str:
    from app.examples import ALEXNET_SLIDE

    return ALEXNET_SLIDE


def test_the_calculators_planner_stays_as_it_was_left(client: TestClient) -> None:
    """A live update (htmx) opens the planner only when the page says it was open; a link with
    a budget opens it; the page's script sends ``plan_open`` with each update."""
    def is_open(html: str) -> bool:
        return '<details id="planner" class="planner" open>' in html

    live = {"example": "alexnet", "budget": "5", "budget_unit": "GB"}
    assert not is_open(client.get("/", params=live, headers=HX).text)
    assert is_open(client.get("/", params=live | {"plan_open": "1"}, headers=HX).text)
    assert is_open(client.get("/", params=live).text)  # a link naming a budget
    assert not is_open(client.get("/", params=live | {"plan_open": "0"}).text)
    assert not is_open(client.get("/", params={"example": "alexnet"}).text)


def test_a_rounded_figure_gets_one_judgement_on_every_page(client: TestClient) -> None:
    """"35K" for CONV1's 34,944 parameters: right to the precision written, but 0.16% off, so
    "rounded" on the calculator as on /lecture; "34.94K" is within 0.1%: right, and a match."""
    from app import lecture
    from app.engine.claims import MATCH_WITHIN

    spec = "input 227x227x3\nconv 96 11x11 stride 4 params: {}\n"
    rounded = client.get("/", params={"spec": spec.format("35K")})
    claim = _ctx(rounded)["analysis"].layers[1].claims[0]
    assert claim.ok and claim.rounded
    assert abs(35_000 - 34_944) > MATCH_WITHIN * 34_944  # why: 56 is more than 0.1% of it
    assert lecture.judge("35K", 34_944) == "rounded"
    assert '<span class="claim rounded"><span aria-hidden="true">≈</span> rounded</span>' in rounded.text
    assert "1 rounded, 0 wrong" in rounded.text
    close = _ctx(client.get("/", params={"spec": spec.format("34.94K")}))["analysis"]
    assert close.layers[1].claims[0].ok and not close.layers[1].claims[0].rounded
    assert lecture.judge("34.94K", 34_944) == "match"
    page = client.get("/lecture").text
    assert "≈ rounded" in page and "within 0.1%" in page and "within 0.1%" in rounded.text
