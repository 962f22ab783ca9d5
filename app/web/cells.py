"""The HTML of the per-layer table's number cells: the figure, its claims and its working.

Each cell is a button (keyboard focusable) showing the exact figure (34,944) and its compact
form (35K; the style sheet shows one or the other by screen width), the verdict of any claim
written about it (icon and word), and a hidden ``.working`` panel that the style sheet reveals
while the button has focus or the pointer is over it: the formula of each row folded into the
cell, the claims' explanations. Written in Python rather than as a Jinja macro because a
ResNet-152 table has over 4,000 such cells and this runs on every keystroke; every piece of
text goes through ``markupsafe`` escaping.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from markupsafe import Markup, escape

from app.engine.result import ClaimResult, LayerRow
from app.web.filters import (
    compact,
    mebibytes,
    megabytes,
    rf_size,
    thousands,
    volume,
    working,
)
from app.web.table import ADDITIVE, Group, Line, Table, row_value

#: which column shows a claim about each field
CLAIM_COLUMN = {"output": "output", "activations": "activations", "params": "params",
                "weights": "weights", "biases": "biases", "macs": "count", "flops": "count",
                "rf": "rf", "activation_bytes": "memory"}
#: the formula keys behind each column
FORMULA_KEYS = {"output": ("h", "w", "c"), "weights": ("weights",), "biases": ("biases",),
                "params": ("params",), "macs": ("macs",), "activations": ("activations",),
                "rf": ("rf",)}
_AXIS = {"h": "H", "w": "W", "c": "C"}


def _e(text: str) -> str:
    """Escape user text (names, claims) for HTML text and attribute values."""
    return str(escape(text))


def _figure(table: Table, thing: Line | Group, key: str) -> tuple[str, str, str]:
    """(exact text, compact text, title) of one cell."""
    if key == "output":
        out = thing.last.output if isinstance(thing, Line) else thing.output
        text = volume(out)
        return text, text, ""
    if key == "rf":
        row = thing.last if isinstance(thing, Line) else (thing.head.last if thing.head
                                                          else thing.members[-1])
        text = rf_size(row.rf)
        return text, text, ""
    value = table.value(thing, key)
    if key == "memory":
        return megabytes(value), megabytes(value), f"{mebibytes(value)} ({thousands(value)} bytes)"
    return thousands(value), compact(value), ""


def _working(row: LayerRow, key: str) -> str:
    return str(working(row, key))


def _row_working(row: LayerRow, key: str, table: Table) -> str:
    """One engine row's working for a column, as HTML."""
    if key == "flops":
        return (f"<code>2 × {thousands(row.macs)} = {thousands(2 * row.macs)}</code> "
                f"(2 × MACs); MACs: {_working(row, 'macs')}")
    if key == "memory":
        per_value = table.bytes_per_image
        value = row_value(row, "memory", per_value)
        return (f"<code>{thousands(row.activations)} × {per_value} B = {thousands(value)} "
                f"bytes</code> = {megabytes(value)} ({mebibytes(value)}): activations × bytes "
                "a value × batch")
    keys = FORMULA_KEYS.get(key, (key,))
    if len(keys) == 1:
        return _working(row, keys[0])
    return "<br>".join(f'<span class="axis">{_AXIS.get(k, k)}</span> {_working(row, k)}'
                       for k in keys)


def _contributors(thing: Line | Group, key: str, table: Table) -> list[LayerRow]:
    """The rows whose working a cell shows: for a sum, those that add something."""
    if isinstance(thing, Line):
        if key not in ADDITIVE:
            return [thing.main]
        adding = [r for r in thing.rows if row_value(r, key, table.bytes_per_image)]
        return adding or [thing.main]
    return [thing.head.main] if thing.head and key not in ADDITIVE else []


def _verdict(claim: ClaimResult) -> str:
    if claim.ok:
        return '<span class="claim right"><span aria-hidden="true">✓</span> right</span>'
    return '<span class="claim wrong"><span aria-hidden="true">✗</span> wrong</span>'


def cell(table: Table, thing: Line | Group, key: str, column: str, wid: str,
         claims: Iterable[ClaimResult] = ()) -> str:
    """The ``<td>`` of one number cell (HTML): figure button, verdicts, working panel."""
    exact, short, title = _figure(table, thing, key)
    rows = _contributors(thing, key, table)
    lines = [f'<div><span class="who">{_e(r.name)}</span> {_row_working(r, key, table)}</div>'
             for r in rows]
    if isinstance(thing, Group):
        lines.append(f"<div>the block's {len(thing.rows)} rows together: <code>{exact}</code>"
                     "</div>")
    elif len(rows) > 1:
        lines.append(f"<div>together: <code>{exact}</code></div>")
    mine = [c for c in claims if CLAIM_COLUMN.get(c.field) == column]
    verdicts = "".join(_verdict(c) for c in mine)
    for c in mine:
        lines.append(f'<div class="claim-why">{_verdict(c)} claimed <q>{_e(c.claimed)}</q>: '
                     f"{_e(c.explanation)}</div>")
    shown = (f'<span class="x">{exact}</span><span class="c">{short}</span>'
             if exact != short else exact)
    title_attr = f' title="{_e(title)}"' if title else ""
    return (f'<td class="num"><button type="button" class="fig" aria-describedby="{wid}"'
            f'{title_attr}>{shown}</button>{verdicts}<div class="working" id="{wid}" '
            f'role="tooltip">{"".join(lines)}</div></td>')


def row_cells(table: Table, thing: Line | Group, cols: Sequence[tuple[str, str, str, str]],
              prefix: str) -> Markup:
    """Every number cell of one table row, as markup for the template."""
    claims = [c for r in thing.rows for c in r.claims] if isinstance(thing, Line) else []
    return Markup("".join(cell(table, thing, key, column, f"{prefix}{column}", claims)
                          for key, column, _title, _what in cols))


#: the table's columns: (value key, column id, heading, what the heading means)
def columns(count_key: str) -> list[tuple[str, str, str, str]]:
    """The columns shown, with MACs or FLOPs in the count column."""
    count = ("MACs", "multiply-accumulates per image") if count_key == "macs" else (
        "FLOPs", "floating-point operations per image, 2 × MACs")
    return [("output", "output", "output", "output volume H×W×C"),
            ("weights", "weights", "weights", "learnable weights"),
            ("biases", "biases", "biases", "learnable biases"),
            ("params", "params", "params", "weights + biases"),
            (count_key, "count", count[0], count[1]),
            ("activations", "activations", "activations", "values in the output, per image"),
            ("memory", "memory", "memory", ("activation memory in MB (10^6 bytes) for the "
                                           "value type and batch")),
            ("rf", "rf", "RF", "receptive field in input pixels")]
