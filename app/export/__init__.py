"""Exports: one module a format, and a registry by name.

Every format renders a :class:`~app.export.base.Subject` (an analysis and the network it came
from) to text and states its conventions (MACs or FLOPs, dtype, batch, MB or MiB) in its own
comment syntax. ``get_format("md")`` finds a format by name or alias; ``for_accept(header)`` by
an HTTP ``Accept`` header.

=========  ======================  ==========  ============================================
name       media type              suffix      what
=========  ======================  ==========  ============================================
csv        text/csv                .csv        raw numbers a row, ``#`` conventions, total row
md         text/markdown           .md         pipe tables with thousands separators
latex      application/x-latex     .tex        a document with booktabs tables and working
json       application/json        .json       exactly what ``POST /api/analyze`` answers
pytorch    text/x-python           .py         one ``nn.Module`` class, pasted and run
=========  ======================  ==========  ============================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.export import csv, json, latex, markdown, pytorch
from app.export.base import Subject, subject_from_spec

__all__ = ["FORMATS", "Format", "Subject", "UnknownFormat", "for_accept", "get_format",
           "subject_from_spec"]


@dataclass(frozen=True, slots=True)
class Format:
    """One export format: its name, aliases, media type, file suffix and renderer."""

    name: str
    media_type: str
    suffix: str
    render: Callable[[Subject], str]
    aliases: tuple[str, ...] = ()

    def filename(self, title: str) -> str:
        """A download name: the title's safe characters and the suffix."""
        stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in title) or "archcalc"
        return stem + self.suffix


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("csv", "text/csv", ".csv", csv.render),
    Format("md", "text/markdown", ".md", markdown.render, ("markdown",)),
    Format("latex", "application/x-latex", ".tex", latex.render, ("tex",)),
    Format("json", "application/json", ".json", json.render),
    Format("pytorch", "text/x-python", ".py", pytorch.render, ("py", "torch", "python")),
)}


class UnknownFormat(ValueError):
    """No export format has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown format '{name}'; expected one of {', '.join(FORMATS)}")


def get_format(name: str) -> Format:
    """A format by its name or an alias (case-insensitive)."""
    key = name.strip().lower()
    for fmt in FORMATS.values():
        if key == fmt.name or key in fmt.aliases:
            return fmt
    raise UnknownFormat(name)


def for_accept(header: str | None) -> Format | None:
    """The first format an ``Accept`` header names by media type (None if it names none)."""
    for part in (header or "").split(","):
        media = part.split(";")[0].strip().lower()
        for fmt in FORMATS.values():
            if media == fmt.media_type:
                return fmt
    return None
