"""The layers import only downward: the engine loads nothing above it, and ``present/`` nothing
of the web, the exports, the command line, the importers, the worker or torch.

Each check runs in a fresh interpreter, so a module that the test process already loaded
cannot hide an import. Every module of each package is imported, not only its ``__init__``,
and the engine is made to work (analysed, rendered to JSON) so a lazy import would show too.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import app.engine
import app.present

ROOT = Path(__file__).resolve().parents[1]
#: what neither the engine nor present/ may load
ABOVE = ("app.web", "app.export", "app.cli", "app.importer", "app.worker", "app.torchnet",
         "torch", "fastapi", "starlette", "jinja2", "httpx", "httpx2")


def _modules(package: object) -> list[str]:
    path = package.__path__  # type: ignore[attr-defined]
    prefix = package.__name__ + "."  # type: ignore[attr-defined]
    return [m.name for m in pkgutil.walk_packages(path, prefix)]


def _loaded_after(imports: list[str], then: str = "") -> list[str]:
    """The modules a fresh interpreter has loaded after importing ``imports`` and running
    ``then``."""
    code = (f"import importlib, json, sys\nfor m in {imports!r}: importlib.import_module(m)\n"
            f"{then}\nprint(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def _under(loaded: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in loaded if any(m == p or m.startswith(p + ".") for p in prefixes)]


def test_the_engine_loads_nothing_above_it() -> None:
    run = ("from app.engine import analyze\nfrom app.engine.result import to_jsonable\n"
           "to_jsonable(analyze('input 8x8x3\\nconv 4 3x3 # params: 112'))")
    loaded = _loaded_after(_modules(app.engine), run)
    assert _under(loaded, (*ABOVE, "app.present")) == []


def test_present_loads_nothing_of_the_web_exports_cli_or_torch() -> None:
    loaded = _loaded_after(_modules(app.present))
    assert _under(loaded, ABOVE) == []
