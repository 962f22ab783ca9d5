"""Typed dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from app.engine.errors import LimitError
from app.web.schemas import AnalyzeQuery
from app.web.settings import Settings, get_settings

SettingsDep = Annotated[Settings, Depends(get_settings)]


def analyze_query(query: Annotated[AnalyzeQuery, Query()],
                  settings: SettingsDep) -> AnalyzeQuery:
    """The query-string options, with the spec held to the same size limit as a body."""
    size = len(query.spec.encode())
    if size > settings.max_body_bytes:
        raise LimitError("max_body_bytes", f"the spec is {size:,} bytes; the limit is "
                                           f"{settings.max_body_bytes:,} bytes")
    return query


AnalyzeQueryDep = Annotated[AnalyzeQuery, Depends(analyze_query)]
