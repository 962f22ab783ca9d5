"""An installed wheel serves its pages: templates/ and static/ ship inside it (see setup.py).

The wheel is built from a copy of the source tree (so no build/ folder is left here, and none
left from an earlier build can leak stale files into it), installed with its declared runtime
dependencies into a clean venv (no system site-packages, no editable archcalc), and served by
uvicorn started from an empty folder, so that nothing can be found relative to a checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.liveserver import free_port, stop, wait_until_ready

ROOT = Path(__file__).resolve().parents[1]
#: what a build never needs: caches, venvs, earlier builds, the tests
JUNK = shutil.ignore_patterns(".git", ".venv", "venv", "build", "dist", "*.egg-info",
                              "__pycache__", "*.pyc", ".*_cache", ".hypothesis", "tests",
                              "benchmarks", "node_modules")


def _run(*args: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers.get("content-type", ""), response.read()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=JUNK)
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", tmp / "dist", source)
    (built,) = (tmp / "dist").glob("archcalc-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean venv with the wheel and its declared dependencies; returns its python."""
    where = tmp_path_factory.mktemp("venv") / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", where)
    python = where / "bin" / "python"
    # this venv's pip, run on the new interpreter: the dependencies come from the registry
    # (pip's cache makes a second run fast), exactly as the wheel's metadata asks for them
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", wheel)
    return python


@pytest.fixture(scope="module")
def served(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn from the venv, started in an empty folder; yields its base URL."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ARCHCALC_") and k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    port = free_port()
    log = elsewhere / "uvicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([venv, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
                                 "--port", str(port)], cwd=elsewhere, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{base}/openapi.json", proc, log)
        yield base
    finally:
        stop(proc)


def test_the_wheel_holds_every_template_and_static_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, package in (("templates", "app/_templates"), ("static", "app/_static")):
        shipped = {f"{package}/{p.relative_to(ROOT / folder).as_posix()}"
                   for p in (ROOT / folder).rglob("*") if p.is_file()}
        assert shipped and shipped <= names, sorted(shipped - names)


def test_the_wheel_holds_every_module(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "app").rglob("*.py")}
    assert modules <= names, sorted(modules - names)


def test_installed_app_finds_its_installed_files(venv: Path, tmp_path: Path) -> None:
    code = ("import app, app.web.settings as s; t = s.Settings(); "
            "print(app.__file__); print(t.templates_dir); print(t.static_dir)")
    module, templates, static = _run(venv, "-c", code, cwd=tmp_path).split()
    site = Path(module).parent
    assert Path(module).is_relative_to(venv.parents[1]), module
    assert Path(templates) == site / "_templates" and Path(static) == site / "_static"


def test_installed_app_serves_the_page_and_its_css(served: str) -> None:
    status, kind, body = _get(f"{served}/")
    assert status == 200 and kind.startswith("text/html"), (status, kind)
    links = re.findall(r'<link[^>]+href="([^"]+\.css)"', body.decode())
    assert links, body[:500]
    status, kind, css = _get(f"{served}{links[0]}")
    assert status == 200 and kind.startswith("text/css"), (status, kind)
    assert css == (ROOT / "static" / Path(links[0]).name).read_bytes()
