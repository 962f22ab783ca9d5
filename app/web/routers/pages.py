"""The HTML pages. They work without JavaScript: the form is a GET, so the URL is the page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app import engine
from app.examples import ALEXNET_SLIDE
from app.web.deps import AnalyzeQueryDep
from app.web.templating import form_values, render_page

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

#: what the form shows first: the AlexNet slide's listing (its bracketed volumes are claims)
EXAMPLE_SPEC = ALEXNET_SLIDE


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
