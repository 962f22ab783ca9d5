"""A class of followers on one server process: how long an instructor's change takes to reach
each of them, whether every answer of a burst is counted, and what a follower costs in memory.

    python benchmarks/bench_classroom.py [--followers 300] [--edits 20] [--answers 300]

It starts the production server (``python -m app.web.serve``) on a free port with its own
session store, opens ``--followers`` event streams (plain sockets, each its own connection and
its own device, spread over 127.0.0.2... so no one client address holds them all), then the
instructor changes the spec once a second; each change carries a marker, and each follower
notes when the event with that marker arrives. Then ``--answers`` students answer one question
within ten seconds, and the count the instructor sees is compared with the number sent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.liveserver import free_port, stop, wait_until_ready  # noqa: E402


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Follower:
    def __init__(self, host: str, port: int, code: str, source: str) -> None:
        self.host, self.port, self.code, self.source = host, port, code, source
        self.seen: dict[str, float] = {}  # marker -> when its state event arrived
        self.ready = asyncio.Event()
        self.failed: str | None = None

    async def run(self) -> None:
        try:
            reader, writer = await asyncio.open_connection(
                self.host, self.port, local_addr=(self.source, 0))
            writer.write(f"GET /live/{self.code}/events HTTP/1.1\r\nHost: x\r\n"
                         "Accept: text/event-stream\r\n\r\n".encode())
            await writer.drain()
            status = await reader.readline()
            if b" 200 " not in status:
                self.failed = status.decode(errors="replace").strip()
                self.ready.set()
                return
            self.ready.set()
            event = b""
            while True:
                line = await reader.readline()
                if not line:
                    return
                if line.startswith(b"event:"):
                    event = line[6:].strip()
                elif event == b"state" and b"bench-marker-" in line:
                    at = line.index(b"bench-marker-") + len(b"bench-marker-")
                    marker = line[at:at + 8].decode()
                    self.seen.setdefault(marker, time.perf_counter())
        except (OSError, asyncio.IncompleteReadError) as exc:
            self.failed = str(exc)
            self.ready.set()


async def classroom(base: str, port: int, args: argparse.Namespace, pid: int) -> None:
    made = json.loads(post(f"{base}/api/live", json.dumps(
        {"spec": "input 227x227x3\nconv 96 11x11 stride 4\nmaxpool 3x3 stride 2"}).encode(),
        {"Content-Type": "application/json"})[1])
    code, key = made["code"], made["key"]
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-www-form-urlencoded"}
    before = rss_kib(pid)
    followers = [Follower("127.0.0.1", port, code, f"127.0.0.{2 + i % 200}")
                 for i in range(args.followers)]
    tasks = [asyncio.create_task(f.run()) for f in followers]
    await asyncio.wait_for(asyncio.gather(*(f.ready.wait() for f in followers)), 60)
    failed = [f.failed for f in followers if f.failed]
    await asyncio.sleep(1.0)
    after = rss_kib(pid)
    print(f"followers connected: {args.followers - len(failed)} of {args.followers}"
          + (f" (first failure: {failed[0]})" if failed else ""))
    print(f"server memory: {before / 1024:.1f} MiB before, {after / 1024:.1f} MiB with the "
          f"followers: {(after - before) / max(1, args.followers):.1f} KiB a follower")

    loop = asyncio.get_running_loop()
    sent: dict[str, float] = {}
    for n in range(args.edits):
        marker = f"{n:08d}"
        spec = (f"input 227x227x3\nconv {96 + n} 11x11 stride 4\nmaxpool 3x3 stride 2\n"
                f"# bench-marker-{marker}")
        body = ("query=" + urllib.parse.quote(urllib.parse.urlencode({"spec": spec}))).encode()
        sent[marker] = time.perf_counter()
        status, _ = await loop.run_in_executor(None, post, f"{base}/live/{code}/state", body,
                                               auth)
        assert status in (200, 303), status
        await asyncio.sleep(1.0)
    await asyncio.sleep(2.0)
    delays = [1000 * (f.seen[m] - t) for m, t in sent.items() for f in followers if m in f.seen]
    missing = sum(1 for m in sent for f in followers if m not in f.seen)
    q = statistics.quantiles(delays, n=100) if len(delays) > 1 else [float("nan")] * 99
    print(f"instructor change -> follower, {len(delays):,} deliveries ({args.edits} edits x "
          f"{args.followers} followers, one edit a second): p50 {q[49]:.0f} ms, "
          f"p95 {q[94]:.0f} ms, max {max(delays, default=float('nan')):.0f} ms; "
          f"missed {missing}")
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    # a question, and a burst of answers, each from its own device
    status, _ = await loop.run_in_executor(None, post, f"{base}/live/{code}/ask",
                                           b"row=1&field=output", auth)
    assert status in (200, 303), status
    with urllib.request.urlopen(f"{base}/api/live/{code}", timeout=10) as r:
        qid = json.loads(r.read())["question"]["id"]

    def answer(i: int) -> int:
        text = "55x55x96" if i % 3 else f"{54 - i % 2}x54x96"
        return post(f"{base}/api/live/{code}/answer",
                    json.dumps({"question": qid, "answer": text}).encode(),
                    {"Content-Type": "application/json"})[0]

    start = time.perf_counter()
    spread = 10.0 / max(1, args.answers)
    futures = []
    for i in range(args.answers):
        futures.append(loop.run_in_executor(None, answer, i))
        await asyncio.sleep(spread)
    statuses = await asyncio.gather(*futures)
    took = time.perf_counter() - start
    with urllib.request.urlopen(f"{base}/api/live/{code}", timeout=10) as r:
        counted = json.loads(r.read())["answers"]
    ok = sum(1 for s in statuses if s == 201)
    print(f"answers: {args.answers} sent in {took:.1f} s, {ok} accepted (201), {counted} counted"
          f"{'' if counted == args.answers else ' -- LOST ' + str(args.answers - counted)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--followers", type=int, default=300)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--answers", type=int, default=300)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = os.environ | {"ARCHCALC_DATA_DIR": f"{tmp}/data",
                            "ARCHCALC_RATE_PER_SECOND": "100000",
                            "ARCHCALC_RATE_BURST": "100000", "ARCHCALC_ANSWER_CACHE_ENTRIES": "0"}
        log = Path(tmp) / "server.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "app.web.serve", "--port", str(port),
                                     ], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(base + "/healthz", proc, log)
            print(f"server: python -m app.web.serve (pid {proc.pid}), one process; "
                  f"load average {os.getloadavg()[0]:.2f}")
            asyncio.run(classroom(base, port, args, proc.pid))
        finally:
            stop(proc)


if __name__ == "__main__":
    main()
