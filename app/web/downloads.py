"""Content negotiation for exports: which format a request asks for, and the file answer.

Shared by the export routes (``app.web.routers.exports``) and the JSON routes
``GET /api/analyze`` and ``GET /api/models/{id}``, which answer an export instead of JSON when
``?format=`` or the ``Accept`` header asks for one. The analysis and its rendering run on the
analysis threads (``app.web.concurrency``), as every engine call of the API does. No router
imports: both sides import this.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from app import export, zoo
from app.engine import Volume
from app.engine.errors import SpecError
from app.export import Format, Subject
from app.web.concurrency import AnalysisRunner

FORMAT_HELP = ("csv, md (Markdown), latex, json or pytorch; without it the Accept header may "
               "name text/csv, text/markdown, application/x-latex, application/json or "
               "text/x-python")


def choose(format: str | None, accept: str | None) -> Format | None:
    """The format asked for by ``?format=`` (first) or ``Accept``; None: the default JSON."""
    if format:
        try:
            return export.get_format(format)
        except export.UnknownFormat as exc:
            raise SpecError(str(exc), parameter="format") from None
    return export.for_accept(accept)


def _render(fmt: Format, subject: Callable[[], Subject]) -> tuple[str, str]:
    made = subject()
    return fmt.render(made), made.title


async def download(run: AnalysisRunner, fmt: Format, subject: Callable[[], Subject],
                   disposition: str = "attachment") -> Response:
    """The export, analysed and rendered on an analysis thread, with its type and file name."""
    text, title = await run(_render, fmt, subject)
    media = fmt.media_type + ("; charset=utf-8" if fmt.media_type.startswith("text/") else "")
    return Response(text, media_type=media, headers={
        "Content-Disposition": f'{disposition}; filename="{fmt.filename(title)}"',
        "Vary": "Accept"})


def model_subject(model_id: str, volume: Volume | None, options: dict[str, Any]) -> Subject:
    """A zoo model's analysis as an export subject (its spec text keeps the comments)."""
    analysis = zoo.analyze_model(model_id, input=volume, **options)
    return Subject(analysis, zoo.load_network(model_id, volume), model_id,
                   zoo.model_spec(model_id, volume), zoo.get_model(model_id).name)


async def negotiated(request: Request, run: AnalysisRunner,
                     subject: Callable[[], Subject]) -> Response | None:
    """For the JSON routes: the export that ``?format=`` or ``Accept`` asks for, shown inline;
    None when JSON is wanted (the route then answers as usual)."""
    fmt = choose(request.query_params.get("format"), request.headers.get("accept"))
    if fmt is None or fmt.name == "json":
        return None
    return await download(run, fmt, subject, "inline")
