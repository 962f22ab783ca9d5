"""``archcalc import SOURCE [-o FILE]``: a model as a spec, from the command line.

SOURCE is one of:

* a path to an ``.onnx`` file (read with the ``onnx`` package; nothing is run);
* a torchvision classification model by name (``resnet18``, or ``torchvision:resnet18``);
* a Python factory ``package.module:function`` returning an ``nn.Module`` (the CLI only: this
  imports and runs your code; the web app never does).

The spec goes to FILE, or to standard output. Every refused node is listed on standard error;
the exit status is 0 when nothing was refused, 1 when some nodes were (the spec, with them
marked ``# REFUSED``, is still written), 2 when the model could not be read at all (whatever
went wrong: a model that makes the importer fail is one it could not read, never an internal
error's status).
"""

from __future__ import annotations

import sys
from pathlib import Path

from app.importer.api import ImportFailed, ImportResult, import_factory, import_onnx


def _load(source: str, size: int | None) -> ImportResult:
    path = Path(source)
    if source.lower().endswith(".onnx") or path.is_file():
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImportFailed(f"{source}: {exc.strerror or exc}") from exc
        return import_onnx(data, path.name)
    name = source.removeprefix("torchvision:")
    if ":" not in name:
        from app.importer.api import import_torchvision

        return import_torchvision(name, size)
    return import_factory(source, size or 224)


def import_command(source: str, output: Path | None = None, size: int | None = None) -> int:
    """Import SOURCE, write the spec to OUTPUT (or stdout); returns the exit status."""
    try:
        result = _load(source, size)
    except ImportFailed as exc:
        print(f"archcalc import: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"archcalc import: needs the 'import' extra (pip install 'archcalc[import]'): "
              f"{exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the user's factory, or a model no rule foresaw: unreadable
        print(f"archcalc import: {source}: the model could not be imported: "
              f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if output is None:
        sys.stdout.write(result.spec)
    else:
        output.write_text(result.spec)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for refusal in result.refused:
        print(f"refused: {refusal}", file=sys.stderr)
    return 1 if result.refused else 0
