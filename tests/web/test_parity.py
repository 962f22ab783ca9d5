"""One result, two renderings: the page's context and the API's JSON are the same analysis."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.engine.result import Analysis, to_jsonable

BLOCKS = """\
input 28x28x256
concat {
  branch { conv 64 1x1 }
  branch { conv 96 1x1; relu; conv 128 3x3 pad 1 }
  branch { maxpool 3x3 stride 1 pad 1; conv 32 1x1 }
}
residual { conv 224 3x3 pad 1; bn; relu } shortcut { }
gap
fc 1000
"""

def _context(response: Any) -> dict[str, Any]:
    context: dict[str, Any] = response.context
    return context


OPTIONS: list[dict[str, Any]] = [
    {},
    {"dtype": "bfloat16", "batch": 64, "optimizer": "adam"},
    {"dtype": "int8", "batch": 4096, "aux": "true"},
]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("which", ["small", "slide", "blocks"])
def test_page_context_equals_api_json(client: TestClient, small_spec: str, alexnet_slide: str,
                                      which: str, options: dict[str, Any]) -> None:
    spec = {"small": small_spec, "slide": alexnet_slide, "blocks": BLOCKS}[which]
    page = client.get("/analyze", params={"spec": spec, **options})
    assert page.status_code == 200, page.text
    analysis = _context(page)["analysis"]
    assert isinstance(analysis, Analysis)
    body = {"spec": spec, **options}
    if "aux" in body:
        body["aux"] = True
    api = client.post("/api/analyze", json=body)
    assert api.status_code == 200, api.text
    assert to_jsonable(analysis) == api.json()
    assert f"{analysis.totals.params:,}" in page.text
    assert f"{analysis.totals.macs:,}" in page.text
