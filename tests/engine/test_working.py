"""Structured working: the same data rendered as text (the API's formulas), HTML and LaTeX.

The plain text is the API's ``formulas``, which programs read: it must stay exactly as
``golden/formulas-v0.1.json.gz`` holds it for every zoo model, except where the engine says
something else on purpose: the receptive field at a merge is the union of the branches' fields.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from app import zoo
from app.engine import analyze
from app.engine.optable import MERGE_ROW_OPS
from app.engine.working import Equation, Term, Working
from app.examples import ALEXNET_SLIDE, VGG16_NOTES
from app.present.working import to_html, to_latex, to_text

GOLDEN = json.loads(gzip.decompress(
    (Path(__file__).parent / "golden" / "formulas-v0.1.json.gz").read_bytes()))


def _analysis(key: str):  # type: ignore[no-untyped-def]
    if key == "alexnet_slide":
        return analyze(ALEXNET_SLIDE)
    if key == "vgg16_notes":
        return analyze(VGG16_NOTES)
    model, _, aux = key.partition("+")
    return zoo.analyze_model(model, aux=bool(aux))


@pytest.mark.parametrize("key", sorted(GOLDEN))
def test_text_rendering_reads_as_the_formulas_did(key: str) -> None:
    rows = _analysis(key).layers
    assert [(r.name, r.op) for r in rows] == [(n, op) for n, op, _ in GOLDEN[key]]
    for row, (_, op, before) in zip(rows, GOLDEN[key], strict=True):
        now = dict(row.formulas)
        assert set(now) == set(before), row.name
        for figure, text in before.items():
            if figure == "rf" and op in MERGE_ROW_OPS:
                continue  # the union of the branches' fields now, not the largest one
            assert now[figure] == text, (key, row.name, figure)
        assert now == {k: to_text(w) for k, w in row.working.items()}


@pytest.mark.parametrize("model", [m.id for m in zoo.list_models()])
def test_every_figure_renders_three_ways_with_its_terms(model: str) -> None:
    for row in zoo.analyze_model(model).layers:
        for figure, working in row.working.items():
            html, latex = to_html(working), to_latex(working)
            for term in working.terms():
                assert f'data-term="{term.symbol}"' in html, (row.name, figure)
            assert html.count("<var") == html.count("</var>") == len(working.terms())
            assert latex.count("{") == latex.count("}"), latex
            plain = re.sub(r"<[^>]+>", "", html).replace("&amp;", "&")
            assert plain == to_text(working)


def test_conv1_terms_name_what_each_number_is() -> None:
    conv1 = analyze("input 227x227x3\nconv 96 11x11 stride 4").layers[1]
    h = conv1.working["h"]
    assert to_text(h) == "(227 - 11 + 2*0)/4 + 1 = 55"
    assert [(t.symbol, t.value) for t in h.terms()] == [("H_in", 227), ("K_h", 11), ("P_h", 0),
                                                          ("S_h", 4)]
    eq = h.parts[0]
    assert isinstance(eq, Equation) and eq.value == (227 - 11 + 2 * 0) // 4 + 1
    assert to_latex(h) == r"\frac{227 - 11 + 2 \cdot 0}{4} + 1 = 55"
    assert '<var class="term" data-term="K_h" title="K_h: kernel height">11</var>' in to_html(h)
    macs = conv1.working["macs"]
    assert to_text(macs) == "55*55*96 * 11*11*3 = 105,415,200"
    assert [t.value for t in macs.terms()] == [55, 55, 96, 11, 11, 3]


def test_a_floored_size_keeps_its_exact_value_as_data() -> None:
    h = analyze("input 224x224x3\nconv 96 11x11 stride 4").layers[1].working["h"]
    eq = h.parts[0]
    assert isinstance(eq, Equation)
    assert eq.value * 4 == 224 - 11 + 4 and eq.rounded == 54 and eq.rounding == "floored"
    assert to_text(h) == "(224 - 11 + 2*0)/4 + 1 = 54.25, floored to 54"


def test_user_text_in_terms_is_escaped() -> None:
    w = Working((Equation(Term("<b>", 1, "<script>", unit="&"), 1),))
    html = to_html(w)
    assert "<script>" not in html and "<b>" not in html and "&lt;script&gt;" in html
    assert r"\&" in to_latex(w)
