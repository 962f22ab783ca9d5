"""CSV: one row a layer with the raw numbers, then a ``total`` row; conventions as ``#`` lines.

The values are exact integers without separators (``memory`` in bytes), so a spreadsheet or
``pandas.read_csv(path, comment="#")`` reads them as numbers. The ``total`` row sums the layer
rows' additive columns (weights, biases, params, MACs, activations, memory), which are the
analysis' totals; the others (parameter and training memory, depth) are ``#`` lines above.
"""

from __future__ import annotations

import csv
import io

from app.export.base import Subject, conventions_lines
from app.present.columns import DEFAULT_COLUMNS as TABLE_COLUMNS
from app.present.columns import IDENTITY
from app.present.totals import total_items

#: the columns whose per-layer values add up to a total: column key -> the total's name
ADDITIVE = {"weights": "weights", "biases": "biases", "params": "params", "macs": "macs",
            "flops": "flops", "activations": "activations", "memory": "activation_bytes"}


def render(subject: Subject) -> str:
    """The analysis as CSV text."""
    out = io.StringIO()
    for line in conventions_lines(subject):
        out.write(f"# {line}\n")
    for item in total_items(subject.analysis):
        out.write(f"# total {item.key} = {item.value}: {item.note}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([key for key, _, _ in IDENTITY] + [c.key for c in TABLE_COLUMNS])
    for row in subject.analysis.layers:
        writer.writerow([cell(row) for _, _, cell in IDENTITY]
                        + [c.value(row) for c in TABLE_COLUMNS])
    totals = subject.analysis.totals
    writer.writerow(["total" if key == "name" else "" for key, _, _ in IDENTITY]
                    + [getattr(totals, ADDITIVE[c.key]) if c.key in ADDITIVE else ""
                       for c in TABLE_COLUMNS])
    return out.getvalue()
