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

from collections.abc import Iterable

from markupsafe import Markup, escape

from app.engine.result import ClaimResult, LayerRow
from app.web.filters import compact, mebibytes, megabytes, rf_size, thousands, volume, working
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


def _row_working(row: LayerRow, key: str, table: Table) -> Markup:
    """One engine row's working for a column."""
    if key == "flops":
        return Markup("<code>2 × %s = %s</code> (2 × MACs); MACs: %s") % (
            thousands(row.macs), thousands(2 * row.macs), working(row, "macs"))
    if key == "memory":
        per_value = table.bytes_per_image
        value = row_value(row, "memory", per_value)
        return Markup("<code>%s × %s B = %s bytes</code> = %s (%s): activations × bytes a "
                      "value × batch") % (thousands(row.activations), per_value,
                                          thousands(value), megabytes(value), mebibytes(value))
    keys = FORMULA_KEYS.get(key, (key,))
    if len(keys) == 1:
        return working(row, keys[0])
    parts = [Markup('<span class="axis">%s</span> %s') % (_AXIS.get(k, k), working(row, k))
             for k in keys]
    return Markup("<br>").join(parts)


def _contributors(thing: Line | Group, key: str, table: Table) -> list[LayerRow]:
    """The rows whose working a cell shows: for a sum, those that add something."""
    if isinstance(thing, Line):
        rows = thing.rows
        if key not in ADDITIVE:
            return [thing.main]
        adding = [r for r in rows if row_value(r, key, table.bytes_per_image)]
        return adding or [thing.main]
    return [thing.head.main] if thing.head and key not in ADDITIVE else []


def _claims(claims: Iterable[ClaimResult], column: str) -> list[ClaimResult]:
    return [c for c in claims if CLAIM_COLUMN.get(c.field) == column]


def _verdict(claim: ClaimResult) -> Markup:
    word = "right" if claim.ok else "wrong"
    icon = "✓" if claim.ok else "✗"
    return Markup('<span class="claim %s"><span aria-hidden="true">%s</span> %s</span>') % (
        word, icon, word)


def cell(table: Table, thing: Line | Group, key: str, column: str, wid: str) -> Markup:
    """The ``<td>`` of one number cell: figure button, verdicts, working panel."""
    exact, short, title = _figure(table, thing, key)
    rows = _contributors(thing, key, table)
    lines = [Markup('<div><span class="who">%s</span> %s</div>') % (r.name,
                                                                    _row_working(r, key, table))
             for r in rows]
    if isinstance(thing, Group):
        count = len(thing.rows)
        lines.append(Markup("<div>the block's %s rows together: <code>%s</code></div>") % (
            count, exact))
    elif len(rows) > 1:
        lines.append(Markup("<div>together: <code>%s</code></div>") % exact)
    claims = (_claims((c for r in thing.rows for c in r.claims), column)
              if isinstance(thing, Line) else [])
    for c in claims:
        lines.append(Markup('<div class="claim-why">%s claimed <q>%s</q>: %s</div>') % (
            _verdict(c), c.claimed, c.explanation))
    shown = (Markup('<span class="x">%s</span><span class="c">%s</span>') % (exact, short)
             if exact != short else escape(exact))
    title_attr = Markup(' title="%s"') % title if title else Markup("")
    return Markup('<td class="num"><button type="button" class="fig" aria-describedby="%s"%s>'
                  '%s</button>%s<div class="working" id="%s" role="tooltip">%s</div></td>') % (
        wid, title_attr, shown, Markup("").join(_verdict(c) for c in claims), wid,
        Markup("").join(lines))


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
            ("memory", "memory", "memory", "activation memory in MB (10^6 bytes) for the "
                                           "value type and batch"),
            ("rf", "rf", "RF", "receptive field in input pixels")]
