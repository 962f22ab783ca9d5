"""Jinja filters: the number formats of ``app.present.formats``, by name, for the templates."""

from __future__ import annotations

from collections.abc import Callable

import jinja2
from markupsafe import Markup, escape

from app.present.formats import (
    compact,
    mebibytes,
    megabytes,
    percent,
    rf_size,
    thousands,
    volume,
)

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
