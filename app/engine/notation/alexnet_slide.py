"""The AlexNet slide's dialect: ``CONV1: 96 11x11 filters at stride 4, pad 0``,
``NORM1: Normalization layer``, ``FC6: 4096 neurons``."""

from __future__ import annotations

import re
from typing import Any

from app.engine.errors import SpecError, isnum, short
from app.engine.notation.common import SIZE_RE, Stmt

_FILLER = frozenset({"applied", "at", "with", "of", "and", "a", "size", "filters", "filter"})


def _filters(words: list[str]) -> dict[str, Any] | None:
    """'96 11x11 filters at stride 4, pad 0', '10 5x5 filters with stride 1, padding 2'."""
    if "filters" not in words and "filter" not in words:
        return None
    args: dict[str, Any] = {}
    i = 0
    if i < len(words) and isnum(words[i]) and i + 1 < len(words) and "x" in words[i + 1]:
        args["out"] = int(words[i])
        i += 1
    m = SIZE_RE.match(words[i]) if i < len(words) else None
    if not m or not m[2]:
        return None
    args["kernel"] = (int(m[1]), int(m[2]))
    i += 1
    while i < len(words):
        w = words[i]
        if w in _FILLER:
            i += 1
        elif w in ("ceil", "ceil_mode"):  # Caffe's rounding up, as ZFNet's 55/26/13 need
            args["ceil"] = True
            i += 2 if i + 1 < len(words) and words[i + 1] == "mode" else 1
        elif w in ("stride", "pad", "padding") and i + 1 < len(words) and isnum(words[i + 1]):
            n = int(words[i + 1])
            args["stride" if w == "stride" else "pad"] = (n, n)
            i += 2
        else:
            return None
    return args


def read_slide(words: list[str], label: str, line: int, bracket: str | None) -> Stmt | None:
    """The AlexNet slide: '96 11x11 filters at stride 4, pad 0', 'Normalization layer', ...'"""
    body = " ".join(words)
    args = _filters(words)
    if args is not None:
        if "pool" in label:
            if "out" in args:
                raise SpecError("a pool has no filter count: write 'POOL1: 3x3 filters at "
                                "stride 2'", line)
            return Stmt("layer", op="avgpool" if "avg" in label else "maxpool", args=args)
        if "out" in args:
            return Stmt("layer", op="conv", args=args)
        raise SpecError(f"'{short(body)}': is it a conv or a pool? name it (CONV1:, POOL1:) or "
                        f"use 'conv N KxK stride S'", line)
    if body in ("normalization layer", "normalization", "norm layer",
                "local response normalization"):
        return Stmt("layer", op="lrn")
    m = re.fullmatch(r"([0-9]+) neurons?", body)
    if m:
        return Stmt("layer", op="fc", args={"out": int(m[1])})
    return None
