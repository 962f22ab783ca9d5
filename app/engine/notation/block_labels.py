"""The labels of the ResNet paper's figures: ``3x3 conv, 64``, ``3x3 conv, 128, /2``,
``pool``, ``avg pool``, ``FC 1000``."""

from __future__ import annotations

import re

from app.engine.errors import SpecError, isnum
from app.engine.notation.common import SIZE_RE, Stmt, read_size


def read_block_label(words: list[str], label: str, line: int, bracket: str | None) -> Stmt | None:
    """Slide block labels: '3x3 conv, 64', '3x3 conv, 128, /2', 'pool', 'avg pool', 'FC 1000'."""
    stride = next((int(w[1:]) for w in words if re.fullmatch(r"/[0-9]+", w)), 1)
    rest = [w for w in words if not re.fullmatch(r"/[0-9]+", w)]
    if len(rest) >= 2 and SIZE_RE.match(rest[0]) and rest[1] == "conv":
        kh, kw = read_size(rest[0], line, "kernel")
        if len(rest) < 3 or not isnum(rest[2]):
            raise SpecError("a conv label needs its filter count, e.g. '3x3 conv, 64'", line)
        return Stmt("layer", op="conv", args={"out": int(rest[2]), "kernel": (kh, kw),
                                             "stride": (stride, stride), "pad": (kh // 2, kw // 2)})
    kernel = read_size(rest[0], line, "kernel") if rest and SIZE_RE.match(rest[0]) else None
    core = rest[1:] if kernel else rest
    if core in (["avg", "pool"], ["avgpool"], ["average", "pool"]):
        if kernel is None:
            return Stmt("layer", op="gap")
        return Stmt("layer", op="avgpool", args={"kernel": kernel, "stride": (stride, stride)
                                                 if stride > 1 else kernel})
    if core in (["pool"], ["max", "pool"]):
        k = kernel or (2, 2)
        pad = (k[0] // 2, k[1] // 2) if kernel and stride > 1 and k[0] % 2 else (0, 0)
        return Stmt("layer", op="maxpool", args={"kernel": k, "stride": (stride, stride)
                                                 if kernel else k, "pad": pad})
    return None
