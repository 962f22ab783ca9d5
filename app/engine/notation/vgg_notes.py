"""The VGG notes' dialect: ``CONV3-64``, ``POOL2``, ``FC-4096``, ``FC: [1x1x4096]`` (the bracket
is the only count given), and the ``TOTAL memory: 24M * 4 bytes ~= 96MB / image`` lines whose
figures are claims about the whole network."""

from __future__ import annotations

import re

from app.engine.errors import SpecError
from app.engine.graph import Claim
from app.engine.notation.common import Stmt, last_dim


def read_vgg(words: list[str], label: str, line: int, bracket: str | None) -> Stmt | None:
    w = words[0]
    m = re.fullmatch(r"conv([0-9]+)-([0-9]+)", w)
    if m:
        k, n = int(m[1]), int(m[2])
        return Stmt("layer", op="conv", args={"out": n, "kernel": (k, k), "pad": (k // 2, k // 2)})
    m = re.fullmatch(r"fc-?([0-9]*)", w)
    if m:
        if m[1]:
            return Stmt("layer", op="fc", args={"out": int(m[1])})
        if bracket and len(words) == 1:
            return Stmt("layer", op="fc", args={"out": last_dim(bracket), "_bracket_used": True})
        return None
    m = re.fullmatch(r"(max)?pool([0-9]*)", w)
    if m and len(words) == 1:
        k = int(m[2]) if m[2] else 2
        return Stmt("layer", op="maxpool", args={"kernel": (k, k), "stride": (k, k)})
    return None


def read_total(text: str, line: int) -> Stmt:
    """'TOTAL memory: 24M * 4 bytes ~= 96MB / image', 'TOTAL params: 138M parameters',
    'TOTAL macs: 724M', 'TOTAL flops: 1.4G'."""
    head, _, body = text.partition(":")
    head = head.lower()
    claims: list[Claim] = []
    first = re.match(r"\s*~?\s*([0-9.,]+\s*[kmgKMG]?)", body)
    if "memory" in head:
        if first:
            claims.append(Claim("activations", first[1].strip()))
        nbytes = re.search(r"([0-9.,]+\s*[kmgt]i?b)\b", body, re.IGNORECASE)
        if nbytes:
            claims.append(Claim("activation_bytes", nbytes[1].strip()))
    elif ("param" in head or "weight" in head) and first:
        claims.append(Claim("params", first[1].strip()))
    elif "flop" in head and first:
        claims.append(Claim("flops", first[1].strip()))
    elif ("mac" in head or "ops" in head or "mult" in head) and first:
        claims.append(Claim("macs", first[1].strip()))
    if not claims:
        raise SpecError("a TOTAL line needs 'memory: N', 'params: N', 'macs: N' or 'flops: N'",
                        line)
    return Stmt("total", claims=tuple(claims))
