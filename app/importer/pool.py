"""Imports run in a child process each, never in the web process.

Tracing a torchvision model builds its weights and runs fx's shape propagation, and reading an
ONNX file parses whatever an upload holds: both take seconds and up to gigabytes, and the
memory a Python process takes is not given back to the system. So every import runs in a
process of its own, forked from a *fork server* that has torch, torchvision and onnx imported
already (``multiprocessing``'s ``forkserver`` start method, its modules preloaded): a fork
costs milliseconds, the child starts with nothing of the web process in it, and when it exits
all it took is returned. Each child

* has its address space capped at what it started with plus ``memory_bytes``
  (``RLIMIT_AS``): past it allocations fail, and the import is refused naming the limit;
* is killed when it has not answered within ``seconds`` (and limited to as much CPU time, so
  a child outlives neither its deadline nor a web process that died);
* sends back the spec text, the refusals and the notes, nothing else.

:class:`ImportPool` runs at most ``processes`` children at once and lets at most ``queue``
more imports wait for a place; past that it raises :class:`ImportBusy` (a 503 with
``Retry-After``) before any work. A pool of fresh processes was chosen over the job queue
(Celery) because an import is interactive and must answer within seconds whether or not a
worker runs, and over a pool of long-lived processes because those keep what one import
allocated for the next, and a killed one would have to import torch again.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import resource
import sys
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from app.engine.errors import LimitError
from app.importer.api import ImportFailed, ImportResult

#: the modules the fork server imports once, so that every child starts with them
PRELOAD = ["app.importer.preload"]


@dataclass(frozen=True, slots=True)
class PoolLimits:
    #: imports that run at once, each in its own process
    processes: int = 1
    #: imports that may wait for a place; past it, ImportBusy
    queue: int = 4
    #: how long one import may take before its process is killed
    seconds: float = 60.0
    #: address space a child may add to what it started with, in bytes
    memory_bytes: int = 4 * 2**30
    #: the 503's Retry-After, in seconds
    retry_after: int = 10


class ImportBusy(Exception):
    """Every import place is taken and the queue is full."""


class ImportUnavailable(ImportError):
    """The child lacks a module the import needs (the ``import`` extra)."""


@dataclass(frozen=True, slots=True)
class TorchvisionJob:
    name: str
    size: int | None

    def __call__(self) -> ImportResult:
        from app.importer.api import import_torchvision

        return import_torchvision(self.name, self.size)


@dataclass(frozen=True, slots=True)
class OnnxJob:
    data: bytes
    source: str
    max_bytes: int
    max_nodes: int

    def __call__(self) -> ImportResult:
        from app.importer.api import import_onnx

        return import_onnx(self.data, self.source, self.max_bytes, self.max_nodes)


Job = TorchvisionJob | OnnxJob


class ImportPool:
    """Runs import jobs in child processes under :class:`PoolLimits` (see the module's doc)."""

    def __init__(self, limits: PoolLimits) -> None:
        self.limits = limits
        self._places = threading.BoundedSemaphore(limits.processes)
        self._pending = 0
        self._lock = threading.Lock()

    async def run(self, job: Job) -> ImportResult:
        """The job's result; ImportBusy when the queue is full, ImportFailed or LimitError
        when the import is refused."""
        with self._lock:
            if self._pending >= self.limits.processes + self.limits.queue:
                raise ImportBusy(f"{self.limits.processes} import(s) are running and "
                                 f"{self.limits.queue} waiting, the most this server takes "
                                 f"(import_processes, import_queue); try again in "
                                 f"{self.limits.retry_after} s")
            self._pending += 1
        loop = asyncio.get_running_loop()
        done: asyncio.Future[ImportResult] = loop.create_future()

        def work() -> None:
            try:
                with self._places:
                    result = run_in_child(job, self.limits)
            except BaseException as exc:  # handed to the request, whatever it is
                loop.call_soon_threadsafe(_settle, done, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, done, result, None)
            finally:
                with self._lock:
                    self._pending -= 1

        # A daemon thread: waiting is bounded by the child's deadline, and a server told to
        # stop must not wait for a thread to be joined.
        threading.Thread(target=work, name="archcalc-import", daemon=True).start()
        return await done


def _settle(done: asyncio.Future[ImportResult], result: ImportResult | None,
            error: BaseException | None) -> None:
    if done.cancelled():
        return
    if error is not None:
        done.set_exception(error)
    else:
        assert result is not None
        done.set_result(result)


_context: list[Any] = []


def _forkserver() -> Any:
    if not _context:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([*PRELOAD, *_main_module()])
        _context.append(ctx)
    return _context[0]


def warm_up() -> None:
    """Start the fork server now (it loads torch, torchvision and onnx in its own process,
    which takes seconds), so that the first import does not wait for it. Returns at once."""
    from multiprocessing import forkserver

    _forkserver()
    forkserver.ensure_running()


def _main_module() -> list[str]:
    """The parent's main module when run with ``-m`` (``app.web.serve``): multiprocessing runs
    it again in every child, which costs a second unless its imports are preloaded too."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    name = getattr(spec, "name", "") or ""
    return [name] if name and not name.endswith("__main__") else []


def run_in_child(job: Job, limits: PoolLimits) -> ImportResult:
    """Run ``job`` in a fresh child process and wait for its answer (blocking)."""
    ctx = _forkserver()
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, job, limits), daemon=True,
                       name="archcalc-import-child")
    try:
        try:
            proc.start()
        finally:
            send.close()  # the child's end: once it exits, a read here sees the end of file
        if not receive.poll(limits.seconds):
            raise LimitError("import_seconds", f"the import took longer than "
                             f"{limits.seconds:g} s, the limit (import_seconds); it was stopped")
        try:
            kind, payload = receive.recv()
        except EOFError:  # the child died before it answered
            proc.join(5)
            raise ImportFailed(_death(proc.exitcode, limits)) from None
    finally:
        receive.close()
        if proc.pid is not None:  # started
            if proc.is_alive():
                proc.kill()
            proc.join()
    return _answer(kind, payload, limits)


def _answer(kind: str, payload: Any, limits: PoolLimits) -> ImportResult:
    if kind == "ok":
        assert isinstance(payload, ImportResult)
        return payload
    if kind == "memory":
        raise LimitError("import_memory_bytes", f"the import needed more than "
                         f"{limits.memory_bytes:,} bytes of memory, the limit "
                         "(import_memory_bytes)")
    if kind == "missing":
        raise ImportUnavailable(str(payload))
    raise ImportFailed(str(payload))


def _death(code: int | None, limits: PoolLimits) -> str:
    if code is not None and code < 0 and -code in (9, 24):  # SIGKILL, SIGXCPU
        return (f"the import process was stopped (signal {-code}) before it answered: it ran "
                f"out of time ({limits.seconds:g} s, import_seconds) or memory "
                f"({limits.memory_bytes:,} bytes, import_memory_bytes)")
    return f"the import process ended before it answered (exit status {code})"


def _child(conn: Connection, job: Job, limits: PoolLimits) -> None:
    """In the child: cap memory and CPU time, run the job, send back one answer."""
    _cap(limits)
    answer: tuple[str, Any]
    try:
        answer = ("ok", job())
    except BaseException as exc:  # every failure becomes one answer, whatever raised it
        answer = _failure(exc)
    try:
        conn.send(answer)
    except MemoryError:
        conn.send(("memory", ""))
    conn.close()


def _failure(exc: BaseException) -> tuple[str, str]:
    if _out_of_memory(exc):
        return ("memory", "")
    if isinstance(exc, ImportFailed):
        return ("failed", str(exc))
    if isinstance(exc, ImportError):
        return ("missing", str(exc))
    if isinstance(exc, RecursionError):
        return ("failed", "the model nests too deeply to be read")
    # a model torch.fx or onnx cannot take: refused, saying why
    return ("failed", f"the model could not be imported: {type(exc).__name__}: {exc}")


def _out_of_memory(exc: BaseException | None) -> bool:
    """An allocation refused under RLIMIT_AS: Python's MemoryError, or torch's allocator error,
    possibly wrapped by the importer's own refusal."""
    while exc is not None:
        if isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError)
                                            and "can't allocate memory" in str(exc)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _cap(limits: PoolLimits) -> None:
    """RLIMIT_AS at the address space the child starts with plus ``memory_bytes``;
    RLIMIT_CPU at the deadline, so that no child outlives it even if nobody kills it."""
    with open("/proc/self/statm", encoding="ascii") as f:
        start = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = start + limits.memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard < 0 else min(cap, hard), hard))
    cpu = math.ceil(limits.seconds) + 1
    _, hard_cpu = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu if hard_cpu < 0 else min(cpu, hard_cpu),
                                             hard_cpu))
    try:  # torch's own thread pool would multiply the CPU an import takes, and its memory
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


_pools: dict[PoolLimits, ImportPool] = {}


def pool_for(limits: PoolLimits) -> ImportPool:
    """The process's pool for these limits (one per app configuration)."""
    pool = _pools.get(limits)
    if pool is None:
        pool = _pools[limits] = ImportPool(limits)
    return pool

