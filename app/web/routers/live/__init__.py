"""Live sessions: the class follows the instructor's calculator on their own screens and
answers questions about it.

- ``POST /live`` (the "Present live" button) makes a session and sends the instructor to its
  page with the instructor's capability in a cookie; ``POST /api/live`` gives a program the
  same session as JSON, the capability as ``key`` (sent back as ``Authorization: Bearer``).
- ``GET /live/<code>`` is the students' page (works without JavaScript as far as reading the
  code and the current result; following needs JavaScript); ``/live/<code>/events`` is its
  event stream, ``/live/<code>/answer`` takes one answer per question per device.
- The instructor's actions (``state``, ``ask``, ``reveal``, ``histogram``) and event stream
  (``watch``) need the capability; without it they answer 403.

One module a side: ``students`` (join, follow, answer), ``instructor`` (present, ask, reveal),
``api`` (the same sessions as JSON); ``session`` holds what they share.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from app.web.errors import error_response
from app.web.live.store import StoreUnavailable
from app.web.routers.live import api, instructor, students
from app.web.routers.live.session import log
from app.web.schemas import ErrorItem


def install(app: FastAPI) -> None:
    """The routes, and a store that cannot be reached answered as 503 wherever it is met."""
    for module in (instructor, api, students):
        app.include_router(module.router)

    async def unavailable(request: Request, exc: Exception) -> Response:
        log.error("live-session store: %s", exc)  # it names server paths: the log, not users
        busy = isinstance(exc, StoreUnavailable) and exc.busy
        message = ("live sessions are busy; try again in a moment" if busy else
                   "live sessions cannot be kept on this server right now (its store cannot "
                   "be used); try again later, or tell whoever runs it")
        response = error_response(request, 503, [ErrorItem(line=0, message=message)])
        response.headers["Retry-After"] = "1" if busy else "60"
        return response

    app.add_exception_handler(StoreUnavailable, unavailable)
