"""The lecture page: every worked number of the lecture, the slide's figure beside the one the
engine computes now, its status (a word and an icon, never colour alone), the explanation with
its arithmetic, and a link to the page that shows the calculation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.lecture import LectureClaim, lecture_claims
from app.web.answercache import CachedRoute
from app.web.deps import RunnerDep
from app.web.templating import get_templates

router = APIRouter(route_class=CachedRoute, include_in_schema=False, default_response_class=HTMLResponse)

#: the page that shows a claim's calculation, by row (else the claim's zoo model, else "/")
LINKS: dict[int, tuple[str, str]] = {
    4: ("/models/alexnet?input=224x224x3", "AlexNet on 224x224x3"),
    6: ("/compare?preset=3x3-vs-7x7", "three 3x3 vs one 7x7, compared"),
    7: ("/compare?preset=3x3-vs-7x7", "three 3x3 vs one 7x7, compared"),
    8: ("/?example=vgg16", "the course notes' VGG16 listing in the calculator"),
    9: ("/models/vgg16?batch=1&budget=5&budget_unit=GB#planner", "VGG16's batch planner, 5 GB"),
    12: ("/compare?preset=inception", "naive vs bottleneck Inception"),
    13: ("/compare?preset=inception", "naive vs bottleneck Inception"),
    14: ("/compare?preset=inception", "naive vs bottleneck Inception"),
    15: ("/models/googlenet?aux=true", "GoogLeNet with its auxiliary classifiers"),
    17: ("/?example=resnet-bottleneck", "the ResNet bottleneck in the calculator"),
    18: ("/compare?item=alexnet&item=squeezenet1_0", "AlexNet vs SqueezeNet"),
    19: ("/models", "the ILSVRC chart"),
}
#: the status in words and as an icon (the page never relies on colour alone)
STATUS = {"match": ("✓", "matches"), "rounded": ("≈", "rounded"), "differs": ("✗", "differs")}


def link_for(c: LectureClaim) -> tuple[str, str]:
    """Where the calculation of a claim is shown, and the link's text."""
    if c.row in LINKS:
        return LINKS[c.row]
    if c.model:
        return f"/models/{c.model}", f"the {c.model} model page"
    return "/", "the calculator"


@router.get("/lecture", name="lecture_page")
async def lecture_page(request: Request, run: RunnerDep) -> Response:
    """The lecture's claims, each with the computed figure, its status and its working."""
    claims = await run(lecture_claims)
    rows = [(c, link_for(c)) for c in claims]
    counts = {s: sum(c.status == s for c in claims) for s in STATUS}
    return get_templates(request).TemplateResponse(
        request, "lecture.html", {"rows": rows, "status": STATUS, "counts": counts})
