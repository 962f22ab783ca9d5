"""Jinja filters: the only place where numbers are formatted for people.

The engine hands out raw integers; these turn them into "34,848", "55x55x96", "61.2 MB".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jinja2
from markupsafe import Markup, escape

_SI_STEPS = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))


def thousands(value: float | None) -> str:
    """34848 -> "34,848"; a float with a fraction keeps two decimals; None -> "—"."""
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def compact(value: float | None) -> str:
    """105415200 -> "105.4M", 34944 -> "34.9K", 96 -> "96" (decimal prefixes)."""
    if value is None:
        return "—"
    for step, prefix in _SI_STEPS:
        if abs(value) >= step:
            return f"{value / step:.1f}{prefix}"
    return thousands(value)


def volume(value: Any) -> str:
    """A volume (object or dict with h, w, c) -> "55x55x96"."""
    get = value.get if isinstance(value, Mapping) else lambda k: getattr(value, k)
    return f"{get('h')}x{get('w')}x{get('c')}"


def megabytes(value: float) -> str:
    """Bytes -> "61.2 MB" (1 MB = 10^6 bytes, as on the lecture slides)."""
    return f"{value / 10**6:,.1f} MB"


def mebibytes(value: float) -> str:
    """Bytes -> "58.4 MiB" (1 MiB = 2^20 bytes, as frameworks report)."""
    return f"{value / 2**20:,.1f} MiB"


def rf_size(rf: Any) -> str:
    """Receptive field: "7", or "7x3" when height and width differ."""
    h, w = rf.h.size, rf.w.size
    return str(h) if h == w else f"{h}x{w}"


def percent(value: float | None) -> str:
    """0.75 -> "75%"; None -> ""."""
    return "" if value is None else f"{value:.0%}"


def working(row: Any, key: str) -> Markup:
    """The working of one figure of one row, as HTML: ``row.formulas[key]``, escaped."""
    text = row.formulas.get(key)
    return Markup("") if text is None else Markup(f"<code>{escape(text)}</code>")


def line_anchor(line: int) -> str:
    """The id of a spec line's entry in the editor's gutter."""
    return f"L{line}"


FILTERS: dict[str, Callable[..., str]] = {
    "thousands": thousands, "compact": compact, "volume": volume, "megabytes": megabytes,
    "mebibytes": mebibytes, "rf_size": rf_size, "percent": percent,
}
#: functions the templates call (they take more than one argument)
GLOBALS: dict[str, Callable[..., Any]] = {"working": working, "line_anchor": line_anchor,
                                          "escape": escape}


def register_filters(env: jinja2.Environment) -> None:
    """Make the filters available to every template."""
    env.filters.update(FILTERS)
    env.globals.update(GLOBALS)
