"""Comparing analyses: the rows two builds of one network differ in, and per-block subtotals.

Pure data over the engine's frozen results (no Jinja, no FastAPI), for the model pages' "what
differs" view and the compare page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from app.engine.optable import WEIGHT_OPS
from app.engine.result import Analysis, LayerRow

#: the totals a comparison shows, in order: (key, title)
TOTAL_KEYS: tuple[tuple[str, str], ...] = (
    ("params", "parameters"), ("macs", "MACs"), ("activations", "activations"),
    ("activation_bytes", "activation memory (bytes)"),
    ("training_bytes", "training memory (bytes)"),
    ("depth", "depth"),
)


def signature(row: LayerRow) -> tuple[object, ...]:
    """What makes two rows the same layer: op, attributes and output volume (not the name)."""
    out = row.output
    return (row.op, tuple(sorted((k, str(v)) for k, v in row.attrs.items())), out.h, out.w,
            out.c, row.params)


def describe(row: LayerRow) -> str:
    """A row in a few words: 'conv 3x3 stride 2, 64 -> 56x56x64'."""
    a = row.attrs
    parts = [row.op]
    if "kh" in a:
        parts.append(f"{a['kh']}x{a['kw']}")
    if a.get("sh", 1) != 1:
        parts.append(f"stride {a['sh']}")
    if a.get("ph", 0):
        parts.append(f"pad {a['ph']}")
    if a.get("groups", 1) != 1:
        parts.append(f"groups {a['groups']}")
    out = row.output
    return f"{' '.join(parts)} -> {out.h}x{out.w}x{out.c}"


@dataclass(frozen=True, slots=True)
class RowChange:
    """A row of one build against the row of the other it stands in for (None: no such row)."""

    left: LayerRow | None
    right: LayerRow | None

    @property
    def params_delta(self) -> int:
        return (self.right.params if self.right else 0) - (self.left.params if self.left else 0)

    @property
    def macs_delta(self) -> int:
        return (self.right.macs if self.right else 0) - (self.left.macs if self.left else 0)


@dataclass(frozen=True, slots=True)
class TotalChange:
    key: str
    title: str
    left: int | float
    right: int | float

    @property
    def delta(self) -> int | float:
        return self.right - self.left

    @property
    def percent(self) -> str:
        if not self.left:
            return "n/a"
        return f"{100 * (self.right - self.left) / self.left:+.2f}%"


@dataclass(frozen=True, slots=True)
class Diff:
    changes: tuple[RowChange, ...]
    totals: tuple[TotalChange, ...]
    same_rows: int


def total_changes(left: Analysis, right: Analysis) -> tuple[TotalChange, ...]:
    return tuple(TotalChange(k, title, getattr(left.totals, k), getattr(right.totals, k))
                 for k, title in TOTAL_KEYS)


def diff(left: Analysis, right: Analysis) -> Diff:
    """The rows that differ between two analyses (aligned by op, attributes and output)."""
    a, b = left.layers, right.layers
    matcher = SequenceMatcher(None, [signature(r) for r in a], [signature(r) for r in b],
                              autojunk=False)
    changes: list[RowChange] = []
    same = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            same += i2 - i1
            continue
        lefts, rights = a[i1:i2], b[j1:j2]
        for k in range(max(len(lefts), len(rights))):
            changes.append(RowChange(lefts[k] if k < len(lefts) else None,
                                     rights[k] if k < len(rights) else None))
    return Diff(tuple(changes), total_changes(left, right), same)


@dataclass(frozen=True, slots=True)
class BlockTotal:
    """One stage of a network: its rows and their subtotals, and the stage's output."""

    name: str
    rows: int
    params: int
    macs: int
    activations: int
    output: str


#: the weight layers that open a stage of their own: ``conv3_2`` -> stage ``conv3``
_NUMBERED = re.compile(r"^(?P<stage>.+?)_\d+$")
#: a block's stage: ``res4b.12`` -> ``res4``, ``inception_3a`` -> ``inception_3``
_BLOCK_STAGE = re.compile(r"^(?P<stage>.+?\d)[a-z]?(?:\.\d+)?$")
STEM = "input"


def stage_of(row: LayerRow) -> str | None:
    """The stage a row opens or belongs to; None for a row that joins the stage before it
    (activations, pools, norms, merges: whatever is not a weight layer or inside a block)."""
    if row.block:
        top = row.block.split("/", 1)[0]
        m = _BLOCK_STAGE.match(top)
        return m["stage"] if m else top
    if row.op in WEIGHT_OPS:
        m = _NUMBERED.match(row.name)
        return m["stage"] if m else row.name
    return None


def block_totals(analysis: Analysis) -> tuple[BlockTotal, ...]:
    """Subtotals per stage: consecutive blocks of one stage (``res2a``, ``res2b.1``,
    ``res2b.2``), or numbered layers (``conv3_1`` ... ``conv3_3``), with the pools, activations
    and merges that follow them."""
    groups: list[list[LayerRow]] = []
    names: list[str] = []
    for row in analysis.layers:
        key = stage_of(row) or (names[-1] if names else STEM)
        if not names or names[-1] != key:
            names.append(key)
            groups.append([])
        groups[-1].append(row)
    return tuple(_block(name, rows) for name, rows in zip(names, groups, strict=True))


def _block(name: str, rows: Sequence[LayerRow]) -> BlockTotal:
    out = rows[-1].output
    return BlockTotal(name, len(rows), sum(r.params for r in rows), sum(r.macs for r in rows),
                      sum(r.activations for r in rows), f"{out.h}x{out.w}x{out.c}")


__all__ = [
    "TOTAL_KEYS",
    "BlockTotal",
    "Diff",
    "RowChange",
    "TotalChange",
    "block_totals",
    "describe",
    "diff",
    "signature",
    "total_changes",
]
