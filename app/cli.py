"""``archcalc``: the command line, a thin Typer layer over the engine, the zoo and the exports.

    archcalc show vgg16                       a torchinfo-style table
    archcalc show net.spec --format latex     any export (csv, md, latex, json, pytorch)
    archcalc check homework/*.txt             claims checked; exit 1 if any is wrong
    archcalc compare resnet18 resnet50        totals side by side
    archcalc torch resnet18 > resnet18.py     PyTorch code to paste and run
    archcalc serve                            the web app (and its local worker with torch)

``MODEL_OR_FILE`` is a zoo id (``archcalc show --help`` lists them) or a spec file: text in the
spec language, or the JSON form when it ends in ``.json``. Every error is one line naming the
file (or model) and the line, never a traceback. Exit status: 0 all good, 1 a claim is wrong,
2 a file unreadable or a spec invalid (and Typer's usage errors).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from app import zoo
from app.engine import (
    SpecError,
    analyze_network,
    check_input,
    parse_json_spec,
    parse_spec,
)
from app.engine.lines import split_lines
from app.engine.optable import MERGE_ROW_OPS
from app.engine.options import Options
from app.engine.result import ClaimResult, LayerRow
from app.export import FORMATS, Subject, get_format, subject_from_spec
from app.export.base import IDENTITY, TABLE_COLUMNS, conventions_lines, total_items

app = typer.Typer(name="archcalc", no_args_is_help=True, add_completion=False,
                  rich_markup_mode=None,  # usage errors as one plain "Error:" line
                  pretty_exceptions_enable=False,
                  help="CNN architecture calculator: shapes, parameters, MACs, memory and "
                       "receptive fields, layer by layer, with the arithmetic shown.")


def _console(stderr: bool = False) -> Console:
    """Rich output for tables and progress; wide when piped, so a table is never squeezed."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, highlight=False,
                   width=None if stream.isatty() else 160)


def say(line: str, stderr: bool = False) -> None:
    """One plain line (messages are never wrapped or styled, so scripts can read them)."""
    typer.echo(line, err=stderr)


#: more files than this and ``check`` shows a progress bar
PROGRESS_FROM = 8


class Dtype(StrEnum):
    float32 = "float32"
    float16 = "float16"
    bfloat16 = "bfloat16"
    int8 = "int8"


class Optim(StrEnum):
    sgd = "sgd"
    adam = "adam"


class ShowFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    md = "md"
    latex = "latex"
    pytorch = "pytorch"


class Failed(Exception):
    """A problem already worded for people: one line each, then exit ``code``."""

    def __init__(self, lines: list[str], code: int = 2) -> None:
        super().__init__("\n".join(lines))
        self.lines, self.code = lines, code


# --- loading a model or a file -----------------------------------------------------------------

Target = Annotated[str, typer.Argument(metavar="MODEL_OR_FILE",
                                       help="a zoo id (e.g. vgg16) or a spec file (text or .json)")]
InputOpt = Annotated[str | None, typer.Option("--input", metavar="HxWxC",
                                              help="replace the input volume, e.g. 64x64x3")]
DtypeOpt = Annotated[Dtype, typer.Option(help="bytes per value: 4, 2, 2 or 1")]
BatchOpt = Annotated[int, typer.Option(min=1, help="images per batch")]
OptimOpt = Annotated[Optim, typer.Option("--optimizer", help="optimizer state in training memory")]
AuxOpt = Annotated[bool, typer.Option("--aux/--no-aux", help="count auxiliary classifiers")]


@dataclass(frozen=True, slots=True)
class Loaded:
    subject: Subject
    where: str  # the file name or model id errors are reported against


def _options(dtype: Dtype, batch: int, optimizer: Optim, aux: bool) -> Options:
    return Options(dtype=dtype.value, batch=batch, optimizer=optimizer.value, aux=aux)


def _issue_lines(where: str, exc: SpecError) -> list[str]:
    return [f"{'--' + i.parameter if i.parameter else where}:{i.line}: {i.message}"
            for i in exc.issues]


def load(target: str, opts: Options, input: str | None = None) -> Loaded:
    """A zoo model or a spec file, analysed; :class:`Failed` with one line per problem."""
    where = target
    try:
        volume = zoo.parse_volume(input) if input else None
        if volume is not None:
            check_input(volume, 0)
    except SpecError as exc:
        raise Failed([f"--input: {i.message}" for i in exc.issues]) from None
    try:
        if target in zoo.model_ids() and not Path(target).exists():
            analysis = zoo.analyze_model(target, input=volume, dtype=opts.dtype,
                                         batch=opts.batch, optimizer=opts.optimizer,
                                         aux=opts.aux)
            return Loaded(Subject(analysis, zoo.load_network(target, volume), target,
                                  zoo.model_spec(target, volume), zoo.get_model(target).name),
                          where)
        text = _read(Path(target))
        spec: str | dict[str, Any] = _json(target, text) if target.endswith(".json") else text
        name = Path(target).name
        if volume is None:  # every problem of the spec at once
            return Loaded(subject_from_spec(spec, name, dtype=opts.dtype, batch=opts.batch,
                                            optimizer=opts.optimizer, aux=opts.aux), where)
        net = parse_spec(spec) if isinstance(spec, str) else parse_json_spec(spec)
        net = replace(net, input=volume)
        analysis = analyze_network(net, opts)
        return Loaded(Subject(analysis, net, name, text if isinstance(spec, str) else None),
                      where)
    except SpecError as exc:
        raise Failed(_issue_lines(where, exc)) from None


def _read(path: Path) -> str:
    if not path.exists():
        known = ", ".join(zoo.model_ids())
        raise Failed([f"{path}:0: no such file, nor a zoo model (zoo ids: {known})"])
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise Failed([f"{path}:0: cannot read it: {reason}"]) from None


def _json(where: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Failed([f"{where}:{exc.lineno}: not valid JSON: {exc.msg}"]) from None
    if not isinstance(value, dict):
        raise Failed([f"{where}:1: the JSON form is an object with 'input' and 'layers'"])
    return value


@contextmanager
def _reported() -> Iterator[None]:
    """Turn :class:`Failed` into its lines on stderr and its exit status."""
    try:
        yield
    except Failed as exc:
        for line in exc.lines:
            say(line, stderr=True)
        raise typer.Exit(exc.code) from None


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise Failed([f"{output}:0: cannot write it: {exc.strerror or exc}"]) from None
    say(f"wrote {output}", stderr=True)


# --- show --------------------------------------------------------------------------------------


def layer_table(subject: Subject) -> Table:
    """The per-layer table, torchinfo style: names indented by block depth, counts in full."""
    a = subject.analysis
    table = Table(title=f"{subject.title}: {_vol(a.input)} -> {_vol(a.output)}",
                  title_justify="left", header_style="bold")
    identity = [i for i in IDENTITY if i[0] != "block"]
    columns = [c for c in TABLE_COLUMNS if c.key not in ("weights", "biases")]
    for key, title, _ in identity:
        table.add_column(title, justify="right" if key == "index" else "left")
    for c in columns:
        table.add_column(c.title, justify="right" if c.numeric else "left", no_wrap=True)
    for row in a.layers:
        cells = [("  " * row.depth if key == "name" else "") + cell(row)
                 for key, _, cell in identity]
        cells += [c.text(row) for c in columns]
        table.add_row(*cells, style="dim" if row.op in MERGE_ROW_OPS else None)
    return table


def totals_table(subject: Subject) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column(style="dim")
    for item in total_items(subject.analysis):
        value = f"{item.value:,}" if isinstance(item.value, int) else f"{item.value:,.2f}"
        table.add_row(item.label, value, item.note)
    return table


def _vol(v: Any) -> str:
    return f"{v.h}x{v.w}x{v.c}"


@app.command()
def show(target: Target, input: InputOpt = None, dtype: DtypeOpt = Dtype.float32,
         batch: BatchOpt = 1, optimizer: OptimOpt = Optim.sgd, aux: AuxOpt = False,
         format: Annotated[ShowFormat, typer.Option("--format", "-f")] = ShowFormat.table,
         output: Annotated[Path | None, typer.Option("--output", "-o",
                                                     help="write to this file")] = None) -> None:
    """Analyse a model or spec file: a table, or any export (json is POST /api/analyze's)."""
    with _reported():
        loaded = load(target, _options(dtype, batch, optimizer, aux), input)
        if format is not ShowFormat.table:
            _write(get_format(format.value).render(loaded.subject), output)
            return
        console = _console()
        console.print(layer_table(loaded.subject))
        console.print(totals_table(loaded.subject))
        for line in conventions_lines(loaded.subject)[1:3]:
            console.print(line, style="dim", markup=False)
        for w in loaded.subject.analysis.warnings:
            say(f"{loaded.where}:{w.line}: warning: {w.layer}: {w.message}", stderr=True)


@app.command("torch")
def torch_code(target: Target, input: InputOpt = None, aux: AuxOpt = False,
               output: Annotated[Path | None, typer.Option("--output", "-o")] = None) -> None:
    """PyTorch source for a model or spec: one nn.Module class, ready to paste and run."""
    with _reported():
        loaded = load(target, Options(aux=aux), input)
        _write(FORMATS["pytorch"].render(loaded.subject), output)


@app.command("import")
def import_model(
        source: Annotated[str, typer.Argument(help="an ONNX file, a torchvision model name, or "
                                                   "package.module:factory")],
        output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
        size: Annotated[int | None, typer.Option(help="input height and width to trace at")]
        = None) -> None:
    """A model from PyTorch (torch.fx) or ONNX as a spec; every refused node named."""
    from app.importer.cli import import_command

    raise typer.Exit(import_command(source, output, size))


# --- compare -----------------------------------------------------------------------------------


@app.command()
def compare(targets: Annotated[list[str], typer.Argument(metavar="MODEL_OR_FILE...")],
            input: InputOpt = None, dtype: DtypeOpt = Dtype.float32, batch: BatchOpt = 1,
            optimizer: OptimOpt = Optim.sgd) -> None:
    """Totals of several models or spec files side by side."""
    with _reported():
        opts = _options(dtype, batch, optimizer, False)
        subjects = [load(t, opts, input).subject for t in targets]
        table = Table(title=f"{opts.dtype}, batch {opts.batch}, {opts.optimizer}",
                      title_justify="left", header_style="bold")
        table.add_column("total")
        for s in subjects:
            table.add_column(s.title, justify="right")
        table.add_row("input", *(_vol(s.analysis.input) for s in subjects))
        items = [total_items(s.analysis) for s in subjects]
        for i, first in enumerate(items[0][:8]):
            table.add_row(first.label, *(_number(row[i].value) for row in items))
        console = _console()
        console.print(table)
        console.print("MACs are multiply-accumulates per image; memory in bytes "
                      "(MB = 10^6 bytes)", style="dim")


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


# --- check -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wrong:
    line: int
    layer: str
    claim: ClaimResult
    working: str


@dataclass(frozen=True, slots=True)
class Checked:
    claims: int
    wrong: tuple[Wrong, ...]


_WORKING_KEYS = {"output": ("h", "w", "c"), "flops": ("macs",), "activation_bytes":
                 ("activations",)}


def _working(row: LayerRow, field: str) -> str:
    keys = _WORKING_KEYS.get(field, (field,))
    parts = [f"{k.upper() if len(k) == 1 else k}: {row.formulas[k]}" for k in keys
             if k in row.formulas]
    return "; ".join(parts)


def _total_line(source: str, claimed: str) -> int:
    """The line of a whole-network claim: the TOTAL line that carries its text."""
    lines = split_lines(source)
    for n, text in enumerate(lines, start=1):
        if "total" in text.lower() and claimed.lower() in text.lower():
            return n
    return 0


def check_subject(subject: Subject) -> Checked:
    """Every claim of an analysis; the wrong ones with their line and working."""
    a = subject.analysis
    wrong: list[Wrong] = []
    count = 0
    for row in a.layers:
        for claim in row.claims:
            count += 1
            if not claim.ok:
                wrong.append(Wrong(row.line, row.name, claim, _working(row, claim.field)))
    for claim in a.claims:
        count += 1
        if not claim.ok:
            wrong.append(Wrong(_total_line(subject.source or "", claim.claimed), "TOTAL",
                               claim, ""))
    return Checked(count, tuple(wrong))


def _check_one(path: str) -> tuple[Checked | None, list[str]]:
    """(the result, the lines to print) for one file; None when it cannot be checked."""
    try:
        subject = load(path, Options()).subject
    except Failed as exc:
        return None, exc.lines
    checked = check_subject(subject)
    lines = []
    for w in checked.wrong:
        lines.append(f"{path}:{w.line}: {w.layer}: {w.claim.field} {w.claim.claimed!r}: "
                     f"{w.claim.explanation}")
        if w.working and w.working not in w.claim.explanation:
            lines.append(f"    working: {w.working}")
    right = checked.claims - len(checked.wrong)
    lines.append(f"{path}: {checked.claims} claims, {right} right, {len(checked.wrong)} wrong")
    return checked, lines


@app.command()
def check(files: Annotated[list[str], typer.Argument(metavar="FILE...",
                                                     help="homework listings")]) -> None:
    """Check the figures written in listings; exit 1 if any is wrong, 2 if a file is bad."""
    results: list[Checked | None] = []
    with Progress(console=_console(stderr=True), transient=True,
                  disable=len(files) < PROGRESS_FROM) as bar:
        task = bar.add_task("checking", total=len(files))
        for path in files:
            checked, lines = _check_one(path)
            results.append(checked)
            for line in lines:
                say(line, stderr=checked is None)
            bar.advance(task)
    good = [r for r in results if r is not None]
    claims = sum(r.claims for r in good)
    wrong = sum(len(r.wrong) for r in good)
    bad = len(results) - len(good)
    if len(files) > 1:
        say(f"all {len(files)} files: {claims} claims, {claims - wrong} right, {wrong} wrong"
            + (f"; {bad} could not be checked" if bad else ""))
    raise typer.Exit(2 if bad else 1 if wrong else 0)


# --- serve, worker, run ------------------------------------------------------------------------


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


ENABLE_WORKER = "real runs need torch and the worker: pip install -e '.[torch]'"


@app.command()
def serve(host: Annotated[str, typer.Option()] = "127.0.0.1",
          port: Annotated[int, typer.Option()] = 8000) -> None:
    """Start the web app (uvicorn); where torch is installed its local worker starts with it."""
    import uvicorn

    from app.web.serve import uvicorn_options
    from app.web.settings import Settings

    if worker_module() is None:
        say(f"archcalc: the calculator runs without a worker; {ENABLE_WORKER}", stderr=True)
    # the production limits: connections, keep-alive, slow heads, no server banner
    uvicorn.run("app.main:app", host=host, port=port, **uvicorn_options(Settings()))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(ctx: typer.Context,
           name: Annotated[str | None, typer.Option(help="the worker's node name")] = None,
           ) -> None:
    """Start one worker on the configured broker (ARCHCALC_BROKER_URL); one a GPU. Arguments
    after -- go to celery worker."""
    module = worker_module("app.worker.__main__")
    entry = getattr(module, "main", None)
    if entry is None:
        say(f"archcalc worker: not available; {ENABLE_WORKER}", stderr=True)
        raise typer.Exit(2)
    entry((["--name", name] if name else []) + (["--", *ctx.args] if ctx.args else []))


class RunMode(StrEnum):
    inference = "inference"
    training = "training"


#: the run request's fields, as the options of ``archcalc run`` that set them
RUN_OPTIONS = {"batch_sizes": "--batch", "dtype": "--dtype", "mode": "--mode",
               "optimizer": "--optimizer"}
#: how long ``archcalc run`` keeps asking a job queue that stopped answering mid-job
RECONNECT_S = 30.0


def _run_request(target: str, opts: dict[str, Any]) -> Any:
    """The worker's RunRequest: a zoo id as ``model``, a file's contents as ``spec``."""
    models = worker_module("app.worker.models")
    if models is None:
        raise Failed([f"archcalc run: not available; {ENABLE_WORKER}"])
    if target in zoo.model_ids() and not Path(target).exists():
        source: dict[str, Any] = {"model": target}
    else:
        text = _read(Path(target))
        source = {"spec": _json(target, text) if target.endswith(".json") else text}
    try:
        return models.RunRequest(**source, **opts)
    except ValidationError as exc:
        raise Failed([_request_error(target, e) for e in exc.errors()]) from None


def _request_error(target: str, error: Any) -> str:
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


def _unreachable(runs: Any, exc: BaseException) -> Failed:
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


def _follow(runs: Any, job_id: str, wait: float,
            unreachable: tuple[type[BaseException], ...], token: str | None = None) -> Any:
    """Poll the job with a progress bar until it ends (or ``wait`` seconds pass, when a job
    this command made, ``token`` given, is cancelled); a queue that stops answering is asked
    again for :data:`RECONNECT_S` before giving up."""
    deadline = time.monotonic() + wait
    lost_since: float | None = None
    with Progress(console=_console(stderr=True), transient=True) as bar:
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


def _run_tables(result: Any) -> tuple[Table, Table]:
    report = importlib.import_module("app.worker.report")
    totals = Table(title=f"{result.label} on {result.device.name} (torch "
                         f"{result.device.torch_version}), {result.dtype}, {result.mode}",
                   title_justify="left", header_style="bold")
    for title in ("total", "analytic", "measured", "agree"):
        totals.add_column(title, justify="left" if title == "total" else "right")
    for line in report.totals(result):
        agree = {True: "yes", False: "NO", None: ""}[line.agrees]
        totals.add_row(line.what, _number(line.analytic) if line.analytic is not None else "",
                       _number(line.measured) if line.measured is not None else "", agree)
    totals.add_row("layers whose shape, params or FLOPs differ", "", "",
                   str(result.layer_mismatches))
    timings = Table(header_style="bold", caption_justify="left",
                    caption=f"{result.timing_method}; memory: "
                                                 f"{result.memory_method}")
    for title in ("batch", "median ms", "p90 ms", "images/s", "peak memory",
                  "engine's estimate", "ratio"):
        timings.add_column(title, justify="right")
    for t in result.timings:
        ratio = "" if t.memory_ratio is None else f"{t.memory_ratio:.2f}"
        peak = "" if t.peak_bytes is None else f"{t.peak_bytes / 10**6:,.1f} MB"
        timings.add_row(str(t.batch), f"{t.median_ms:.2f}", f"{t.p90_ms:.2f}",
                        f"{t.images_per_s:,.1f}", peak, f"{t.analytic_bytes / 10**6:,.1f} MB",
                        ratio)
    return totals, timings


@app.command()
def run(target: Target,
        dtype: Annotated[str, typer.Option(help="float32, float16 or bfloat16")] = "float32",
        batch: Annotated[list[int] | None, typer.Option(
            help="a batch size to time; repeat for several (default 1)")] = None,
        mode: Annotated[RunMode, typer.Option(help="forward passes or training steps")] = (
            RunMode.inference),
        optimizer: OptimOpt = Optim.sgd,
        wait: Annotated[float, typer.Option(help="seconds to wait for the answer")] = 600.0,
        ) -> None:
    """A real run through the worker: measured shapes, parameters, FLOPs, latency and memory
    beside the engine's. Exit 1 if a measured figure differs from the analytic one."""
    with _reported():
        client = worker_module("app.worker.client")
        settings_module = worker_module("app.worker.settings")
        if client is None or settings_module is None:
            raise Failed([f"archcalc run: not available; {ENABLE_WORKER}"])
        request = _run_request(target, {"dtype": dtype, "batch_sizes": batch or [1],
                                        "mode": mode.value, "optimizer": optimizer.value})
        settings = settings_module.WorkerSettings()
        runs = client.Runs(settings, local_worker=settings.embedded)
        try:  # the answer is printed before the local worker is stopped, which takes seconds
            try:
                accepted = runs.submit(request)
                status = _follow(runs, accepted.id, wait, client.UNREACHABLE, accepted.token)
            except SpecError as exc:
                raise Failed(_run_issue_lines(target, exc)) from None
            except client.UNREACHABLE as exc:
                raise _unreachable(runs, exc) from None
            if status.status != "done":
                raise Failed([f"{target}:0: the run {status.status}: {status.error}"])
            console = _console()
            for table in _run_tables(status.result):
                console.print(table)
            sys.stdout.flush()
            if status.result.layer_mismatches or any(
                    line.agrees is False for line in importlib.import_module(
                        "app.worker.report").totals(status.result)):
                raise typer.Exit(1)
        finally:
            runs.close()


def main() -> None:
    """The console script: run the app; an unexpected error is one line, not a traceback."""
    try:
        app()
    except Exception as exc:  # a bug in archcalc: one line, no traceback
        say(f"archcalc: internal error: {type(exc).__name__}: {exc}", stderr=True)
        raise SystemExit(3) from None
