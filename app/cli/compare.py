"""``archcalc compare``: the totals of several models or spec files side by side."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from app.cli.loading import BatchOpt, DtypeOpt, InputOpt, OptimOpt, console, load, reported
from app.engine.options import DEFAULTS, Options
from app.present.formats import volume
from app.present.totals import ALWAYS, total_items


def compare(targets: Annotated[list[str], typer.Argument(metavar="MODEL_OR_FILE...")],
            input: InputOpt = None, dtype: DtypeOpt = DEFAULTS.dtype,
            batch: BatchOpt = DEFAULTS.batch, optimizer: OptimOpt = DEFAULTS.optimizer) -> None:
    """Totals of several models or spec files side by side."""
    with reported():
        opts = Options(dtype=dtype, batch=batch, optimizer=optimizer, aux=False)
        subjects = [load(t, opts, input).subject for t in targets]
        table = Table(title=f"{opts.dtype}, batch {opts.batch}, {opts.optimizer}",
                      title_justify="left", header_style="bold")
        table.add_column("total")
        for s in subjects:
            table.add_column(s.title, justify="right")
        table.add_row("input", *(volume(s.analysis.input) for s in subjects))
        columns = [{i.key: i for i in total_items(s.analysis)} for s in subjects]
        first = columns[0]
        for key in ALWAYS:
            table.add_row(first[key].label, *(c[key].text for c in columns))
        out = console()
        out.print(table)
        out.print("MACs are multiply-accumulates per image; memory in bytes (MB = 10^6 bytes)",
                  style="dim")
