"""Messages quote code in backticks; pages show it as ``<code>``, escaped before it is marked up
(a quoted name is never markup), and the API keeps the plain text."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.present.formats import code_spans
from app.web.filters import codify


def test_code_spans_pair_the_backticks() -> None:
    assert code_spans("did you mean `stride`? (or `pad`)") == [
        ("did you mean ", False), ("stride", True), ("? (or ", False), ("pad", True),
        (")", False)]
    # an unpaired backtick, or an empty pair, is text as it was written
    assert code_spans("a ` b") == [("a ` b", False)]
    assert code_spans("x `a` `b") == [("x ", False), ("a", True), (" `b", False)]
    assert "".join(p for p, _ in code_spans("a `` b")) == "a `` b"
    assert code_spans("") == []


@pytest.mark.parametrize(("text", "html"), [
    ("did you mean `stride`?", "did you mean <code>stride</code>?"),
    ("`<script>window.__pwned=1</script>`",
     "<code>&lt;script&gt;window.__pwned=1&lt;/script&gt;</code>"),
    ('<img src=x onerror="x()"> `a&b`', "&lt;img src=x onerror=&#34;x()&#34;&gt; <code>a&amp;b</code>"),
    ("`</code><b>` and `{{7*7}}`", "<code>&lt;/code&gt;&lt;b&gt;</code> and <code>{{7*7}}</code>"),
])
def test_codify_escapes_first_then_marks_up(text: str, html: str) -> None:
    assert str(codify(text)) == html


def test_the_calculator_shows_the_hint_as_code(client: TestClient) -> None:
    response = client.get("/", params={"spec": "input 32x32x3\nconv 8 3x3 strid 2\nrelu5\n"})
    assert response.status_code == 422
    assert 'did you mean <code>stride</code>?' in response.text
    assert "unknown layer &#39;relu5&#39;; did you mean <code>relu6</code>? (or " \
           "<code>relu</code>)" in response.text
    api = client.post("/api/analyze", json={"spec": "input 32x32x3\nconv 8 3x3 strid 2\n"})
    assert "did you mean `stride`?" in api.text  # the API's message stays plain text


def test_hostile_text_in_backticks_stays_text(client: TestClient) -> None:
    payload = "`<img src=x onerror=window.__pwned=1>`"
    response = client.get("/", params={"spec": f"input 32x32x3\n{payload} 3\n"})
    assert response.status_code == 422
    assert "<img src=x" not in response.text
    assert "<code>&lt;img src=x onerror=window.__pwned=1&gt;</code>" in response.text
