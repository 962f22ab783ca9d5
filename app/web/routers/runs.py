"""Real runs: the JSON API (/api/runs), the health checks and the "Run for real" fragments.

Thin: each route hands the request to :class:`app.worker.client.Runs` (Celery), built on first
use from :class:`app.worker.settings.WorkerSettings` (``app.state.worker_settings`` when a test
or the app factory put one there). Nothing here imports Celery or torch at import time: without
the ``worker`` extra, or in the embedded mode without torch, the routes answer 503 saying what to
install, and the rest of the app runs as before.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

import anyio
from fastapi import APIRouter, Cookie, Depends, FastAPI, Form, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from app.engine import SpecError
from app.web.errors import ERROR_RESPONSES, error_body, error_response, spec_error_items
from app.web.ratelimit import RUN_QUOTA, QuotaExceeded
from app.web.schemas import ErrorItem
from app.web.templating import get_templates
from app.worker import embedded, report
from app.worker.models import RunAccepted, RunRequest, RunStatus
from app.worker.readiness import UNKNOWN
from app.worker.settings import WorkerSettings

if TYPE_CHECKING:
    from app.worker.client import Runs
else:  # Celery is imported on first use, so that the app runs without the worker extra
    Runs = object


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    runs = getattr(app.state, "runs", None)
    if runs is not None:
        runs.close()


router = APIRouter(lifespan=_lifespan)

_ERROR = ERROR_RESPONSES[422]
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: _ERROR | {"description": "the queue is full (with Retry-After), the broker is "
                                  "unreachable, or real runs are not installed here"}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _ERROR | {"description": "no run has this id"}}
FORBIDDEN: dict[int | str, dict[str, Any]] = {403: _ERROR | {
    "description": "no token, or not this run's token (Authorization: Bearer <token>)"}}
TOO_MANY: dict[int | str, dict[str, Any]] = {429: _ERROR | {
    "description": "this client's run quota (runs_per_minute) is used up; Retry-After says when "
                   "a new job may be made (answers that make no job draw nothing)"}}
#: the cookie that keeps a run's token for the browser that started it, scoped to the run's path
TOKEN_COOKIE = "archcalc_run_token"


def worker_settings(app: FastAPI) -> WorkerSettings:
    """The app's worker settings (read from the environment once)."""
    if getattr(app.state, "worker_settings", None) is None:
        app.state.worker_settings = WorkerSettings()
    settings: WorkerSettings = app.state.worker_settings
    return settings


_CREATING = threading.Lock()


def get_runs(request: Request) -> Runs:
    """The app's job client; 503 naming what to install when real runs cannot work here."""
    app: FastAPI = request.app
    existing: Runs | None = getattr(app.state, "runs", None)
    if existing is not None:
        return existing
    with _CREATING:
        return _create_runs(app)


def _create_runs(app: FastAPI) -> Runs:
    if getattr(app.state, "runs", None) is not None:
        made: Runs = app.state.runs
        return made
    settings = worker_settings(app)
    if not embedded.celery_installed():
        raise HTTPException(503, embedded.WORKER_HINT)
    if settings.embedded and not embedded.torch_installed():
        raise HTTPException(503, embedded.ENABLE_HINT)
    from app.worker.client import Runs

    app.state.runs = Runs(settings, local_worker=settings.embedded)
    runs: Runs = app.state.runs
    runs.monitor.start()  # readiness is known, with some memory of workers, before it is asked
    return runs


RunsDep = Annotated[Runs, Depends(get_runs)]


class Unavailable(HTTPException):
    def __init__(self, message: str, retry_after: int | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        super().__init__(503, message, headers=headers)


def _submit(runs: Runs, body: RunRequest, request: Request) -> RunAccepted:
    """Submit; a new job draws from the client's run quota (QuotaExceeded when it is empty)."""
    from app.worker.client import UNREACHABLE, QueueFull

    quota = getattr(request.state, RUN_QUOTA, None)
    try:
        return runs.submit(body, before_new=quota.take if quota is not None else None)
    except QueueFull as exc:
        raise Unavailable(str(exc), exc.retry_after) from None
    except UNREACHABLE as exc:
        raise Unavailable(f"the job queue cannot be reached: {exc}", 10) from None


def _known(runs: Runs, run_id: str, cancel: bool = False, token: str | None = None
           ) -> RunStatus:
    from app.worker.client import UNREACHABLE, NotOwner

    try:
        found = runs.cancel(run_id, token) if cancel else runs.status(run_id)
    except NotOwner as exc:
        raise HTTPException(403, str(exc)) from None
    except UNREACHABLE as exc:
        raise Unavailable(f"the job queue cannot be reached: {exc}", 10) from None
    if found is None:
        raise HTTPException(404, f"no run has the id '{run_id}'")
    return found


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _too_many(request: Request, exc: QuotaExceeded) -> Response:
    response = error_response(request, 429, [exc.item])
    response.headers["Retry-After"] = str(exc.retry)
    return response


# --- the JSON API ------------------------------------------------------------------------------


@router.post("/api/runs", status_code=202, response_model=RunAccepted, name="api_runs_create",
             tags=["runs"], responses={200: {"model": RunAccepted, "description": "answered "
                                             "from the stored result of the same question"},
                                       **ERROR_RESPONSES, **UNAVAILABLE, **TOO_MANY})
def create_run(body: RunRequest, runs: RunsDep, request: Request,
               response: Response) -> RunAccepted | Response:
    """Queue a real run (202, with the token that may cancel it); the same question asked before
    is answered from its result (200) or with the job already answering it (202, no token)."""
    try:
        accepted = _submit(runs, body, request)
    except QuotaExceeded as exc:
        return _too_many(request, exc)
    if accepted.cached:
        response.status_code = 200
    return accepted


@router.get("/api/runs/{run_id}", response_model=RunStatus, name="api_runs_get", tags=["runs"],
            responses={**NOT_FOUND, **UNAVAILABLE})
def get_run(run_id: str, runs: RunsDep) -> RunStatus:
    """A run's status (queued, running, done, failed, cancelled), progress and result."""
    return _known(runs, run_id)


@router.delete("/api/runs/{run_id}", response_model=RunStatus, name="api_runs_cancel",
               tags=["runs"], responses={**FORBIDDEN, **NOT_FOUND, **UNAVAILABLE})
def cancel_run(run_id: str, runs: RunsDep, request: Request) -> RunStatus:
    """Cancel a queued or running run with its token (Authorization: Bearer); a finished one is
    answered as it is."""
    return _known(runs, run_id, cancel=True, token=_bearer(request))


@router.get("/healthz", tags=["runs"], name="healthz")
async def healthz() -> dict[str, str]:
    """Alive: the web process answers (nothing else is checked)."""
    # on the event loop itself: a liveness probe must not wait behind the threadpool's queue
    return {"status": "ok"}


@router.get("/readyz", tags=["runs"], name="readyz",
            responses={503: _ERROR | {"description": "not ready: each problem an error item"}})
async def readyz(request: Request) -> Response:
    """Ready for runs: the broker reachable, a worker on a queue the app sends to, room in it.

    Answered from a check made in the background every few seconds: cheap however often it is
    asked, and never waiting on the broker."""
    try:  # made once, on a thread: the first use imports Celery
        made: Runs | None = getattr(request.app.state, "runs", None)
        runs = made if made is not None else await anyio.to_thread.run_sync(get_runs, request)
    except HTTPException as exc:
        return JSONResponse(error_body([ErrorItem(line=0, message=str(exc.detail))]), 503)
    state = runs.readiness()
    if state is None:  # the first check is under way: wait for it briefly, off the threads
        deadline = anyio.current_time() + runs.settings.ping_timeout_s + 2
        while state is None and anyio.current_time() < deadline:
            await anyio.sleep(0.05)
            state = runs.readiness()
    if state is None or not state.ready:
        problems = state.problems if state is not None else [UNKNOWN]
        items = [ErrorItem(line=0, message=p) for p in problems]
        return JSONResponse(error_body(items), 503, headers={"Retry-After": "5"})
    return JSONResponse({"status": "ready", "broker": state.broker, "workers": state.workers,
                         "queues": state.queues, "waiting": state.waiting,
                         "sends_to": state.live_queues(), "notes": state.notes,
                         "checked_at": state.checked_at})


# --- the "Run for real" fragments --------------------------------------------------------------


def _batch_sizes(text: str) -> list[int]:
    parts = text.replace(",", " ").split()
    if not parts or not all(p.isascii() and p.isdigit() for p in parts):
        raise SpecError(f"batch sizes: whole numbers separated by commas, such as 1, 8, 32; "
                        f"got '{text[:40]}'", parameter="batch_sizes")
    return [int(p) for p in parts]


def _form_request(spec: str, model: str, dtype: str, batch_sizes: str, mode: str,
                  optimizer: str, input: str = "") -> RunRequest:
    return RunRequest.model_validate({
        "spec": spec or None, "model": model or None, "dtype": dtype, "mode": mode,
        "batch_sizes": _batch_sizes(batch_sizes), "optimizer": optimizer,
        "input": (input or None) if model else None})


def _fragment(request: Request, status: RunStatus | None, errors: list[dict[str, Any]],
              code: int = 200, can_cancel: bool = False, reconnecting: str = "",
              title: str = "The run could not start") -> Response:
    """The status fragment for htmx, or the whole run page (refreshing itself) without it.

    htmx swaps only 2xx and 422 answers (base.html's responseHandling), so a fragment that
    explains a 404 or a 503 (real runs not installed, the queue full) is sent as 200 with the
    real status in ``X-Archcalc-Status``; the whole page and the JSON API keep the real code.
    ``reconnecting`` (the id of a run whose queue cannot be reached right now) keeps polling."""
    context = {"run": status, "errors": errors, "view": report, "can_cancel": can_cancel,
               "reconnecting": reconnecting, "error_title": title,
               "finished": not reconnecting and (
                   status is None or status.status in ("done", "failed", "cancelled"))}
    htmx = bool(request.headers.get("HX-Request"))
    name = "partials/_run_status.html" if htmx else "run.html"
    real = code
    if htmx and code >= 400 and code != 422:
        code = 200
    response = get_templates(request).TemplateResponse(request, name, context, status_code=code)
    response.headers["Vary"] = "HX-Request"
    response.headers["X-Archcalc-Status"] = str(real)
    return response


def _page_errors(exc: Exception) -> tuple[int, list[dict[str, Any]]]:
    if isinstance(exc, ValidationError):
        items = [ErrorItem(line=0, message=f"{'.'.join(map(str, e['loc'])) or 'form'}: "
                                           f"{e['msg']}") for e in exc.errors()]
        return 422, error_body(items)["errors"]
    if isinstance(exc, SpecError):
        return 422, error_body(spec_error_items(exc))["errors"]
    if isinstance(exc, QuotaExceeded):
        return 429, error_body([exc.item])["errors"]
    assert isinstance(exc, HTTPException)
    return exc.status_code, [{"line": 0, "message": str(exc.detail)}]


def _keep_token(request: Request, response: Response, accepted: RunAccepted) -> None:
    """The run's token, for this browser only and sent only to this run's pages."""
    if accepted.token is not None:
        response.set_cookie(TOKEN_COOKIE, accepted.token, path=f"/runs/{accepted.id}",
                            max_age=7 * 24 * 3600, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")


@router.post("/runs", include_in_schema=False, response_class=HTMLResponse, name="runs_start")
def start_run_page(request: Request, spec: Annotated[str, Form()] = "",
                   page_spec: Annotated[str, Form()] = "", model: Annotated[str, Form()] = "",
                   input: Annotated[str, Form()] = "", page_input: Annotated[str, Form()] = "",
                   dtype: Annotated[str, Form()] = "float32",
                   batch_sizes: Annotated[str, Form()] = "1, 8, 32",
                   mode: Annotated[str, Form()] = "inference",
                   optimizer: Annotated[str, Form()] = "sgd") -> Response:
    """Start a run from the button's form: the progress fragment, or a redirect to its page.

    A zoo model runs at the model page's input: the page's form field (htmx sends it as it is
    now), else the input the page was rendered with."""
    try:
        body = _form_request(spec or page_spec, model, dtype, batch_sizes, mode, optimizer,
                             input or page_input)
        accepted = _submit(get_runs(request), body, request)
    except (ValidationError, SpecError, HTTPException, QuotaExceeded) as exc:
        code, errors = _page_errors(exc)
        refused = _fragment(request, None, errors, code)
        if isinstance(exc, QuotaExceeded):
            refused.headers["Retry-After"] = str(exc.retry)
        return refused
    response: Response
    if not request.headers.get("HX-Request"):
        response = RedirectResponse(request.url_for("runs_page", run_id=accepted.id), 303)
    else:
        found = _known(get_runs(request), accepted.id)
        response = _fragment(request, found.model_copy(update={"cached": accepted.cached}), [],
                             200 if accepted.cached else 202,
                             can_cancel=accepted.token is not None)
    _keep_token(request, response, accepted)
    return response


@router.get("/runs/{run_id}", include_in_schema=False, response_class=HTMLResponse,
            name="runs_page")
def run_page(request: Request, run_id: str,
             token: Annotated[str | None, Cookie(alias=TOKEN_COOKIE)] = None) -> Response:
    """The run's progress (polled every second) and, when done, the comparison; while the queue
    cannot be reached, "reconnecting", still polling."""
    try:
        return _fragment(request, _known(get_runs(request), run_id), [],
                         can_cancel=token is not None)
    except Unavailable:
        return _fragment(request, None, [], 503, reconnecting=run_id)
    except HTTPException as exc:
        code, errors = _page_errors(exc)
        return _fragment(request, None, errors, code, title="No such run" if code == 404
                         else "The run cannot be shown")


@router.post("/runs/{run_id}/cancel", include_in_schema=False, response_class=HTMLResponse,
             name="runs_cancel")
def cancel_run_page(request: Request, run_id: str,
                    token: Annotated[str | None, Cookie(alias=TOKEN_COOKIE)] = None) -> Response:
    """The cancel button: cancel (with the token this browser keeps), then show the run."""
    try:
        found = _known(get_runs(request), run_id, cancel=True, token=token)
    except HTTPException as exc:
        code, errors = _page_errors(exc)
        return _fragment(request, None, errors, code, title="The run was not cancelled")
    if not request.headers.get("HX-Request"):
        return RedirectResponse(request.url_for("runs_page", run_id=run_id), 303)
    return _fragment(request, found, [], can_cancel=True)
