"""Typed dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from app.engine.errors import LimitError
from app.web.concurrency import AnalysisRunner
from app.web.schemas import AnalyzeQuery
from app.web.settings import Settings, get_settings

SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_runner(request: Request, settings: SettingsDep) -> AnalysisRunner:
    """The app's runner of engine calls (``app.web.concurrency``), made on first use."""
    state = request.app.state
    runner: AnalysisRunner | None = getattr(state, "analysis_runner", None)
    if runner is None:
        runner = AnalysisRunner(settings.analysis_threads, settings.analysis_seconds)
        state.analysis_runner = runner
    return runner


#: ``await run(engine.analyze, spec, ...)``: an engine call off the event loop and off the
#: threadpool the other routes share
RunnerDep = Annotated[AnalysisRunner, Depends(get_runner)]


def analyze_query(query: Annotated[AnalyzeQuery, Query()],
                  settings: SettingsDep) -> AnalyzeQuery:
    """The query-string options, with the spec held to the same size limit as a body."""
    size = len(query.spec.encode())
    if size > settings.max_body_bytes:
        raise LimitError("max_body_bytes", f"the spec is {size:,} bytes; the limit is "
                                           f"{settings.max_body_bytes:,} bytes",
                         parameter="spec")
    return query


AnalyzeQueryDep = Annotated[AnalyzeQuery, Depends(analyze_query)]
