"""Pages of a long table: the calculator shows at most about :data:`PAGE_ITEMS` rows at once.

A 54-byte spec (``repeat 2500 { dense { conv 1 3x3 pad 1 } }``) has 7,500 table rows, each with
its cells of working: rendered whole, an 18 MB page. So a page holds a window of the table's
rows, and links to the pages before and after it (``?page=N``, the rest of the URL as it was).
Every zoo model fits on one page. A page ends where a top-level row or block starts, so a block
is not cut in two, unless one block alone is longer than two pages (then it is cut anyway: the
bound on a page's size comes first). The JSON API is never paged: its answer is complete.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from starlette.datastructures import QueryParams

from app.engine.errors import SpecError
from app.present.table import Item, Table

#: rows (lines, block headers, part headings) a page shows at most, about; ResNet-152's table
#: has 263 and the largest zoo model's 309
PAGE_ITEMS = 400


@dataclass(frozen=True, slots=True)
class Pager:
    """Which window of the table a page shows, and the links to the others."""

    number: int
    count: int
    first: int
    last: int
    total: int
    previous_url: str | None
    next_url: str | None


def boundaries(items: list[Item], size: int = PAGE_ITEMS) -> list[int]:
    """The index each page starts at: a page ends once it has ``size`` items and the next one
    is at the top level, or at ``2 * size`` items whatever the next one is."""
    starts = [0]
    for i, item in enumerate(items):
        length = i - starts[-1]
        if (length >= size and not item.groups) or length >= 2 * size:
            starts.append(i)
    return starts


def page_number(params: QueryParams) -> int:
    """``?page=N`` (1 when absent); not a whole number from 1 up is a 422 naming ``page``."""
    raw = params.get("page", "1").strip() or "1"
    if not raw.isdigit() or int(raw) < 1 or len(raw) > 9:
        raise SpecError(f"page: must be a whole number from 1 up; got {raw[:20]!r}",
                        parameter="page")
    return int(raw)


def paged(table: Table, params: QueryParams, path: str) -> tuple[Table, Pager]:
    """The table cut to the page the URL asks for (past the last: the last), and its pager."""
    starts = boundaries(table.items)
    number = min(page_number(params), len(starts))
    start = starts[number - 1]
    end = starts[number] if number < len(starts) else len(table.items)

    def link(n: int) -> str:
        kept = [(k, v) for k, v in params.multi_items() if k != "page"]
        return f"{path}?{QueryParams(kept + ([('page', str(n))] if n > 1 else []))}"

    pager = Pager(number, len(starts), start + 1, end, len(table.items),
                  link(number - 1) if number > 1 else None,
                  link(number + 1) if number < len(starts) else None)
    return replace(table, items=table.items[start:end]), pager
