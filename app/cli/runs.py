"""``archcalc serve``, ``worker`` and ``run``: the web app, a worker, and real runs through it.

The worker package and torch are an optional extra: each command here asks
:func:`worker_module` first and, without them, says in one line how to install them. The
worker's modules are imported only after that (the calculator never needs them); their types
are imported for the type checker alone.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from rich.progress import Progress
from rich.table import Table

from app.cli.loading import (
    Failed,
    OptimOpt,
    SpecSource,
    Target,
    console,
    is_zoo_model,
    read_file,
    read_spec,
    reported,
    say,
)
from app.engine import SpecError
from app.engine.options import DEFAULTS
from app.present.totals import total_text

if TYPE_CHECKING:
    from app.worker.client import Runs
    from app.worker.models import RunRequest, RunResult, RunStatus
    from app.worker.report import TotalLine
    from app.worker.settings import WorkerSettings

ENABLE_WORKER = "real runs need torch and the worker: pip install -e '.[torch]'"
#: the run request's fields, as the options of ``archcalc run`` that set them
RUN_OPTIONS = {"batch_sizes": "--batch", "dtype": "--dtype", "mode": "--mode",
               "optimizer": "--optimizer"}
#: how long ``archcalc run`` keeps asking a job queue that stopped answering mid-job
RECONNECT_S = 30.0


def worker_module(name: str = "app.worker") -> ModuleType | None:
    """``app.worker`` (or one of its modules) where torch and the worker package are installed,
    else None. Imported only when asked for: the calculator itself never needs it."""
    if importlib.util.find_spec("torch") is None:
        return None
    try:
        if importlib.util.find_spec("app.worker") is None:
            return None
        return importlib.import_module(name)
    except ImportError:
        return None


@dataclass(frozen=True, slots=True)
class Worker:
    """What ``run`` uses of the worker package, typed."""

    runs: Callable[[WorkerSettings], Runs]
    settings: Callable[[], WorkerSettings]
    request: type[RunRequest]
    totals: Callable[[RunResult], list[TotalLine]]
    unreachable: tuple[type[BaseException], ...]


def _worker() -> Worker:
    """The worker package's parts, or :class:`Failed` saying how to install it."""
    if worker_module("app.worker.client") is None:
        raise Failed([f"archcalc run: not available; {ENABLE_WORKER}"])
    from app.worker import client, models, report, settings

    return Worker(lambda s: client.Runs(s, local_worker=s.embedded), settings.WorkerSettings,
                  models.RunRequest, report.totals, client.UNREACHABLE)


def serve(host: Annotated[str, typer.Option()] = "127.0.0.1",
          port: Annotated[int, typer.Option()] = 8000) -> None:
    """Start the web app (uvicorn); where torch is installed its local worker starts with it."""
    # the web stack is loaded only for this command, so the others start quickly
    import uvicorn

    from app.web.serve import uvicorn_options
    from app.web.settings import Settings

    if worker_module() is None:
        say(f"archcalc: the calculator runs without a worker; {ENABLE_WORKER}", stderr=True)
    # the production limits: connections, keep-alive, slow heads, no server banner
    uvicorn.run("app.main:app", host=host, port=port, **uvicorn_options(Settings()))


def worker(ctx: typer.Context,
           name: Annotated[str | None, typer.Option(help="the worker's node name")] = None,
           ) -> None:
    """Start one worker on the configured broker (ARCHCALC_BROKER_URL); one a GPU. Arguments
    after -- go to celery worker."""
    module = worker_module("app.worker.__main__")
    entry: Callable[[list[str]], object] | None = getattr(module, "main", None)
    if entry is None:
        say(f"archcalc worker: not available; {ENABLE_WORKER}", stderr=True)
        raise typer.Exit(2)
    entry((["--name", name] if name else []) + (["--", *ctx.args] if ctx.args else []))


class RunMode(StrEnum):
    inference = "inference"
    training = "training"


def _run_request(worker: Worker, target: str, opts: dict[str, object]) -> RunRequest:
    """The worker's RunRequest: a zoo id as ``model``, a file's contents as ``spec``."""
    source: dict[str, str | SpecSource]
    if is_zoo_model(target):
        source = {"model": target}
    else:
        source = {"spec": read_spec(target, read_file(Path(target)))}
    try:
        return worker.request.model_validate({**source, **opts})
    except ValidationError as exc:
        raise Failed([_request_error(target, e) for e in exc.errors()]) from None


def _request_error(target: str, error: ErrorDetails) -> str:
    """One validation error as a line naming the option the user typed (and its value)."""
    loc = error["loc"]
    option = RUN_OPTIONS.get(str(loc[0])) if loc else None
    if option is None:
        return f"{target}:0: {error['msg']}"
    shown = f" {error['input']}" if option == "--batch" and len(loc) > 1 else ""
    return f"{option}{shown}: {error['msg']}"


def _run_issue_lines(target: str, exc: SpecError) -> list[str]:
    """A refused run's problems, each naming the option it is about or the spec's line."""
    return [f"{RUN_OPTIONS[i.parameter]}: {i.message}" if i.parameter in RUN_OPTIONS
            else f"{target}:{i.line}: {i.message}" for i in exc.issues]


def _unreachable(runs: Runs, exc: BaseException) -> Failed:
    """The job queue cannot be reached: one line saying where, why, and what to do."""
    settings = runs.settings
    if settings.embedded:
        where = f"the local job queue in {settings.embedded_dir}"
        hint = "check that the folder is writable"
    else:  # as_uri() leaves any password out
        where = f"the job queue at {runs.celery.connection_for_write().as_uri()}"
        hint = ("start it, or correct ARCHCALC_BROKER_URL (unset, runs go to a worker on "
                "this machine)")
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return Failed([f"archcalc run: cannot reach {where} ({reason}); {hint}"])


def _follow(runs: Runs, job_id: str, wait: float,
            unreachable: tuple[type[BaseException], ...], token: str | None = None) -> RunStatus:
    """Poll the job with a progress bar until it ends (or ``wait`` seconds pass, when a job
    this command made, ``token`` given, is cancelled); a queue that stops answering is asked
    again for :data:`RECONNECT_S` before giving up."""
    deadline = time.monotonic() + wait
    lost_since: float | None = None
    with Progress(console=console(stderr=True), transient=True) as bar:
        task = bar.add_task("queued", total=None)
        while True:
            try:
                status = runs.status(job_id)
            except unreachable as exc:
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since > RECONNECT_S:
                    raise _unreachable(runs, exc) from None
                bar.update(task, description="reconnecting to the job queue")
                time.sleep(1.0)
                continue
            lost_since = None
            if status is not None and status.status in ("done", "failed", "cancelled"):
                return status
            if status is not None and status.progress is not None:
                p = status.progress
                bar.update(task, description=p.step, completed=p.done, total=p.total)
            if time.monotonic() > deadline:
                if token is not None:
                    runs.cancel(job_id, token)
                what = ("the job was cancelled" if token is not None
                        else "the job, asked for first by someone else, goes on")
                raise Failed([f"archcalc run: no answer within {wait:g} s; {what} (a worker "
                              "may be missing: archcalc worker)"])
            time.sleep(0.3)


def _run_tables(result: RunResult, totals: list[TotalLine]) -> tuple[Table, Table]:
    table = Table(title=f"{result.label} on {result.device.name} (torch "
                        f"{result.device.torch_version}), {result.dtype}, {result.mode}",
                  title_justify="left", header_style="bold")
    for title in ("total", "analytic", "measured", "agree"):
        table.add_column(title, justify="left" if title == "total" else "right")
    for line in totals:
        agree = {True: "yes", False: "NO", None: ""}[line.agrees]
        table.add_row(line.what, _maybe(line.analytic), _maybe(line.measured), agree)
    table.add_row("layers whose shape, params or FLOPs differ", "", "",
                  str(result.layer_mismatches))
    timings = Table(header_style="bold", caption_justify="left",
                    caption=f"{result.timing_method}; memory: {result.memory_method}")
    for title in ("batch", "median ms", "p90 ms", "images/s", "peak memory",
                  "engine's estimate", "ratio"):
        timings.add_column(title, justify="right")
    for t in result.timings:
        ratio = "" if t.memory_ratio is None else f"{t.memory_ratio:.2f}"
        peak = "" if t.peak_bytes is None else f"{t.peak_bytes / 10**6:,.1f} MB"
        timings.add_row(str(t.batch), f"{t.median_ms:.2f}", f"{t.p90_ms:.2f}",
                        f"{t.images_per_s:,.1f}", peak, f"{t.analytic_bytes / 10**6:,.1f} MB",
                        ratio)
    return table, timings


def _maybe(value: int | None) -> str:
    return "" if value is None else total_text(value)


def run(target: Target,
        dtype: Annotated[str, typer.Option(help="float32, float16 or bfloat16")] = "float32",
        batch: Annotated[list[int] | None, typer.Option(
            help="a batch size to time; repeat for several (default 1)")] = None,
        mode: Annotated[RunMode, typer.Option(help="forward passes or training steps")] = (
            RunMode.inference),
        optimizer: OptimOpt = DEFAULTS.optimizer,
        wait: Annotated[float, typer.Option(help="seconds to wait for the answer")] = 600.0,
        ) -> None:
    """A real run through the worker: measured shapes, parameters, FLOPs, latency and memory
    beside the engine's. Exit 1 if a measured figure differs from the analytic one."""
    with reported():
        worker = _worker()
        request = _run_request(worker, target, {"dtype": dtype, "batch_sizes": batch or [1],
                                                "mode": mode.value, "optimizer": optimizer})
        runs = worker.runs(worker.settings())
        try:  # the answer is printed before the local worker is stopped, which takes seconds
            result = _answer(worker, runs, request, target, wait)
            totals = worker.totals(result)
            out = console()
            for table in _run_tables(result, totals):
                out.print(table)
            sys.stdout.flush()
            if result.layer_mismatches or any(line.agrees is False for line in totals):
                raise typer.Exit(1)
        finally:
            runs.close()


def _answer(worker: Worker, runs: Runs, request: RunRequest, target: str,
            wait: float) -> RunResult:
    """Submit the run and wait for its result; :class:`Failed` if it does not come."""
    try:
        accepted = runs.submit(request)
        status = _follow(runs, accepted.id, wait, worker.unreachable, accepted.token)
    except SpecError as exc:
        raise Failed(_run_issue_lines(target, exc)) from None
    except worker.unreachable as exc:
        raise _unreachable(runs, exc) from None
    if status.status != "done" or status.result is None:
        raise Failed([f"{target}:0: the run {status.status}: {status.error}"])
    return status.result
