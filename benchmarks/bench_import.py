"""Import costs: reading a 20,000-node ONNX chain, and the web server's memory over repeated
torchvision imports (which run in child processes, app.importer.pool).

    python benchmarks/bench_import.py [--short] [--imports 10]

Prints the chain's size and import time (in this process, median of 3), then starts the
production server (``python -m app.web.serve``), reads its resident memory (VmRSS) after one
small warm-up import, sends ``POST /api/import {"torchvision": "vgg16", "size": 1024}`` N times
and reads it again.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def relu_chain(n: int) -> bytes:
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Relu", [f"v{i}"], [f"v{i + 1}"], name="/act/Relu")
             for i in range(n)]
    graph = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("v0", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info(f"v{n}", TensorProto.FLOAT, None)])
    return helper.make_model(graph).SerializeToString()


def chain_time(n: int, repeat: int) -> None:
    from app.importer.api import import_onnx

    data = relu_chain(n)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = import_onnx(data)
        times.append(time.perf_counter() - started)
    assert result.spec.count(": relu\n") == n
    print(f"ONNX chain of {n:,} Relu nodes ({len(data):,} bytes): imported in "
          f"{statistics.median(times):.2f} s (median of {repeat}, this process)")


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def post(base: str, body: dict[str, object]) -> int:
    request = urllib.request.Request(base + "/api/import", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as r:
        return int(r.status)


def server_memory(imports: int) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "app.web.serve", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=os.environ | {
                                "ARCHCALC_RATE_BURST": "1000"})
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).close()
                break
            except OSError:
                time.sleep(0.1)
        start = rss(proc.pid)
        assert post(base, {"torchvision": "alexnet", "size": 64}) == 200
        warm = rss(proc.pid)
        started = time.perf_counter()
        for _ in range(imports):
            assert post(base, {"torchvision": "vgg16", "size": 1024}) == 200
        took = time.perf_counter() - started
        end = rss(proc.pid)
        print(f"server RSS: {start / 2**20:.0f} MiB started, {warm / 2**20:.0f} MiB after one "
              f"warm-up import, {end / 2**20:.0f} MiB after {imports} x vgg16 at 1024 "
              f"({(end - warm) / 2**20:+.1f} MiB; {took / imports:.2f} s an import)")
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--short", action="store_true", help="a smaller run, for the tests")
    parser.add_argument("--imports", type=int, default=10)
    args = parser.parse_args()
    chain_time(2_000 if args.short else 20_000, 1 if args.short else 3)
    server_memory(2 if args.short else args.imports)


if __name__ == "__main__":
    main()
