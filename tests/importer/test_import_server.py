"""Imports against a real server started with the production command
(``python -m app.web.serve``): hostile ONNX files answer 422 and read nothing, imports run
outside the web process (its memory stays flat), a GET link never imports, a full queue
answers 503 with Retry-After, and an import past its deadline is stopped while the server
goes on answering.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")

from tests.importer import hostile_onnx as h
from tests.liveserver import REPO_ROOT, free_port, stop, wait_until_ready


@dataclass
class Server:
    base: str
    pid: int

    def rss(self) -> int:
        """The server process's resident memory, in bytes."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
        return int(kib) * 1024


def _start(log: Path, **settings: str) -> Iterator[Server]:
    port = free_port()
    env = os.environ.copy() | {f"ARCHCALC_{k.upper()}": v for k, v in settings.items()}
    with log.open("wb") as out:  # the production command, one process: its pid is the server
        proc = subprocess.Popen([sys.executable, "-m", "app.web.serve", "--host", "127.0.0.1",
                                 "--port", str(port)], cwd=REPO_ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base + "/healthz", proc, log)
        yield Server(base, proc.pid)
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("import-server") / "server.log"
    yield from _start(log, import_seconds="60", import_processes="1", import_queue="1",
                      rate_burst="1000")


def _send(request: urllib.request.Request, timeout: float = 240) -> tuple[int, Any, dict[str, str]]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            raw = r.read()
            status, headers = r.status, {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        raw, status, headers = e.read(), e.code, {k.lower(): v for k, v in e.headers.items()}
    try:
        return status, json.loads(raw), headers
    except ValueError:
        return status, raw.decode(errors="replace"), headers


def upload(base: str, data: bytes, name: str = "net.onnx") -> tuple[int, Any, dict[str, str]]:
    """POST /api/import with the file in the multipart field ``file``."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode() \
        + data + f"\r\n--{boundary}--\r\n".encode()
    return _send(urllib.request.Request(
        base + "/api/import", data=body, method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}))


def torchvision(base: str, name: str, size: int | None = None) -> tuple[int, Any, dict[str, str]]:
    body = json.dumps({"torchvision": name} | ({"size": size} if size else {})).encode()
    return _send(urllib.request.Request(base + "/api/import", data=body, method="POST",
                                        headers={"Content-Type": "application/json"}))


def message(body: Any) -> str:
    return " ".join(e["message"] for e in body["errors"])


@pytest.mark.parametrize("location", [*h.LOCATIONS, str(REPO_ROOT / "pyproject.toml")])
def test_external_data_in_an_upload_is_never_read(server: Server, location: str) -> None:
    """The server's working directory is the checkout: a relative "pyproject.toml" would be
    its own file. The bytes would come back as the Reshape target's numbers."""
    for make in (h.external_reshape, h.external_constant, h.external_clip_bound):
        status, body, _ = upload(server.base, make(location))
        assert status == 422, (location, body)
        text = message(body)
        assert "external data" in text and "never read" in text, text
        first = (REPO_ROOT / "pyproject.toml").read_bytes()[:8]
        assert str(float(first[0])) not in text.replace("422", "")


def test_a_model_saved_with_external_data_imports_from_the_onnx_file_alone(
        server: Server, tmp_path: Path) -> None:
    import onnx
    from onnx import helper

    m = onnx.load_model_from_string(h.model(
        [h.conv(out="c0"), helper.make_node("Relu", ["c0"], ["y"], name="/act/Relu")],
        [h.conv_weight(out=16)]))
    onnx.save(m, tmp_path / "net.onnx", save_as_external_data=True,
              all_tensors_to_one_file=True, location="net.bin", size_threshold=0)
    status, body, _ = upload(server.base, (tmp_path / "net.onnx").read_bytes())
    assert status == 200, body
    assert body["analysis"]["totals"]["params"] == 16 * 3 * 3 * 3
    assert body["analysis"]["totals"]["macs"] == 16 * 16 * 16 * 3 * 3 * 3


@pytest.mark.parametrize("case", list(h.MALFORMED))
def test_every_malformed_file_is_a_422_naming_it(server: Server, case: str) -> None:
    make, words = h.MALFORMED[case]
    status, body, _ = upload(server.base, make())
    assert status == 422, (case, body)
    for word in words:
        assert word in message(body), (case, message(body))


def test_a_20000_node_chain_is_read_well_within_the_import_deadline(server: Server) -> None:
    """Read whole, then refused by the engine's own size limits (a spec of 20,000 layers is
    over 64 KiB and 5,000 layers): reading is linear in the file, so the import finishes inside
    import_seconds."""
    started = time.monotonic()
    status, body, _ = upload(server.base, h.relu_chain(20_000))
    assert status == 422, body
    assert body["errors"][0]["limit"] in {"max_body_bytes", "max_layers"}, body
    assert time.monotonic() - started < 60


def test_a_get_link_only_fills_in_the_form(server: Server) -> None:
    before = server.rss()
    for _ in range(5):
        status, page, _ = _send(urllib.request.Request(
            server.base + "/import?torchvision=vgg16"))
        assert status == 200
        assert '<option value="vgg16" selected>' in page and "The imported spec" not in page
        assert 'method="post" action="/import"' in page
    assert server.rss() - before < 20 * 2**20


def test_the_form_s_post_imports_the_chosen_model(server: Server) -> None:
    request = urllib.request.Request(server.base + "/import", data=b"torchvision=alexnet",
                                     method="POST")
    status, page, _ = _send(request)
    assert status == 200 and "The imported spec" in page
    import torch  # the count, from the real module

    from app.importer.tv import build
    with torch.no_grad():
        params = sum(p.numel() for p in build("alexnet").parameters())
    assert f"{params:,}" in page


def test_the_server_s_memory_stays_flat_over_many_imports(server: Server) -> None:
    status, body, _ = torchvision(server.base, "alexnet", 64)  # everything lazy is loaded
    assert status == 200, body
    from app.importer.tv import build
    params = sum(p.numel() for p in build("vgg16", meta=True).parameters())
    before = server.rss()
    for _ in range(10):
        status, body, _ = torchvision(server.base, "vgg16", 1024)
        assert status == 200, body
        assert body["analysis"]["totals"]["params"] == params
    grown = server.rss() - before
    assert grown < 64 * 2**20, f"the server grew by {grown:,} bytes"


def test_a_full_queue_answers_503_with_retry_after(server: Server) -> None:
    """One import runs and one waits (import_processes 1, import_queue 1): more at once are
    turned away before any work, with Retry-After; the ones taken finish."""
    answers: list[tuple[int, Any, dict[str, str]]] = []

    def one() -> None:
        answers.append(torchvision(server.base, "regnet_y_400mf", 512))

    threads = [threading.Thread(target=one) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    statuses = sorted(a[0] for a in answers)
    assert statuses.count(503) >= 3 and statuses.count(200) >= 1, statuses
    for status, body, headers in answers:
        if status == 503:
            assert int(headers["retry-after"]) > 0
            assert body["errors"][0]["limit"] == "import_queue"


def test_an_import_past_its_deadline_is_stopped_and_the_server_goes_on(
        tmp_path: Path) -> None:
    # a chain of a hundred thousand nodes takes seconds to read, several times the deadline
    # on any machine, while a one-conv file is read well within it
    for srv in _start(tmp_path / "server.log", import_seconds="1", import_max_nodes="200000"):
        status, body, _ = upload(srv.base, h.relu_chain(100_000))
        assert status == 422, body
        assert body["errors"][0]["limit"] == "import_seconds"
        status, _, _ = _send(urllib.request.Request(srv.base + "/healthz"), timeout=10)
        assert status == 200
        status, body, _ = upload(srv.base, h.conv_attr())
        assert status == 200, body
