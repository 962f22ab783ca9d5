"""The one-layer helper (/layer): the working step by step, and the quiz marking."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from app.present.layer_quiz import LayerQuiz

CONV1 = {"input": "227x227x3", "op": "conv", "filters": "96", "kernel": "11", "stride": "4",
         "pad": "0"}
HX = {"HX-Request": "true"}


def _quiz(response: Any) -> LayerQuiz:
    quiz = response.context["quiz"]
    assert isinstance(quiz, LayerQuiz)
    return quiz


def test_working_is_shown_step_by_step(client: TestClient) -> None:
    response = client.get("/layer", params=CONV1)
    assert response.status_code == 200
    assert response.template.name == "layer.html"  # type: ignore[attr-defined]
    assert response.headers["vary"] == "HX-Request"
    quiz = _quiz(response)
    row = quiz.row
    assert (row.output.h, row.output.w, row.output.c) == ((227 - 11) // 4 + 1, 55, 96)
    assert row.weights == 11 * 11 * 3 * 96 and row.biases == 96
    assert row.macs == 55 * 55 * 96 * 11 * 11 * 3
    html = response.text
    for text in (f"{11 * 11 * 3 * 96:,}", f"{55 * 55 * 96 * 11 * 11 * 3:,}",
                 "K_h * K_w * C_in * N"):
        assert text in html, text
    # the working with its terms marked: which 11 is the kernel, which 4 the stride
    assert re.search(r'<var class="term" data-term="K_h"[^>]*>11</var>', html)
    assert re.search(r'<var class="term" data-term="S_h"[^>]*>4</var>', html)
    assert quiz.steps[0].working == "(227 - 11 + 2*0)/4 + 1 = 55"
    assert [s.title for s in quiz.steps][:3] == ["Output height", "Output width", "Output depth"]
    assert '<form class="layer-form" id="layer-form" method="get" action="/layer"' in html
    assert not re.search(r"\sstyle\s*=", html)


def test_quiz_hides_the_answers_until_typed(client: TestClient) -> None:
    response = client.get("/layer", params=CONV1 | {"quiz": "true"})
    assert response.status_code == 200
    quiz = _quiz(response)
    assert not quiz.reveal and not quiz.answered
    html = response.text
    for hidden in (f"{11 * 11 * 3 * 96:,}", f"{55 * 55 * 96 * 11 * 11 * 3:,}", "55x55x96</",
                   "= 55"):
        assert hidden not in html, hidden
    assert "the answers are hidden" in html


def test_quiz_marks_each_answer_with_text_and_icon(client: TestClient) -> None:
    answers = {"a_out": "55x55x96", "a_weights": "34944", "a_biases": "96",
               "a_macs": "105M"}
    response = client.get("/layer", params=CONV1 | {"quiz": "on"} | answers)
    assert response.status_code == 200
    quiz = _quiz(response)
    assert quiz.reveal and quiz.answered
    marks = quiz.marks
    assert marks["a_out"].ok is True
    assert marks["a_weights"].ok is False  # 34,944 = weights + biases; the weights are 34,848
    assert str(11 * 11 * 3 * 96 + 96) == answers["a_weights"]
    assert "biases too" in marks["a_weights"].why
    assert marks["a_biases"].ok is True
    assert marks["a_macs"].ok is True  # 105M: right to the precision written
    assert quiz.score == 3
    html = response.text
    assert html.count('class="mark right"') == 3 and html.count('class="mark wrong"') == 1
    assert '<span class="verdict">wrong</span>' in html and "✗" in html and "✓" in html
    assert "3 of 4 right." in html
    assert f"{11 * 11 * 3 * 96:,}" in html  # the working is revealed once answered


def test_unanswered_and_unreadable_answers(client: TestClient) -> None:
    response = client.get("/layer", params=CONV1 | {"quiz": "true", "a_out": "54x54x96",
                                                    "a_macs": "lots"})
    marks = _quiz(response).marks
    assert marks["a_out"].ok is False and "55x55x96" in marks["a_out"].why
    assert marks["a_macs"].ok is False and "could not read" in marks["a_macs"].why
    assert marks["a_weights"].ok is None and marks["a_biases"].ok is None
    assert response.text.count('class="mark blank"') == 2


def test_pool_and_fc(client: TestClient) -> None:
    pool = client.get("/layer", params={"input": "55x55x96", "op": "maxpool", "kernel": "3",
                                        "stride": "2", "pad": "0", "a_out": "27x27x96",
                                        "a_weights": "0"})
    quiz = _quiz(pool)
    assert (quiz.row.output.h, quiz.row.output.c) == ((55 - 3) // 2 + 1, 96)
    assert quiz.marks["a_out"].ok and quiz.marks["a_weights"].ok
    fc = client.get("/layer", params={"input": "6x6x256", "op": "fc", "filters": "4096",
                                      "a_weights": str(6 * 6 * 256 * 4096)})
    quiz = _quiz(fc)
    assert quiz.row.weights == 6 * 6 * 256 * 4096 and quiz.marks["a_weights"].ok


def test_bad_fields_are_422_all_at_once(client: TestClient) -> None:
    response = client.get("/layer", params=CONV1 | {"input": "227x227", "kernel": "3x",
                                                    "stride": "two"})
    assert response.status_code == 422
    assert response.template.name == "layer.html"  # type: ignore[attr-defined]
    messages = " ".join(e["message"] for e in response.context["errors"])
    for name in ("input", "kernel", "stride"):
        assert f"{name} '" in messages, messages
    assert {e["parameter"] for e in response.context["errors"]} == {"input", "kernel", "stride"}
    too_big = client.get("/layer", params=CONV1 | {"input": "4x4x3"})
    assert too_big.status_code == 422
    assert "larger than the padded input" in too_big.context["errors"][0]["message"]


def test_injected_text_cannot_add_a_layer(client: TestClient) -> None:
    response = client.get("/layer", params=CONV1 | {"kernel": "3; fc 10", "filters": "8 {"})
    assert response.status_code == 422
    hostile = client.get("/layer", params=CONV1 | {"a_out": "<script>alert(1)</script>"})
    assert "<script>alert(1)" not in hostile.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile.text


def test_htmx_gets_the_result_partial(client: TestClient) -> None:
    response = client.get("/layer", params=CONV1, headers=HX)
    assert response.status_code == 200
    assert response.template.name == "partials/_layer.html"  # type: ignore[attr-defined]
    assert response.headers["vary"] == "HX-Request"
    assert "<html" not in response.text and 'id="layer-result"' in response.text
    bad = client.get("/layer", params=CONV1 | {"stride": "x"}, headers=HX)
    assert bad.status_code == 422 and 'role="alert"' in bad.text and "<form" not in bad.text


def test_groups_and_dilation(client: TestClient) -> None:
    response = client.get("/layer", params={"input": "32x32x16", "op": "conv", "filters": "64",
                                            "kernel": "3", "stride": "1", "pad": "2",
                                            "groups": "4", "dilation": "2",
                                            "a_weights": str(3 * 3 * (16 // 4) * 64)})
    assert response.status_code == 200, response.text
    quiz = _quiz(response)
    k_eff = 2 * (3 - 1) + 1
    assert quiz.row.output.h == (32 - k_eff + 2 * 2) // 1 + 1
    assert quiz.row.macs == quiz.row.output.h * quiz.row.output.w * 64 * 3 * 3 * (16 // 4)
    assert quiz.marks["a_weights"].ok is True
    general = {s.title: s.general for s in quiz.steps}
    assert "(C_in / G)" in general["Weights"] and "k_eff" in general["Output height"]
    assert "groups 4" in quiz.line and "dilation 2" in quiz.line


def test_a_pool_ignores_the_filters_field(client: TestClient) -> None:
    response = client.get("/layer", params={"input": "8x8x5", "op": "avgpool", "filters": "",
                                            "kernel": "2", "stride": "2", "pad": "0"})
    assert response.status_code == 200
    assert _quiz(response).row.output.c == 5 and _quiz(response).line.startswith("avgpool 2 ")
