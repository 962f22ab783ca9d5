"""Jinja filters: the number formats of ``app.present.formats``, by name, for the templates."""

from __future__ import annotations

from collections.abc import Callable

import jinja2

from app.present.formats import (
    compact,
    mebibytes,
    megabytes,
    percent,
    rf_size,
    thousands,
    volume,
)

FILTERS: dict[str, Callable[..., str]] = {
    "thousands": thousands, "compact": compact, "volume": volume, "megabytes": megabytes,
    "mebibytes": mebibytes, "rf_size": rf_size, "percent": percent,
}


def register_filters(env: jinja2.Environment) -> None:
    """Make the filters available to every template."""
    env.filters.update(FILTERS)
