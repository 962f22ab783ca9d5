"""Every extra installs on its own and does what it is for.

For the plain app and each extra (``worker``, ``torch``, ``import``) a bare venv gets the
archcalc wheel with that extra and nothing else, and then starts what the extra is for: the
production server answering ``/healthz`` (and refusing real runs politely), the Redis transport
against a real redis-server, a worker, a real embedded run, the importer.

How it stays fast without proving less: every wheel the union of the extras resolves to is
downloaded once into a wheelhouse (the registry through pip and its cache, as the README's
install does), then each venv is installed by uv from that wheelhouse alone (``--no-index``),
hard-linking what it unpacked once (torch among them). Resolving from the wheelhouse installs
only what the wheel's metadata declares for that extra: a wheel lying in the wheelhouse because
another extra needs it does not reach a venv that did not ask for it, so a missing pin fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.liveserver import free_port, stop, wait_until_ready
from tests.test_wheel import JUNK

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = ("worker", "torch", "import")


def _run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None,
         timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=timeout, check=False)
    if check:
        assert done.returncode == 0, f"{args} failed ({done.returncode}):\n{done.stdout}\n" \
                                     f"{done.stderr}"
    return done


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if found is None:
        pytest.fail("uv is missing: pip install -e '.[test]' installs it")
    return found


class Wheelhouse:
    """The archcalc wheel and every wheel its extras need; venvs made from it alone."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.dir = base / "wheels"
        shutil.copytree(ROOT, base / "source", ignore=JUNK)
        _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
             "-w", self.dir, base / "source")
        (self.wheel,) = self.dir.glob("archcalc-*.whl")
        _run(sys.executable, "-m", "pip", "download", "-q", "-d", self.dir,
             f"archcalc[{','.join(EXTRAS)}] @ {self.wheel.as_uri()}", timeout=600)
        # uv's own cache (kept between runs, like pip's) holds each wheel unpacked once; the
        # venvs hard-link to it, so a second venv with torch costs seconds, not a copy
        self.env = os.environ | {"UV_NO_CONFIG": "1", "UV_LINK_MODE": "hardlink"}
        self._venvs: dict[str, Path] = {}

    def venv(self, extra: str) -> Path:
        """A venv with archcalc[extra] ("" for the plain app); returns its bin folder."""
        if extra not in self._venvs:
            where = self.base / f"venv-{extra or 'plain'}"
            _run(_uv(), "venv", "-q", "--python", sys.executable, where, env=self.env)
            requirement = f"archcalc[{extra}]" if extra else "archcalc"
            _run(_uv(), "pip", "install", "-q", "--python", where / "bin" / "python",
                 "--no-index", "--find-links", self.dir, f"{requirement} @ {self.wheel.as_uri()}",
                 env=self.env, timeout=600)
            self._venvs[extra] = where / "bin"
        return self._venvs[extra]


@pytest.fixture(scope="module")
def wheelhouse() -> Iterator[Wheelhouse]:
    # removed at the end: the venvs hold links to an unpacked torch
    with tempfile.TemporaryDirectory(prefix="archcalc-extras-") as base:
        yield Wheelhouse(Path(base))


def _clean_env(bin_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a user of that venv: none of this checkout, none of the test venv."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
           and (not k.startswith("ARCHCALC_") or k.startswith(("ARCHCALC_RATE", "ARCHCALC_RUNS")))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env | settings


def _installed(bin_dir: Path, *modules: str) -> dict[str, bool]:
    code = ("import importlib.util, json, sys; print(json.dumps({m: importlib.util.find_spec(m) "
            "is not None for m in sys.argv[1:]}))")
    found: dict[str, bool] = json.loads(_run(bin_dir / "python", "-c", code, *modules).stdout)
    return found


def _request(url: str, body: dict[str, object] | None = None) -> tuple[int, dict[str, object]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A folder outside the checkout, so that nothing is imported from it."""
    return tmp_path


@contextmanager
def _serve(bin_dir: Path, tmp: Path, **settings: str) -> Iterator[str]:
    """The production server command of that venv, started outside the checkout."""
    port, log = free_port(), tmp / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([bin_dir / "python", "-m", "app.web.serve", "--port", str(port)],
                                cwd=tmp, env=_clean_env(bin_dir, **settings), stdout=out,
                                stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{base}/healthz", proc, log, seconds=60)
        yield base
    finally:
        stop(proc)


def test_the_plain_app_serves_and_refuses_runs_politely(wheelhouse: Wheelhouse,
                                                        elsewhere: Path) -> None:
    bin_dir = wheelhouse.venv("")
    assert _installed(bin_dir, "fastapi", "torch", "celery") == {
        "fastapi": True, "torch": False, "celery": False}
    with _serve(bin_dir, elsewhere) as base:
        assert _request(f"{base}/healthz")[0] == 200
        status, body = _request(f"{base}/api/runs", {"model": "lenet5"})
        assert status == 503 and "worker" in json.dumps(body), body
        assert _request(f"{base}/readyz")[0] == 503
    assert "usage" in _run(bin_dir / "archcalc", "--help", cwd=elsewhere).stdout.lower()


def test_the_worker_extra_queues_jobs_on_redis(wheelhouse: Wheelhouse, elsewhere: Path) -> None:
    """The web side of a GPU deployment: Celery over Redis, no torch."""
    from app.worker.local import redis_server

    bin_dir = wheelhouse.venv("worker")
    assert _installed(bin_dir, "torch") == {"torch": False}
    assert "--name" in _run(bin_dir / "python", "-m", "app.worker", "--help",
                            env=_clean_env(bin_dir), cwd=elsewhere).stdout
    with redis_server() as url:
        # kombu's Redis transport itself: a message there and back
        code = ("import sys; from kombu import Connection\n"
                "with Connection(sys.argv[1], connect_timeout=5) as c:\n"
                "    q = c.SimpleQueue('archcalc-extras-test'); q.put({'n': 7})\n"
                "    print(q.get(timeout=5).payload['n'])")
        assert _run(bin_dir / "python", "-c", code, url, cwd=elsewhere).stdout.strip() == "7"
        with _serve(bin_dir, elsewhere, ARCHCALC_BROKER_URL=url) as base:
            status, body = _request(f"{base}/readyz")
            assert status == 503 and "no worker" in json.dumps(body), (status, body)
            status, body = _request(f"{base}/api/runs", {"model": "lenet5", "batch_sizes": [1]})
            assert status == 202 and body["status"] == "queued", (status, body)


def _ran(done: subprocess.CompletedProcess[str]) -> None:
    """``archcalc run lenet5`` printed its measured-beside-analytic tables, all agreeing."""
    params = next(line for line in done.stdout.splitlines() if "parameters" in line)
    assert params.count(f"{61_706:,}") == 2 and "yes" in params, done.stdout


def test_the_torch_extra_runs_jobs_embedded_and_as_a_redis_worker(wheelhouse: Wheelhouse,
                                                                  elsewhere: Path) -> None:
    """The extra of a machine that runs jobs: on its own (the embedded worker), and as a GPU
    image's worker on Redis (what the worker image installs, torch and the worker extra)."""
    from app.worker.local import redis_server

    bin_dir = wheelhouse.venv("torch")
    env = _clean_env(bin_dir, ARCHCALC_EMBEDDED_DIR=str(elsewhere / "queue"),
                     ARCHCALC_WARMUP="0", ARCHCALC_REPEATS="1")
    _ran(_run(bin_dir / "archcalc", "run", "lenet5", "--batch", "1", "--wait", "240",
              env=env, cwd=elsewhere, timeout=300))
    with redis_server() as url:
        env = _clean_env(bin_dir, ARCHCALC_BROKER_URL=url, ARCHCALC_WARMUP="0",
                         ARCHCALC_REPEATS="1")
        with (elsewhere / "worker.log").open("wb") as log:
            worker = subprocess.Popen([bin_dir / "python", "-m", "app.worker"], cwd=elsewhere,
                                      env=env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        try:
            done = _run(bin_dir / "archcalc", "run", "lenet5", "--batch", "2", "--wait", "240",
                        env=env, cwd=elsewhere, timeout=300, check=False)
            assert done.returncode == 0, (done.stderr, (elsewhere / "worker.log").read_text())
            _ran(done)
        finally:
            stop(worker)


def test_the_import_extra_imports_a_torchvision_model(wheelhouse: Wheelhouse,
                                                      elsewhere: Path) -> None:
    bin_dir = wheelhouse.venv("import")
    env = _clean_env(bin_dir)
    assert "ONNX" in _run(bin_dir / "archcalc", "import", "--help", env=env,
                          cwd=elsewhere).stdout
    out = elsewhere / "resnet18.spec"
    _run(bin_dir / "archcalc", "import", "resnet18", "--size", "64", "-o", out, env=env,
         cwd=elsewhere, timeout=240)
    shown = _run(bin_dir / "archcalc", "show", out, "--format", "json", env=env, cwd=elsewhere)
    totals = json.loads(shown.stdout)["totals"]
    # the same model's parameters counted by torch, in that venv (torchvision loaded as the
    # importer loads it, whichever build of its compiled ops the machine has)
    count = ("from app.importer.tv import torchvision_models; "
             "print(sum(p.numel() for p in torchvision_models().resnet18().parameters()))")
    assert totals["params"] == int(_run(bin_dir / "python", "-c", count, env=env,
                                        cwd=elsewhere).stdout)
