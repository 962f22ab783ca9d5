"""The HTML pages. They work without JavaScript: the form is a GET, so the URL is the page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app import engine
from app.web.deps import AnalyzeQueryDep
from app.web.templating import form_values, render_page

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

#: what the form shows first: the AlexNet slide's listing (its bracketed volumes are claims)
EXAMPLE_SPEC = """\
[227x227x3] INPUT
[55x55x96] CONV1: 96 11x11 filters at stride 4, pad 0
[27x27x96] MAX POOL1: 3x3 filters at stride 2
[27x27x96] NORM1: Normalization layer
[27x27x256] CONV2: 256 5x5 filters at stride 1, pad 2
[13x13x256] MAX POOL2: 3x3 filters at stride 2
[13x13x256] NORM2: Normalization layer
[13x13x384] CONV3: 384 3x3 filters at stride 1, pad 1
[13x13x384] CONV4: 384 3x3 filters at stride 1, pad 1
[13x13x256] CONV5: 256 3x3 filters at stride 1, pad 1
[6x6x256] MAX POOL3: 3x3 filters at stride 2
[4096] FC6: 4096 neurons
[4096] FC7: 4096 neurons
[1000] FC8: 1000 neurons (class scores)
"""


@router.get("/", name="index")
def index(request: Request) -> Response:
    """The calculator form, filled with an example."""
    form = form_values(request.query_params)
    form["spec"] = form["spec"] or EXAMPLE_SPEC
    return render_page(request, "index.html", {"form": form})


@router.get("/analyze", name="analyze_page")
def analyze_page(request: Request, query: AnalyzeQueryDep) -> Response:
    """The per-layer table and totals for the spec in the query string."""
    analysis = engine.analyze(query.spec, **query.engine_options())
    return render_page(request, "analyze.html", {"analysis": analysis})
