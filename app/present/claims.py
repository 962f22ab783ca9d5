"""The judgement of a checked claim, as every renderer states it: right, rounded or wrong.

The engine checks a figure with the precision it is written in (``app.engine.claims``) and
says whether it agrees (``ok``) and whether it agrees only to that precision (``rounded``:
"35K" for 34,944, further than 0.1% away). This module turns that into the one verdict the
calculator page, the live sessions and ``archcalc check`` all show, with the same word, icon
and tally, and finds where each claim was written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from app.engine.lines import split_lines
from app.engine.result import Analysis, ClaimResult, LayerRow

__all__ = ["KEY", "Judged", "Tally", "Verdict", "judge_all", "key", "tally", "verdict"]


class Verdict(StrEnum):
    right = "right"
    rounded = "rounded"
    wrong = "wrong"

    @property
    def icon(self) -> str:
        """Shown beside the word, never instead of it (meaning is never the icon alone)."""
        return _ICONS[self]


_ICONS = {Verdict.right: "✓", Verdict.rounded: "≈", Verdict.wrong: "✗"}


def key(icons: bool = True) -> str:
    """What the three verdicts mean, in one sentence (the lecture page reads figures the same
    way); the icons left out where the verdicts are written as words alone."""
    right, rounded, wrong = ((f"{v.icon} {v}" if icons else str(v)) for v in Verdict)
    return (f"A figure is read with the precision it is written in: {right} when equal or the "
            f"same number written short (within 0.1%), {rounded} when right only to the "
            f"precision written, {wrong} otherwise.")


#: the key as the pages show it
KEY = key()


def verdict(claim: ClaimResult) -> Verdict:
    """Right, rounded (right only to the precision written) or wrong."""
    if not claim.ok:
        return Verdict.wrong
    return Verdict.rounded if claim.rounded else Verdict.right


@dataclass(frozen=True, slots=True)
class Tally:
    right: int = 0
    rounded: int = 0
    wrong: int = 0

    @property
    def claims(self) -> int:
        return self.right + self.rounded + self.wrong

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.right + other.right, self.rounded + other.rounded,
                     self.wrong + other.wrong)

    def counts(self) -> str:
        """ "11 right, 2 wrong"; the rounded ones named only when there are some."""
        rounded = f"{self.rounded} rounded, " if self.rounded else ""
        return f"{self.right} right, {rounded}{self.wrong} wrong"


def tally(claims: Iterable[ClaimResult]) -> Tally:
    counts = {v: 0 for v in Verdict}
    for claim in claims:
        counts[verdict(claim)] += 1
    return Tally(counts[Verdict.right], counts[Verdict.rounded], counts[Verdict.wrong])


@dataclass(frozen=True, slots=True)
class Judged:
    """A claim with where it was written: its line, its layer ("TOTAL" for the whole network)
    and the working of the figure it is about, as plain text."""

    line: int
    layer: str
    claim: ClaimResult
    working: str

    @property
    def verdict(self) -> Verdict:
        return verdict(self.claim)


#: the figures whose working explains a claim about a field, where they differ from it
_WORKING_KEYS = {"output": ("h", "w", "c"), "flops": ("macs",),
                 "activation_bytes": ("activations",)}


def _working(row: LayerRow, field: str) -> str:
    keys = _WORKING_KEYS.get(field, (field,))
    return "; ".join(f"{k.upper() if len(k) == 1 else k}: {row.formulas[k]}" for k in keys
                     if k in row.formulas)


def _total_line(lines: Sequence[str], claimed: str) -> int:
    """The line of a whole-network claim: the TOTAL line that carries its text (0 if none)."""
    for n, text in enumerate(lines, start=1):
        if "total" in text.lower() and claimed.lower() in text.lower():
            return n
    return 0


def judge_all(analysis: Analysis, source: str = "") -> list[Judged]:
    """Every claim of an analysis in reading order: the lines' claims, then the whole
    network's (found on the spec text ``source`` by their TOTAL line)."""
    out = [Judged(row.line, row.name, claim, _working(row, claim.field))
           for row in analysis.layers for claim in row.claims]
    if analysis.claims:
        lines = split_lines(source)
        out += [Judged(_total_line(lines, c.claimed), "TOTAL", c, "") for c in analysis.claims]
    return out
