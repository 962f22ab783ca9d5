"""CSV: one row a layer with the raw numbers, then a ``total`` row; conventions as ``#`` lines.

The values are exact integers without separators, so a spreadsheet or
``pandas.read_csv(path, comment="#")`` reads them as numbers. The ``total`` row sums the layer
rows' additive columns (weights, biases, params, MACs, activations), which are the analysis'
totals; the other totals (memory in bytes, depth) follow as ``#`` lines.
"""

from __future__ import annotations

import csv
import io

from app.export._columns import COLUMNS
from app.export.base import Subject, conventions_lines, total_items

#: the columns whose per-layer values add up to a total of the same name
ADDITIVE = ("weights", "biases", "params", "macs", "activations")


def render(subject: Subject) -> str:
    """The analysis as CSV text."""
    out = io.StringIO()
    for line in conventions_lines(subject):
        out.write(f"# {line}\n")
    for item in total_items(subject.analysis):
        out.write(f"# total {item.key} = {item.value}: {item.note}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.key for c in COLUMNS])
    for row in subject.analysis.layers:
        writer.writerow([c.value(row) for c in COLUMNS])
    totals = subject.analysis.totals
    writer.writerow([getattr(totals, c.key) if c.key in ADDITIVE else
                     "total" if c.key == "name" else "" for c in COLUMNS])
    return out.getvalue()
