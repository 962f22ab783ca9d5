"""``archcalc show``, ``torch`` and ``import``: one model as a table, an export, code or a spec."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from app.cli.loading import (
    AuxOpt,
    BatchOpt,
    DtypeOpt,
    InputOpt,
    OptimOpt,
    OutputOpt,
    Target,
    console,
    load,
    reported,
    say,
    write_out,
)
from app.engine.optable import MERGE_ROW_OPS
from app.engine.options import DEFAULTS, Dtype, Optimizer, Options
from app.export import FORMATS, Subject, get_format
from app.export.base import conventions_lines
from app.present.columns import DEFAULT_COLUMNS, IDENTITY
from app.present.formats import volume
from app.present.totals import total_items


class ShowFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    md = "md"
    latex = "latex"
    pytorch = "pytorch"


#: the terminal is narrower than a page: the params column stands for weights and biases
_IDENTITY = tuple(i for i in IDENTITY if i.key != "block")
_COLUMNS = tuple(c for c in DEFAULT_COLUMNS if c.key not in ("weights", "biases"))


def layer_table(subject: Subject) -> Table:
    """The per-layer table, torchinfo style: names indented by block depth, counts in full."""
    a = subject.analysis
    table = Table(title=f"{subject.title}: {volume(a.input)} -> {volume(a.output)}",
                  title_justify="left", header_style="bold")
    for ident in _IDENTITY:
        table.add_column(ident.title, justify="right" if ident.key == "index" else "left")
    for c in _COLUMNS:
        table.add_column(c.title, justify="right" if c.numeric else "left", no_wrap=True)
    for row in a.layers:
        cells = [("  " * row.depth if i.key == "name" else "") + i.cell(row) for i in _IDENTITY]
        cells += [c.text(row) for c in _COLUMNS]
        table.add_row(*cells, style="dim" if row.op in MERGE_ROW_OPS else None)
    return table


def totals_table(subject: Subject) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column(style="dim")
    for item in total_items(subject.analysis):
        table.add_row(item.label, item.text, item.note)
    return table


def show(target: Target, input: InputOpt = None, dtype: DtypeOpt = DEFAULTS.dtype,
         batch: BatchOpt = DEFAULTS.batch, optimizer: OptimOpt = DEFAULTS.optimizer,
         aux: AuxOpt = DEFAULTS.aux,
         format: Annotated[ShowFormat, typer.Option("--format", "-f")] = ShowFormat.table,
         output: OutputOpt = None) -> None:
    """Analyse a model or spec file: a table, or any export (json is POST /api/analyze's)."""
    with reported():
        loaded = load(target, _options(dtype, batch, optimizer, aux), input)
        if format is not ShowFormat.table:
            write_out(get_format(format.value).render(loaded.subject), output)
            return
        out = console()
        out.print(layer_table(loaded.subject))
        out.print(totals_table(loaded.subject))
        for line in conventions_lines(loaded.subject)[1:3]:
            out.print(line, style="dim", markup=False)
        for w in loaded.subject.analysis.warnings:
            say(f"{loaded.where}:{w.line}: warning: {w.layer}: {w.message}", stderr=True)


def _options(dtype: Dtype, batch: int, optimizer: Optimizer, aux: bool) -> Options:
    return Options(dtype=dtype, batch=batch, optimizer=optimizer, aux=aux)


def torch_code(target: Target, input: InputOpt = None, aux: AuxOpt = DEFAULTS.aux,
               output: Annotated[Path | None, typer.Option("--output", "-o")] = None) -> None:
    """PyTorch source for a model or spec: one nn.Module class, ready to paste and run."""
    with reported():
        loaded = load(target, Options(aux=aux), input)
        write_out(FORMATS["pytorch"].render(loaded.subject), output)


def import_model(
        source: Annotated[str, typer.Argument(help="an ONNX file, a torchvision model name, or "
                                                   "package.module:factory")],
        output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
        size: Annotated[int | None, typer.Option(help="input height and width to trace at")]
        = None) -> None:
    """A model from PyTorch (torch.fx) or ONNX as a spec; every refused node named."""
    # the importer pulls in torch or onnx: loaded only for this command
    from app.importer.cli import import_command

    raise typer.Exit(import_command(source, output, size))
