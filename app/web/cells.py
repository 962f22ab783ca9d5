"""The HTML of the per-layer table's number cells: the figure, its claims and its working.

Each cell is a button (keyboard focusable) showing the exact figure (34,944) and its compact
form (35K; the style sheet shows one or the other by screen width), with a hidden ``.working``
panel inside it that the style sheet reveals while the button has focus or the pointer is
over the cell: the formula of each row folded into the cell, the claims' explanations; beside
the button, the verdict of any claim written about the figure (icon and word). No element of
a cell has an ``id``: htmx matches every id of a swapped fragment against the old content,
one scan each, which for thousands of cells would cost every keystroke dearly. Written in
Python rather than as a Jinja macro because a ResNet-152 table has over 4,000 such cells and
this runs on every keystroke; every piece of text goes through ``markupsafe`` escaping.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from app.engine.result import ClaimResult, LayerRow
from app.present.claims import verdict
from app.present.columns import BY_KEY, COLUMNS, Column
from app.present.formats import compact, mebibytes, megabytes, thousands
from app.present.table import ADDITIVE, Group, Line, Table, row_value
from app.web.filters import working

#: which column shows a claim about each field
CLAIM_COLUMN = {"output": "output", "activations": "activations", "params": "params",
                "weights": "weights", "biases": "biases", "macs": "count", "flops": "count",
                "rf": "rf", "activation_bytes": "memory"}
_AXIS = {"h": "H", "w": "W", "c": "C"}


@dataclass(frozen=True, slots=True)
class Shown:
    """A table column as the page shows it: the shared definition, and its cell id."""

    column: Column
    #: the cell id suffix; the MACs or FLOPs column is "count" either way
    slot: str

    @property
    def key(self) -> str:
        return self.column.key


def columns(count_key: str) -> list[Shown]:
    """The default columns of ``app.present.columns``, MACs or FLOPs in the count column."""
    shown = [BY_KEY[count_key] if c.key == "macs" else c for c in COLUMNS if c.default]
    return [Shown(c, "count" if c.key in {"macs", "flops"} else c.key) for c in shown]


def _e(text: str) -> str:
    """Escape user text (names, claims) for HTML text and attribute values."""
    return str(escape(text))


def _last(thing: Line | Group) -> LayerRow:
    """The row whose output (and receptive field) a visible row or a block ends with."""
    if isinstance(thing, Line):
        return thing.last
    return thing.head.last if thing.head else thing.members[-1]


def _figure(table: Table, thing: Line | Group, column: Column) -> tuple[str, str, str]:
    """(exact text, compact text, title) of one cell."""
    key = column.key
    if key not in ADDITIVE:  # the output volume, the receptive field: the last row's
        text = column.text(_last(thing))
        return text, text, ""
    value = _total(thing, key)
    if key == "memory":
        return megabytes(value), megabytes(value), f"{mebibytes(value)} ({thousands(value)} bytes)"
    return thousands(value), compact(value), ""


def _total(thing: Line | Group, key: str) -> int:
    """:meth:`Table.value`, summed in one pass: it runs for every number cell of every row
    (a collapsed block's cell sums each of its rows)."""
    total = sum(map(BY_KEY[key].value, thing.rows))  # type: ignore[arg-type]  # ints here
    assert isinstance(total, int), (key, total)
    return total


def _working(row: LayerRow, key: str) -> str:
    return str(working(row, key))


def _row_working(row: LayerRow, key: str, table: Table) -> str:
    """One engine row's working for a column, as HTML."""
    if key == "flops":
        return (f"<code>2 × {thousands(row.macs)} = {thousands(2 * row.macs)}</code> "
                f"(2 × MACs); MACs: {_working(row, 'macs')}")
    if key == "memory":
        per_value = table.bytes_per_image
        value = row_value(row, "memory")
        return (f"<code>{thousands(row.activations)} × {per_value} B = {thousands(value)} "
                f"bytes</code> = {megabytes(value)} ({mebibytes(value)}): activations × bytes "
                "a value × batch")
    keys = BY_KEY[key].working
    if len(keys) == 1:
        return _working(row, keys[0])
    return "<br>".join(f'<span class="axis">{_AXIS.get(k, k)}</span> {_working(row, k)}'
                       for k in keys)


def _contributors(thing: Line | Group, key: str, table: Table) -> list[LayerRow]:
    """The rows whose working a cell shows: for a sum, those that add something."""
    if isinstance(thing, Line):
        if key not in ADDITIVE:
            return [thing.main]
        adding = [r for r in thing.rows if row_value(r, key)]
        return adding or [thing.main]
    return [thing.head.main] if thing.head and key not in ADDITIVE else []


def _verdict(claim: ClaimResult) -> str:
    """The verdict as icon and word (``includes/_claim.html`` writes the same markup)."""
    v = verdict(claim)
    return f'<span class="claim {v}"><span aria-hidden="true">{v.icon}</span> {v}</span>'


def working_html(table: Table, thing: Line | Group, shown: Shown,
                 claims: Iterable[ClaimResult] = ()) -> str:
    """One cell's working (HTML): each contributing row's formula, sums, remarks, claims."""
    key, column = shown.key, shown.slot
    exact, _, _ = _figure(table, thing, shown.column)
    rows = _contributors(thing, key, table)
    lines = [f'<span class="step"><span class="who">{_e(r.name)}</span> '
             f"{_row_working(r, key, table)}</span>" for r in rows]
    if isinstance(thing, Group):
        lines.append(f'<span class="step">the block\'s {len(thing.rows)} rows together: '
                     f"<code>{exact}</code></span>")
    elif len(rows) > 1:
        lines.append(f'<span class="step">together: <code>{exact}</code></span>')
    if key == "output" and isinstance(thing, Line):  # remarks on the size: floors, warnings
        lines.extend(f'<span class="step note"><span aria-hidden="true">⚠</span> {_e(w)}</span>'
                     for r in thing.rows for w in r.warnings)
        lines.extend(f'<span class="step note">note: {_e(n)}</span>'
                     for r in thing.rows for n in r.notes)
    for c in _mine(claims, column):
        lines.append(f'<span class="step claim-why">{_verdict(c)} claimed '
                     f"<q>{_e(c.claimed)}</q>: {_e(c.explanation)}</span>")
    return "".join(lines)


def _mine(claims: Iterable[ClaimResult], column: str) -> list[ClaimResult]:
    return [c for c in claims if CLAIM_COLUMN.get(c.field) == column]


def cell(table: Table, thing: Line | Group, shown: Shown, wid: str,
         claims: Iterable[ClaimResult] = (), inline: bool = True) -> str:
    """The ``<td>`` of one number cell (HTML): figure button, verdicts, and the working panel
    (``inline``; else the page asks for it when it is opened: see :func:`working_of`)."""
    claims = list(claims)
    exact, short, title = _figure(table, thing, shown.column)
    verdicts = "".join(_verdict(c) for c in _mine(claims, shown.slot))
    figure = (f'<span class="x">{exact}</span><span class="c">{short}</span>'
              if exact != short else exact)
    title_attr = f' title="{_e(title)}"' if title else ""
    working = (f'<span class="working">{working_html(table, thing, shown, claims)}</span>'
               if inline else "")
    return (f'<td class="num col-{shown.slot}"><button type="button" class="fig" '
            f'data-cell="{wid}"{title_attr}>{figure}{working}</button>{verdicts}</td>')


def _claims_of(thing: Line | Group) -> list[ClaimResult]:
    return [c for r in thing.rows for c in r.claims] if isinstance(thing, Line) else []


def row_cells(table: Table, thing: Line | Group, cols: Sequence[Shown], prefix: str,
              inline: bool = True) -> Markup:
    """Every number cell of one table row, as markup for the template."""
    claims = _claims_of(thing)
    return Markup("".join(cell(table, thing, shown, f"{prefix}{shown.slot}", claims, inline)
                          for shown in cols))


def working_of(table: Table, cols: Sequence[Shown], cell_id: str) -> Markup | None:
    """The working of the cell a page names (``w12params``, ``g3count``), or None."""
    slots = {s.slot: s for s in cols}
    for item in table.items:
        if isinstance(item, Line):
            prefix = f"w{item.main.index}"
        elif isinstance(item, Group):
            prefix = f"g{item.num}"
        else:
            continue
        if cell_id.startswith(prefix) and cell_id[len(prefix):] in slots:
            shown = slots[cell_id[len(prefix):]]
            return Markup(working_html(table, item, shown, _claims_of(item)))
    return None
