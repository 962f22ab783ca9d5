"""Which files this process opens inside a block, seen by an audit hook: how the importer's
tests show that a file's contents never name a path the server then reads."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_opened: list[str] = []
_watching = [False]


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _watching[0] and event == "open" and isinstance(args[0], str | bytes | os.PathLike):
        path = os.fsdecode(args[0])
        if not path.endswith((".py", ".pyc", ".so")):  # modules imported on first use
            _opened.append(path)


# an audit hook cannot be removed: one for the whole session, switched on by the block
sys.addaudithook(_audit)


@contextmanager
def files_opened() -> Iterator[list[str]]:
    """The paths opened by this process (any thread) inside the block."""
    _opened.clear()
    _watching[0] = True
    try:
        yield _opened
    finally:
        _watching[0] = False
