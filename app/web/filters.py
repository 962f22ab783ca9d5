"""Jinja filters: the number formats of ``app.present.formats``, by name, for the templates."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import jinja2
from markupsafe import Markup, escape

from app.engine.errors import visible
from app.present.claims import KEY, tally, verdict
from app.present.formats import (
    code_spans,
    compact,
    mebibytes,
    megabytes,
    percent,
    rf_size,
    thousands,
    volume,
)
from app.present.totals import total_items
from app.present.working import to_html

#: working values are frozen and repeat (ResNet-152: 4,644 figures, 358 distinct workings), so
#: their HTML is rendered once each; a page re-renders on every keystroke
_working_html = lru_cache(maxsize=16384)(to_html)


def working(row: Any, key: str) -> Markup:
    """The structured working of one figure of one row as HTML, each term marked up
    (``<var class="term" data-term="K_h" title="K_h: kernel height">11</var>``)."""
    structured = row.working.get(key)
    if structured is not None:
        return Markup(f'<span class="formula">{_working_html(structured)}</span>')
    text = row.formulas.get(key)
    return Markup("") if text is None else Markup(f"<code>{escape(text)}</code>")


def codify(text: object) -> Markup:
    """A message as HTML: each part escaped first, then the parts it quotes in backticks
    marked up as ``<code>``, so a quoted name can never be markup."""
    return Markup("").join(Markup("<code>{}</code>").format(part) if code else escape(part)
                           for part, code in code_spans(str(text)))


def line_anchor(line: int) -> str:
    """The id of a spec line's entry in the editor's gutter."""
    return f"L{line}"


FILTERS: dict[str, Callable[..., str]] = {
    "thousands": thousands, "compact": compact, "volume": volume, "megabytes": megabytes,
    "mebibytes": mebibytes, "rf_size": rf_size, "percent": percent,
    # user text quoted outside an editor: invisible characters written out (a bidi override)
    "visible": visible, "codify": codify,
}
#: functions the templates call (they take more than one argument)
GLOBALS: dict[str, Callable[..., Any]] = {"working": working, "line_anchor": line_anchor,
                                          "escape": escape, "total_items": total_items,
                                          "claim_verdict": verdict, "claim_tally": tally}


def register_filters(env: jinja2.Environment) -> None:
    """Make the filters available to every template."""
    env.filters.update(FILTERS)
    env.globals.update(GLOBALS, claim_key=KEY)
