"""``archcalc run``'s failures in the user's words: an unreachable queue, options it refuses;
its answer as soon as the job ends; and no message anywhere that cites an internal issue."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from app.cli import app
from tests.liveserver import free_port

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _run_options() -> set[str]:
    """Every option ``archcalc run`` has, as typed."""
    command = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    return {"--help"} | {name for param in command.params
                         for name in (*param.opts, *param.secondary_opts) if name.startswith("--")}


def test_an_unreachable_broker_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("celery")
    port = free_port()  # nothing listens there
    monkeypatch.setenv("ARCHCALC_BROKER_URL", f"redis://:hunter2@127.0.0.1:{port}/0")
    result = runner.invoke(app, ["run", "lenet5", "--batch", "1"])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"archcalc run: cannot reach the job queue at redis://:**@127.0.0.1:"
                           f"{port}/0 ("), line
    assert "ARCHCALC_BROKER_URL" in line and "internal error" not in line
    assert "hunter2" not in result.output  # the password stays out of the message


@pytest.mark.parametrize("args", [
    ["--batch", "0"],
    [arg for size in range(1, 8) for arg in ("--batch", str(size))],
    ["--batch", "100000"],
    ["--dtype", "int8"],
    ["--mode", "backward"],
], ids=["batch-0", "seven-batches", "batch-too-big", "dtype", "mode"])
def test_option_errors_name_options_that_exist(args: list[str]) -> None:
    pytest.importorskip("celery")
    result = runner.invoke(app, ["run", "lenet5", *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, result.output
    named = {m for line in lines for m in re.findall(r"--[a-z][\w-]*", line)}
    assert named and named <= _run_options(), (named, lines)
    assert args[-2] in named  # the option that was wrong is the one named


def test_the_answer_is_printed_as_soon_as_the_job_ends(tmp_path: Path) -> None:
    """The tables come out within a few seconds of the worker storing the result, before the
    local worker is stopped (whose warm shutdown takes seconds more)."""
    pytest.importorskip("torch")
    pytest.importorskip("celery")
    queue = tmp_path / "queue"
    env = {k: v for k, v in os.environ.items() if k != "ARCHCALC_BROKER_URL"} | {
        "ARCHCALC_EMBEDDED_DIR": str(queue), "ARCHCALC_WARMUP": "0", "ARCHCALC_REPEATS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "app", "run", "lenet5", "--batch", "1",
                             "--wait", "150"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    first_output: list[float] = []
    reader = threading.Thread(target=lambda: (first_output.append(time.time()) if proc.stdout
                                              and proc.stdout.read(1) else None))
    reader.start()
    try:
        proc.wait(180)
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(10)
    exited = time.time()
    assert proc.returncode == 0 and first_output
    log = (queue / "worker.log").read_text()
    (stamp,) = re.findall(r"^\[([\d-]+ [\d:,]+): INFO/\S+\] Task archcalc\.run\[\w+\] succeeded",
                          log, re.MULTILINE)
    succeeded = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()  # local time
    # polling and reading the result take well under a second; the bound leaves room for a
    # loaded two-core machine, and is below the worker's warm shutdown, which must not come first
    assert first_output[0] - succeeded < 4.0, (first_output[0] - succeeded)
    assert first_output[0] < exited


def test_no_message_cites_an_internal_issue() -> None:
    """Users and operators read these files' text; a tracker's issue number means nothing to
    them."""
    pattern = re.compile(r"\bissues?\s*#?\d+", re.IGNORECASE)
    places = [*(ROOT / "app").rglob("*"), *(ROOT / "templates").rglob("*"),
              *(ROOT / "static").rglob("*"), *(ROOT / "scripts").rglob("*"),
              ROOT / "Dockerfile", ROOT / "compose.yaml"]
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for path in places if path.is_file() and path.suffix not in (".pyc", ".whl")
             for n, line in enumerate(path.read_text(errors="ignore").splitlines(), 1)
             if pattern.search(line)]
    assert found == []


def test_a_queue_lost_mid_job_is_asked_again_then_reported(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A short outage is waited out (the job's status comes back); a long one ends the command
    with the same one line as an unreachable queue."""
    import types

    import app.cli.runs
    from app.worker.settings import WorkerSettings

    monkeypatch.setattr(app.cli.runs, "RECONNECT_S", 3.0)  # long enough for the two failed polls
    done = types.SimpleNamespace(status="done", progress=None)
    answers: list[object] = [ConnectionError("Connection refused")] * 2 + [done]

    class Flaky:
        settings = WorkerSettings(broker_url=None, embedded_dir=Path("/nonexistent"))

        def status(self, job_id: str) -> object:
            answer = answers.pop(0) if answers else ConnectionError("Connection refused")
            if isinstance(answer, Exception):
                raise answer
            return answer

    assert app.cli.runs._follow(Flaky(), "job", 60, (ConnectionError,)) is done
    with pytest.raises(app.cli.runs.Failed) as failed:
        app.cli.runs._follow(Flaky(), "job", 60, (ConnectionError,))
    (line,) = failed.value.lines
    assert line.startswith("archcalc run: cannot reach the local job queue in /nonexistent "
                           "(Connection refused)")
