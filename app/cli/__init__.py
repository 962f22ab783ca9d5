"""``archcalc``: the command line, a thin Typer layer over the engine, the zoo and the exports.

    archcalc show vgg16                       a torchinfo-style table
    archcalc show net.spec --format latex     any export (csv, md, latex, json, pytorch)
    archcalc check homework/*.txt             claims checked; exit 1 if any is wrong
    archcalc compare resnet18 resnet50        totals side by side
    archcalc torch resnet18 > resnet18.py     PyTorch code to paste and run
    archcalc serve                            the web app (and its local worker with torch)

``MODEL_OR_FILE`` is a zoo id (``archcalc show --help`` lists them) or a spec file: text in the
spec language, or the JSON form when it ends in ``.json``. Every error is one line naming the
file (or model) and the line, never a traceback. Exit status: 0 all good, 1 a claim is wrong,
2 a file unreadable or a spec invalid (and Typer's usage errors).

One module a command group: :mod:`~app.cli.loading` (what they share), :mod:`~app.cli.show`,
:mod:`~app.cli.check`, :mod:`~app.cli.compare` and :mod:`~app.cli.runs`.
"""

from __future__ import annotations

import typer

from app.cli import check, compare, runs, show
from app.cli.loading import say

__all__ = ["app", "main"]

app = typer.Typer(name="archcalc", no_args_is_help=True, add_completion=False,
                  rich_markup_mode=None,  # usage errors as one plain "Error:" line
                  pretty_exceptions_enable=False,
                  help="CNN architecture calculator: shapes, parameters, MACs, memory and "
                       "receptive fields, layer by layer, with the arithmetic shown.")

app.command()(show.show)
app.command("torch")(show.torch_code)
app.command("import")(show.import_model)
app.command()(compare.compare)
app.command()(check.check)
app.command()(runs.serve)
app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
    runs.worker)
app.command()(runs.run)


def main() -> None:
    """The console script: run the app; an unexpected error is one line, not a traceback."""
    try:
        app()
    except Exception as exc:  # a bug in archcalc: one line, no traceback
        say(f"archcalc: internal error: {type(exc).__name__}: {exc}", stderr=True)
        raise SystemExit(3) from None
