"""The per-layer table of the calculator page, as data the template (and any renderer) walks.

The engine gives a flat tuple of rows, each with its ``block`` path (``inception_3a/branch2``)
and ``depth``. The page shows:

* each block (concat, split, residual, dense, join, aux) as a group with a header row that
  carries the block's subtotals and, for a merge, the merged volume (the merge row itself
  becomes the header, shown first although the walk reaches it last);
* activations, normalisations and dropout folded into the row of the layer they follow, as the
  slides write "CONV1 + ReLU" (``fold=False`` shows every op as its own row); a row that makes
  a claim or a warning is never folded away.

Nothing here formats numbers or renders HTML: that is the template's, through the filters.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import ClassVar

from app.engine.optable import FOLDED_OPS, MERGE_ROW_OPS, label
from app.engine.result import DTYPE_BYTES, Analysis, LayerRow, VolumeOut
from app.present.columns import BY_KEY

#: the kind of block a merge op closes, in words
MERGE_KINDS = {"concat": "concat", "add": "residual", "join": "join"}
#: networks with more rows than this start with every group collapsed
COLLAPSE_OVER = 60

#: columns whose value for several rows is the sum of theirs
ADDITIVE = ("weights", "biases", "params", "macs", "flops", "activations", "memory")


def row_value(row: LayerRow, key: str) -> int:
    """The raw number of one additive column (``app.present.columns``) for one engine row."""
    value = BY_KEY[key].value(row)
    assert isinstance(value, int), (key, value)
    return value


@dataclass(slots=True)
class Line:
    """One visible row: an engine row and the rows folded into it."""

    rows: list[LayerRow]
    groups: tuple[str, ...]
    part: str = ""
    #: the numbered ids of the enclosing groups ("g1 g4"), for the page's collapse control
    data_in: str = ""
    #: inside a group that starts collapsed
    hidden: bool = False
    item: ClassVar[str] = "line"

    @property
    def main(self) -> LayerRow:
        return self.rows[0]

    @property
    def last(self) -> LayerRow:
        return self.rows[-1]

    @property
    def label(self) -> str:
        extra = [label(r.op) for r in self.rows[1:]]
        return " + ".join([self.main.name, *extra])


@dataclass(slots=True)
class Group:
    """A block: its header (the merge row, if any) and every engine row inside it."""

    gid: str
    name: str
    kind: str
    groups: tuple[str, ...]
    depth: int
    head: Line | None = None
    members: list[LayerRow] = field(default_factory=list)
    open: bool = True
    #: the sub-part the last member was in (a new one starts a Part heading)
    part: str = ""
    num: int = 0
    data_in: str = ""
    hidden: bool = False
    item: ClassVar[str] = "group"

    @property
    def rows(self) -> list[LayerRow]:
        return self.members + (self.head.rows if self.head else [])

    @property
    def output(self) -> VolumeOut:
        return (self.head.last if self.head else self.members[-1]).output


@dataclass(slots=True)
class Part:
    """A sub-heading inside a group: ``branch2``, ``body``, ``shortcut``."""

    label: str
    groups: tuple[str, ...]
    depth: int
    data_in: str = ""
    hidden: bool = False
    item: ClassVar[str] = "part"


Item = Line | Group | Part


@dataclass(slots=True)
class Table:
    items: list[Item]
    bytes_per_image: int
    collapsed: bool
    group_count: int = 0

    def value(self, thing: Line | Group, key: str) -> int:
        """One additive column's number for a visible row, or a group's subtotal."""
        rows = thing.rows
        if key in ADDITIVE:
            return sum(row_value(r, key) for r in rows)
        raise KeyError(f"{key} is not a sum; read it from the last row")


def _split(path: str) -> tuple[list[str], str]:
    """'a/branch1/b/body' -> (['a', 'a/branch1/b'], 'body'): group ids and the last part."""
    segments = path.split("/") if path else []
    gids = ["/".join(segments[: i + 1]) for i in range(0, len(segments), 2)]
    part = segments[-1] if len(segments) % 2 == 0 and segments else ""
    return gids, part


def _merge_id(row: LayerRow) -> str:
    return f"{row.block}/{row.name}" if row.block else row.name


def build_table(analysis: Analysis, fold: bool = True,
                opened: Collection[str] = ()) -> Table:
    """The visible rows and groups of an analysis, in reading order.

    On a large network every group starts collapsed except those whose path is in ``opened``
    (``"*"`` opens them all); on a small one every group is open.
    """
    options = analysis.options
    per_image = DTYPE_BYTES[options.dtype] * options.batch
    group_ids = {gid for r in analysis.layers for gid in _split(r.block)[0]}
    merges = {_merge_id(r): r for r in analysis.layers
              if r.op in MERGE_ROW_OPS and _merge_id(r) in group_ids}
    items: list[Item] = []
    groups: dict[str, Group] = {}
    previous: Line | None = None
    for row in analysis.layers:
        gids, part = _split(row.block)
        for gid in gids:
            if gid not in groups:
                groups[gid] = _new_group(gid, gids, merges)
                items.append(groups[gid])
                previous = None
            groups[gid].members.append(row)
        merge_gid = _merge_id(row) if row.op in MERGE_ROW_OPS else ""
        if merge_gid in groups and groups[merge_gid].head is not None:
            previous = groups[merge_gid].head  # shown first; what follows may fold into it
            continue
        if part and groups[gids[-1]].part != part:
            groups[gids[-1]].part = part
            if groups[gids[-1]].kind == "concat" and part == "body":
                groups[gids[-1]].kind = "dense"  # concat(x, body(x))
            items.append(Part(part, tuple(gids), len(gids)))
            previous = None
        if fold and previous is not None and _folds(row, previous):
            previous.rows.append(row)
            continue
        previous = Line([row], tuple(gids), part)
        items.append(previous)
    collapsed = len(analysis.layers) > COLLAPSE_OVER and "*" not in opened
    for num, group in enumerate(groups.values(), start=1):
        group.open, group.num = not collapsed or group.gid in opened, num
    for item in items:
        item.data_in = " ".join(f"g{groups[gid].num}" for gid in item.groups)
        item.hidden = any(not groups[gid].open for gid in item.groups)
    return Table(items, per_image, collapsed, len(groups))



def _new_group(gid: str, gids: list[str], merges: dict[str, LayerRow]) -> Group:
    """The group ``gid``, its header made from its merge row when it has one."""
    outer = tuple(gids[: gids.index(gid)])
    merge = merges.get(gid)
    head = Line([merge], outer) if merge is not None else None
    kind = "aux" if merge is None else MERGE_KINDS.get(merge.op, merge.op)
    if merge is not None and merge.attrs.get("kind") == "split":
        kind = "split"  # a concat whose branches each read a share of the channels
    return Group(gid, gid.rsplit("/", 1)[-1], kind, outer, len(outer), head)


def _folds(row: LayerRow, previous: Line) -> bool:
    """Whether ``row`` reads as part of the visible row before it."""
    return (row.op in FOLDED_OPS and not row.claims and not row.warnings
            and row.block == previous.last.block and previous.main.op != "input")
