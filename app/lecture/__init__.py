"""The lecture's worked numbers, each recomputed by the engine and judged.

One :class:`LectureClaim` per row of the reference table (rows 1-19): what the lecture says (its
figure, exactly as said), what the engine computes now (never typed in), a status and the
arithmetic. A figure is read with the precision it is written in ("35K" means to the nearest
thousand, "60M" to the nearest ten million, "3.57" to the hundredth):

    match     the figure equals the computed value, or is it written short: rounded to the
              precision written and within 0.1% of it ("854M" for 854,196,224)
    rounded   the figure is the computed value rounded to the precision written, but further
              than 0.1% from it ("138M" for 138,357,544, "35K" for 34,944)
    differs   anything else

A row with several figures takes the worst status of its parts.

The judging (reading a figure, the statuses, the claim models) is in ``judging``; the rows,
one small function each, are in ``rows``.
"""

from __future__ import annotations

from app.lecture.judging import MATCH_WITHIN, ClaimPart, LectureClaim, judge, read_figure
from app.lecture.rows import ROWS


def lecture_claims() -> list[LectureClaim]:
    """Rows 1-19 of the reference table, recomputed now."""
    return [make() for make in ROWS]


__all__ = ["MATCH_WITHIN", "ClaimPart", "LectureClaim", "judge", "lecture_claims",
           "read_figure"]
