"""``archcalc check``: the figures written in listings, judged as the calculator page judges
them (``app.present.claims``); the exit status says whether any is wrong."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer
from rich.progress import Progress

from app.cli.loading import Failed, console, load, say
from app.engine.options import Options
from app.export import Subject
from app.present.claims import Judged, Tally, Verdict, judge_all, key, tally

#: more files than this and ``check`` shows a progress bar
PROGRESS_FROM = 8


@dataclass(frozen=True, slots=True)
class Checked:
    """One file's claims: how many of each verdict, and those to show (not right)."""

    tally: Tally
    shown: tuple[Judged, ...]


def check_subject(subject: Subject) -> Checked:
    """Every claim of an analysis; the wrong and the rounded ones with their line and working."""
    judged = judge_all(subject.analysis, subject.source or "")
    return Checked(tally(j.claim for j in judged),
                   tuple(j for j in judged if j.verdict is not Verdict.right))


def _lines(path: str, checked: Checked) -> list[str]:
    lines = []
    for j in checked.shown:
        said = f"{j.verdict}: " if j.verdict is Verdict.rounded else ""
        lines.append(f"{path}:{j.line}: {j.layer}: {j.claim.field} {j.claim.claimed!r}: "
                     f"{said}{j.claim.explanation}")
        if j.verdict is Verdict.wrong and j.working and j.working not in j.claim.explanation:
            lines.append(f"    working: {j.working}")
    lines.append(f"{path}: {checked.tally.claims} claims, {checked.tally.counts()}")
    return lines


def _check_one(path: str) -> tuple[Checked | None, list[str]]:
    """(the result, the lines to print) for one file; None when it cannot be checked."""
    try:
        subject = load(path, Options()).subject
    except Failed as exc:
        return None, exc.lines
    checked = check_subject(subject)
    return checked, _lines(path, checked)


def check(files: Annotated[list[str], typer.Argument(metavar="FILE...",
                                                     help="homework listings")]) -> None:
    """Check the figures written in listings; exit 1 if any is wrong, 2 if a file is bad."""
    results: list[Checked | None] = []
    with Progress(console=console(stderr=True), transient=True,
                  disable=len(files) < PROGRESS_FROM) as bar:
        task = bar.add_task("checking", total=len(files))
        for path in files:
            checked, lines = _check_one(path)
            results.append(checked)
            for line in lines:
                say(line, stderr=checked is None)
            bar.advance(task)
    total = sum((r.tally for r in results if r is not None), Tally())
    bad = sum(r is None for r in results)
    if len(files) > 1:
        say(f"all {len(files)} files: {total.claims} claims, {total.counts()}"
            + (f"; {bad} could not be checked" if bad else ""))
    if total.rounded:
        say(key(icons=False))
    raise typer.Exit(2 if bad else 1 if total.wrong else 0)
