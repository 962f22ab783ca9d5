"""What every export shares: the thing exported and the conventions it states.

An export renders one :class:`Subject` (an analysis and the network it came from) as text. Each
format states how its numbers were counted (MACs or FLOPs, dtype, batch, MB or MiB) in its own
comment syntax; the words come from here, and the definitions themselves from the analysis'
``conventions`` (written once, in the engine).

The columns and the totals the exports list are ``app.present``'s (``columns.IDENTITY``,
``columns.DEFAULT_COLUMNS``, ``totals.total_items``), which the page and the command line show
too. Pure: the engine, ``app.present`` and the standard library only (no web stack, no torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.engine import Analysis, Network, analyze, parse_json_spec, parse_spec
from app.engine.options import DTYPE_BYTES, make_options
from app.present.formats import volume

__all__ = ["Subject", "conventions_lines", "subject_from_spec"]

@dataclass(frozen=True, slots=True)
class Subject:
    """One analysis to export, with what it was computed from.

    ``title`` names it in headers and file names (a zoo id, a file name); ``source`` is the spec
    text when there is one (the PyTorch code keeps its comments); ``network`` is the parsed spec,
    which the code generator walks beside the analysis' rows.
    """

    analysis: Analysis
    network: Network
    title: str
    source: str | None = None
    #: a name for people, e.g. the zoo's "ResNet-18" (the generated class is named after it)
    label: str | None = None


def subject_from_spec(spec: str | dict[str, Any], title: str, *, dtype: str = "float32",
                      batch: int = 1, optimizer: str = "sgd", aux: bool = False) -> Subject:
    """Parse and analyse a spec (text or JSON form) into a :class:`Subject`; a bad spec raises
    the engine's SpecError with every problem found."""
    analysis = analyze(spec, make_options(dtype=dtype, batch=batch, optimizer=optimizer,
                                          aux=aux))
    network = parse_spec(spec) if isinstance(spec, str) else parse_json_spec(spec)
    return Subject(analysis, network, title, spec if isinstance(spec, str) else None)


def conventions_lines(subject: Subject) -> list[str]:
    """The conventions every export states, one plain sentence a line (no comment marks)."""
    a = subject.analysis
    opts = a.options
    bpv = DTYPE_BYTES[opts.dtype]
    aux = "auxiliary classifiers counted" if opts.aux else "auxiliary classifiers not counted"
    lines = [
        (f"archcalc analysis of {subject.title}: input {volume(a.input)}, "
         f"output {volume(a.output)} (H x W x C)"),
        (f"options: dtype {opts.dtype} ({bpv} bytes a value), batch {opts.batch}, "
        f"optimizer {opts.optimizer}, {aux}"),
        ("units: MACs are multiply-accumulates (FLOPs = 2 x MACs); memory in bytes, "
        "MB = 10^6 bytes, MiB = 2^20 bytes"),
    ]
    lines += [f"{key}: {text}" for key, text in a.conventions.items()]
    return lines
