"""What every notation reader shares: the statement it returns and the sizes it reads."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from app.engine.errors import SpecError, short
from app.engine.graph import Claim, Volume

SIZE_RE = re.compile(r"^([0-9]+)(?:[x×*]([0-9]+))?$")


@dataclass(slots=True)
class Stmt:
    kind: str  # layer | input | output | total | directive | noop (a line of structure only)
    op: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    claims: tuple[Claim, ...] = ()
    volume: Volume | None = None
    #: the names it reads, as written: ``from NAME``, a merge's inputs, an ``output`` line's
    refs: tuple[str, ...] = ()


def read_size(word: str, line: int, what: str) -> tuple[int, int]:
    """'3' -> (3, 3), '3x5' -> (3, 5); a SpecError naming ``what`` otherwise."""
    m = SIZE_RE.match(word)
    if not m:
        raise SpecError(f"{what} must look like 3 or 3x3, got '{short(word)}'", line)
    h = int(m[1])
    return h, int(m[2]) if m[2] else h


def last_dim(bracket: str) -> int:
    """The channel count of a bracketed volume: '1x1x4096' -> 4096."""
    return int(re.findall(r"[0-9]+", bracket.replace(",", ""))[-1])
