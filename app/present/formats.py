"""Number formats people read: "34,848", "35K", "55x55x96", "61.2 MB" / "58.4 MiB".

The engine hands out raw integers; every renderer (pages, exports, the CLI) formats them here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

_SI_STEPS = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))


def thousands(value: float | None) -> str:
    """34848 -> "34,848"; a float with a fraction keeps two decimals; None -> "—"."""
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def compact(value: float | None) -> str:
    """As the lecture writes numbers: 34,944 -> "35K", 3,211,264 -> "3.2M", 105,415,200 ->
    "105M", 96 -> "96" (decimal prefixes; one decimal below 10 of a unit, none above)."""
    if value is None:
        return "—"
    for step, prefix in _SI_STEPS:
        if abs(value) >= step:
            scaled = value / step
            if abs(scaled) < 9.95:
                text = f"{scaled:.1f}".removesuffix(".0")
            else:
                text = f"{scaled:.0f}"
            return text + prefix
    return thousands(value)


def volume(value: Any) -> str:
    """A volume (object or dict with h, w, c) -> "55x55x96"."""
    get = value.get if isinstance(value, Mapping) else lambda k: getattr(value, k)
    return f"{get('h')}x{get('w')}x{get('c')}"


def significant(value: float, figures: int = 3) -> str:
    """``value`` to ``figures`` significant figures, trailing zeros kept so every number of a
    column reads to the same precision: 0.618348 -> "0.618", 0.004 -> "0.00400", 61.2 ->
    "61.2"; a number with more whole digits keeps them ("1,234"); zero is "0"."""
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(figures - 1 - magnitude, 0)
    rounded = round(value, decimals)
    if rounded and math.floor(math.log10(abs(rounded))) > magnitude:  # 9.996 -> 10.0
        decimals = max(decimals - 1, 0)
    return f"{value:,.{decimals}f}"


def _scaled(value: float, unit: float, name: str) -> str:
    """A byte count in ``unit``, to three significant figures (:func:`significant`)."""
    return f"{significant(value / unit)} {name}"


def megabytes(value: float) -> str:
    """Bytes -> "61.2 MB", "0.0164 MB", "0.300 MB" (1 MB = 10^6 bytes, as on the lecture
    slides), three significant figures whatever the size."""
    return _scaled(value, 10**6, "MB")


def mebibytes(value: float) -> str:
    """Bytes -> "58.4 MiB" (1 MiB = 2^20 bytes, as frameworks report)."""
    return _scaled(value, 2**20, "MiB")


def rf_size(rf: Any) -> str:
    """Receptive field: "7", or "7x3" when height and width differ; where units see
    differently by position, the range over them: "3–4"."""
    spread = getattr(rf, "spread", None)
    h, w = _axis_size(rf.h, spread and spread.h), _axis_size(rf.w, spread and spread.w)
    return h if h == w else f"{h}x{w}"


def _axis_size(axis: Any, spread: Any) -> str:
    if spread is None:
        return str(axis.size)
    lo, hi = spread.smallest, spread.largest
    return str(lo) if lo == hi else f"{lo}–{hi}"


def percent(value: float | None) -> str:
    """0.75 -> "75%"; None -> ""."""
    return "" if value is None else f"{value:.0%}"


def code_spans(text: str) -> list[tuple[str, bool]]:
    """A message cut at its backticks: ``"did you mean `stride`?"`` -> [("did you mean ",
    False), ("stride", True), ("?", False)]. A backtick without its pair stays text."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an odd number of backticks: the last one opens nothing
        parts[-2:] = [parts[-2] + "`" + parts[-1]]
    spans = [(part or "``", bool(part)) if i % 2 else (part, False)
             for i, part in enumerate(parts)]  # an empty pair `` is text
    return [(part, code) for part, code in spans if part]

