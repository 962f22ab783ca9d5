"""Judging a lecture figure against the engine's exact value, and the claim rows it fills.

A figure is read with the precision it is written in ("35K" means to the nearest thousand,
"60M" to the nearest ten million, "3.57" to the hundredth); see the package docstring for what
``match``, ``rounded`` and ``differs`` mean. A row with several figures takes the worst status
of its parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict

from app.engine import claims
from app.engine.result import VolumeOut

Status = Literal["match", "rounded", "differs"]
Exact = int | Fraction
_ORDER: dict[str, int] = {"match": 0, "rounded": 1, "differs": 2}
_MULT = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9}
_FIGURE = re.compile(r"^(?P<num>\d+(?:\.\d+)?)\s*(?P<mult>[KMG]?)(?:B|x)?$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ClaimPart(_Frozen):
    """One figure of a row: the lecture's, the computed one, and the verdict."""

    what: str
    lecture: str
    computed: int | float | str
    status: Status


class LectureClaim(_Frozen):
    row: int
    claim: str
    where: str
    lecture: str
    computed: int | float | str
    status: Status
    explanation: str
    parts: list[ClaimPart]
    model: str | None = None


@dataclass(frozen=True, slots=True)
class Figure:
    """A figure as written: its value and the place of its last significant digit."""

    text: str
    value: Fraction
    place: Fraction


def read_figure(text: str) -> Figure:
    """'35K' -> 35,000 to the nearest 1,000; '60M' -> to the nearest 10M; '3.57' -> 0.01."""
    m = _FIGURE.match(text.strip())
    if m is None:
        raise ValueError(f"not a figure: {text!r}")
    num, mult = m["num"], _MULT[m["mult"]]
    if "." in num:
        place = Fraction(1, 10 ** len(num.split(".")[1]))
    else:
        significant = num.rstrip("0")
        place = Fraction(10 ** (len(num) - len(significant))) if significant else Fraction(1)
    return Figure(text, Fraction(num) * mult, place * mult)


#: a rounded figure this close to the exact value is the same number written short: the
#: calculator's line, so that a figure gets the same judgement on every page
MATCH_WITHIN = claims.MATCH_WITHIN


def judge(figure: str, exact: Exact) -> Status:
    """Compare a figure as written with the exact value."""
    f = read_figure(figure)
    if f.value == exact:
        return "match"
    gap = abs(Fraction(exact) - f.value)
    if gap > f.place / 2:
        return "differs"
    return "match" if exact and gap <= MATCH_WITHIN * abs(Fraction(exact)) else "rounded"


def part(what: str, figure: str, exact: Exact) -> ClaimPart:
    whole = isinstance(exact, int) or exact.denominator == 1
    value: int | float = int(exact) if whole else float(exact)
    return ClaimPart(what=what, lecture=figure, computed=value, status=judge(figure, exact))


def volume_part(what: str, figure: str, vol: VolumeOut) -> ClaimPart:
    shown = f"{vol.h}x{vol.w}x{vol.c}"
    return ClaimPart(what=what, lecture=figure, computed=shown,
                     status="match" if figure.replace(" ", "") == shown else "differs")


def worst(parts: list[ClaimPart]) -> Status:
    return max((p.status for p in parts), key=_ORDER.__getitem__)


def claim(row: int, text: str, where: str, parts: list[ClaimPart], explanation: str,
          model: str | None = None) -> LectureClaim:
    return LectureClaim(row=row, claim=text, where=where,
                        lecture="; ".join(p.lecture for p in parts), computed=parts[0].computed,
                        status=worst(parts), explanation=explanation, parts=parts, model=model)

