"""What every command shares: the options, loading a model or a file, and one-line failures."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from app import zoo
from app.engine import (
    SpecError,
    Volume,
    analyze_network,
    check_input,
    parse_json_spec,
    parse_spec,
)
from app.engine.options import Dtype, Optimizer, Options
from app.export import Subject, subject_from_spec


def console(stderr: bool = False) -> Console:
    """Rich output for tables and progress; wide when piped, so a table is never squeezed."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, highlight=False,
                   width=None if stream.isatty() else 160)


def say(line: str, stderr: bool = False) -> None:
    """One plain line (messages are never wrapped or styled, so scripts can read them)."""
    typer.echo(line, err=stderr)


class Failed(Exception):
    """A problem already worded for people: one line each, then exit ``code``."""

    def __init__(self, lines: list[str], code: int = 2) -> None:
        super().__init__("\n".join(lines))
        self.lines, self.code = lines, code


# the options several commands take; the choices are the engine's own (app.engine.options)
Target = Annotated[str, typer.Argument(metavar="MODEL_OR_FILE",
                                       help="a zoo id (e.g. vgg16) or a spec file (text or .json)")]
InputOpt = Annotated[str | None, typer.Option("--input", metavar="HxWxC",
                                              help="replace the input volume, e.g. 64x64x3")]
DtypeOpt = Annotated[Dtype, typer.Option(help="bytes per value: 4, 2, 2 or 1")]
BatchOpt = Annotated[int, typer.Option(min=1, help="images per batch")]
OptimOpt = Annotated[Optimizer, typer.Option("--optimizer",
                                             help="optimizer state in training memory")]
AuxOpt = Annotated[bool, typer.Option("--aux/--no-aux", help="count auxiliary classifiers")]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="write to this file")]

#: a spec as read from a file: text, or the JSON form
SpecSource = str | dict[str, Any]


@dataclass(frozen=True, slots=True)
class Loaded:
    subject: Subject
    where: str  # the file name or model id errors are reported against


def issue_lines(where: str, exc: SpecError) -> list[str]:
    """A refused spec's problems, one line each naming the option or the file's line."""
    return [f"{'--' + i.parameter if i.parameter else where}:{i.line}: {i.message}"
            for i in exc.issues]


def is_zoo_model(target: str) -> bool:
    """A zoo id, unless a file of that name is here (the file wins)."""
    return target in zoo.model_ids() and not Path(target).exists()


def load(target: str, opts: Options, input: str | None = None) -> Loaded:
    """A zoo model or a spec file, analysed; :class:`Failed` with one line per problem."""
    volume = _input_volume(input)
    try:
        if is_zoo_model(target):
            analysis = zoo.analyze_model(target, input=volume, dtype=opts.dtype,
                                         batch=opts.batch, optimizer=opts.optimizer,
                                         aux=opts.aux)
            return Loaded(Subject(analysis, zoo.load_network(target, volume), target,
                                  zoo.model_spec(target, volume), zoo.get_model(target).name),
                          target)
        text = read_file(Path(target))
        spec = read_spec(target, text)
        name = Path(target).name
        if volume is None:  # every problem of the spec at once
            return Loaded(subject_from_spec(spec, name, dtype=opts.dtype, batch=opts.batch,
                                            optimizer=opts.optimizer, aux=opts.aux), target)
        net = parse_spec(spec) if isinstance(spec, str) else parse_json_spec(spec)
        net = replace(net, input=volume)
        analysis = analyze_network(net, opts)
        return Loaded(Subject(analysis, net, name, text if isinstance(spec, str) else None),
                      target)
    except SpecError as exc:
        raise Failed(issue_lines(target, exc)) from None


def _input_volume(input: str | None) -> Volume | None:
    """``--input`` read and checked, or None when not given."""
    try:
        volume = zoo.parse_volume(input) if input else None
        if volume is not None:
            check_input(volume, 0)
    except SpecError as exc:
        raise Failed([f"--input: {i.message}" for i in exc.issues]) from None
    return volume


def read_file(path: Path) -> str:
    if not path.exists():
        known = ", ".join(zoo.model_ids())
        raise Failed([f"{path}:0: no such file, nor a zoo model (zoo ids: {known})"])
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise Failed([f"{path}:0: cannot read it: {reason}"]) from None


def read_spec(where: str, text: str) -> SpecSource:
    """The spec a file holds: the JSON form when its name ends in ``.json``, else the text."""
    if not where.endswith(".json"):
        return text
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Failed([f"{where}:{exc.lineno}: not valid JSON: {exc.msg}"]) from None
    if not isinstance(value, dict):
        raise Failed([f"{where}:1: the JSON form is an object with 'input' and 'layers'"])
    return value


@contextmanager
def reported() -> Iterator[None]:
    """Turn :class:`Failed` into its lines on stderr and its exit status."""
    try:
        yield
    except Failed as exc:
        for line in exc.lines:
            say(line, stderr=True)
        raise typer.Exit(exc.code) from None


def write_out(text: str, output: Path | None) -> None:
    """``text`` to the file ``output``, or to standard output."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise Failed([f"{output}:0: cannot write it: {exc.strerror or exc}"]) from None
    say(f"wrote {output}", stderr=True)
