"""The walk: a Network, layer by layer, into rows of numbers with their working.

Each row's rule (``app.engine.rules``) gives its output and counts; the receptive field is
carried along the path (``app.engine.rfield``); merges join what their inputs give
(``app.engine.merge``). Every row's output is kept by name for the layers that read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

from app.engine.claims import check_claims
from app.engine.errors import LimitError, SpecError
from app.engine.graph import Block, FrozenDict, Layer, Node, Volume
from app.engine.limits import LIMITS
from app.engine.merge import Merged, merge_block, merge_named
from app.engine.optable import MERGE_OPS, WEIGHT_OPS
from app.engine.result import RF, Formulas, LayerRow, Rendered, VolumeOut, maker
from app.engine.rfield import (
    RF_KEYS,
    Field2,
    field_as_shown,
    field_pair,
    field_through_window,
    field_with_broadcast,
    kept_figures,
    stated_figures,
    union_of_fields,
    window_figures,
)
from app.engine.rowwork import Done, apply_rule, shown_volume
from app.engine.rules import Window

_row = maker(LayerRow)


class State(NamedTuple):
    """The tensor between two rows: its volume and receptive field, and both as rows show
    them, so that a row that changes neither (relu, bn, dropout) shares them."""

    vol: Volume
    rf: Field2
    shown: VolumeOut
    rf_shown: RF
    #: conv and fc layers on the longest path from the input to this tensor
    depth: int = 0
    #: the same, expected under stochastic depth
    expected: float = 0.0


def make_state(vol: Volume, rf: Field2, shown: VolumeOut | None = None, depth: int = 0,
               expected: float = 0.0) -> State:
    """The tensor a row gives: its volume and field, and both as rows show them."""
    return State(vol, rf, shown or shown_volume(vol), field_as_shown(rf), depth, expected)


@dataclass(slots=True)
class Walk:
    """Accumulates rows while walking; every row's output state is kept by name, for the
    layers that read it by name."""

    aux: bool = False
    #: bytes per activation value times the batch: a row's activation bytes per value
    scale: int = 4
    rows: list[LayerRow] = field(default_factory=list)
    done: dict[tuple[object, ...], Done] = field(default_factory=dict)
    merged: dict[tuple[object, ...], Merged] = field(default_factory=dict)
    rf_work: dict[tuple[object, ...], Rendered] = field(default_factory=dict)
    named: dict[str, State] = field(default_factory=dict)
    merged_states: dict[tuple[object, ...], tuple[State, Formulas]] = field(default_factory=dict)

    def seq(self, nodes: tuple[Node, ...], st: State, path: str, level: int,
            keep: float) -> State:
        """Walk a sequence; return its output state (which carries its depth)."""
        for node in nodes:
            if isinstance(node, Layer):
                st = self.layer(node, st, path, level, keep)
            else:
                st = self.block(node, st, path, level, keep)
        return st

    def read(self, layer: Layer | Block | LayerRow, name: str) -> State:
        """The state of the row a layer names (the parser resolved the name to an earlier
        row; only an aux block left out of the walk has none)."""
        got = self.named.get(name)
        if got is None:
            raise SpecError(f"{layer.name} reads '{name}', which is inside an aux block: aux "
                            f"blocks are walked only with aux=true", layer.line, layer.name)
        return got

    def layer(self, layer: Layer, st: State, path: str, level: int, keep: float) -> State:
        if layer.inputs:
            if layer.op in MERGE_OPS:
                return self.merge_inputs(layer, path, level, keep)
            st = self.read(layer, layer.inputs[0])
        # The parser shares one attrs mapping among the expansions of a repeated line, and the
        # network keeps every mapping alive during the walk, so its id is a safe, cheap key.
        key: tuple[object, ...] = (layer.op, id(layer.attrs), st.vol)
        if "to" in layer.attrs:  # a crop to a named row's size: the size is that row's
            like = self.read(layer, str(layer.attrs["to"])).vol
            layer = layer._replace(attrs=FrozenDict({**layer.attrs, "oh": like.h, "ow": like.w}))
            key = ("crop", like.h, like.w, st.vol)
        done = self.done.get(key)
        if done is None:
            done = self.done[key] = apply_rule(layer, st.vol)
        win = done.window
        d = 1 if layer.op in WEIGHT_OPS else 0
        if win is None and done.out == st.vol and not d:
            nxt = st  # shape and field unchanged: share the previous row's objects
            rf_part = self._kept_working(st.rf)
        else:
            rf = field_through_window(st.rf, win, layer)
            nxt = make_state(done.out, rf, done.shown, st.depth + d, st.expected + d)
            rf_part = self._window_working(win, st.rf, rf)
        row = _row(len(self.rows), layer.name, layer.op, layer.line, path, level,
                       layer.attrs, st.shown, nxt.shown, done.weights, done.biases,
                       done.params, done.macs, done.activations,
                       self._bytes(done.activations, layer), nxt.rf_shown,
                       Formulas(done.working, rf_part), done.warnings, (), done.notes,
                       keep if keep != 1.0 else None, layer.inputs)
        if layer.claims:
            row = replace(row, claims=check_claims(layer.claims, row))
        self.rows.append(row)
        self.named[layer.name] = nxt
        return nxt

    def merge_inputs(self, layer: Layer, path: str, level: int, keep: float) -> State:
        """A merge of named rows (concat, add, mul): a new tensor, no parameters; its field is
        the union of its inputs' fields."""
        ins = [self.read(layer, n) for n in layer.inputs]
        vols = tuple(i.vol for i in ins)
        key = (layer.op, vols)
        merged = self.merged.get(key)
        if merged is None:
            merged = self.merged[key] = merge_named(layer, vols)
        # the same inputs merged again (the states live in ``named``, so their ids are stable)
        again = (layer.op, *map(id, ins))
        known = self.merged_states.get(again)
        warnings: list[str] = []
        if known is None:
            spread = [(v.h, v.w) == (1, 1) != (merged.out.h, merged.out.w) for v in vols]
            alike = any(spread) or any(0 in (i.rf[0].jump, i.rf[1].jump) for i in ins)
            rf = (field_with_broadcast([i.rf for i in ins], spread, merged.out) if alike
                  else union_of_fields(layer.op, layer.name, [i.rf for i in ins], warnings))
            nxt = make_state(merged.out, rf, merged.shown, max(i.depth for i in ins),
                         max(i.expected for i in ins))
            known = (nxt, Formulas(merged.working, self._union_working(rf, len(ins))))
            if not warnings:  # a warning names its row: worked out again for each
                self.merged_states[again] = known
        nxt, formulas = known
        row = _row(len(self.rows), layer.name, layer.op, layer.line, path, level, layer.attrs,
                   ins[0].shown, merged.shown, 0, 0, 0, 0, merged.out.size,
                   self._bytes(merged.out.size, layer), nxt.rf_shown, formulas,
                   tuple(warnings), (), (), keep if keep != 1.0 else None, layer.inputs)
        if layer.claims:
            row = replace(row, claims=check_claims(layer.claims, row))
        self.rows.append(row)
        self.named[layer.name] = nxt
        return nxt

    def _bytes(self, activations: int, layer: Layer | Block) -> int:
        nbytes = activations * self.scale
        if nbytes > LIMITS.max_total:
            raise LimitError("max_total", f"{layer.name}'s activations take {nbytes:,} bytes, "
                             f"more than 2^53 - 1 (max_total)", layer.line)
        return nbytes

    def _window_working(self, win: tuple[Window, Window] | None, before: Field2,
                    after: Field2) -> Rendered:
        key = (win, before)
        got = self.rf_work.get(key)
        if got is None:
            got = self.rf_work[key] = Rendered(RF_KEYS, window_figures, win, before, after)
        return got

    def _kept_working(self, rf: Field2) -> Rendered:
        """The receptive-field working of a row that leaves the field as it is: made once per
        field, and only for the fields such a row follows."""
        key = ("kept", id(rf))  # the Rendered made here holds rf, so its id stays unique
        got = self.rf_work.get(key)
        if got is None:
            got = self.rf_work[key] = Rendered(RF_KEYS, kept_figures, rf)
        return got

    def _union_working(self, rf: Field2, inputs: int) -> Rendered:
        key = ("union", field_pair(rf), inputs)
        got = self.rf_work.get(key)
        if got is None:
            note = f"the union of the fields of the {inputs} inputs"
            got = self.rf_work[key] = Rendered(RF_KEYS, stated_figures, field_pair(rf), note)
        return got

    def block(self, b: Block, st: State, path: str, level: int, keep: float) -> State:
        inner = f"{path}/{b.name}" if path else b.name
        if b.kind == "aux":
            if self.aux:
                self.seq(b.branches[0], st, inner, level + 1, keep)
            return st
        outs: list[State] = []
        share = _split_share(b, st) if b.kind == "split" else st
        for i, branch in enumerate(b.branches):
            label = _branch_label(b.kind, i)
            bkeep = keep * b.survival if (b.kind == "residual" and i == 0 and
                                          b.survival is not None) else keep
            outs.append(self.seq(branch, share, f"{inner}/{label}", level + 1, bkeep))
        if b.kind in ("dense", "scale"):
            outs.insert(0, st)
        return self.merge(b, st, outs, path, level, keep)

    def merge(self, b: Block, st: State, outs: list[State], path: str, level: int,
              keep: float) -> State:
        vols = tuple(o.vol for o in outs)
        key = (b.kind, b.survival, vols)
        merged = self.merged.get(key)
        if merged is None:
            merged = self.merged[key] = merge_block(b, vols)
        warnings: list[str] = []
        rf = union_of_fields(b.kind, b.name, [o.rf for o in outs], warnings)
        rf_part = self._union_working(rf, len(outs))
        depth = max(o.depth for o in outs)
        if b.kind == "residual" and b.survival is not None:
            body, short = outs[0], outs[1]
            expected = (b.survival * max(body.expected, short.expected)
                        + (1 - b.survival) * short.expected)
        else:
            expected = max(o.expected for o in outs)
        nxt = make_state(merged.out, rf, merged.shown, depth, expected)
        self.rows.append(_row(
            len(self.rows), b.name, merged.op, b.line, path, level, merged.attrs, st.shown,
            merged.shown, 0, 0, 0, 0, merged.out.size, self._bytes(merged.out.size, b),
            nxt.rf_shown, Formulas(merged.working, rf_part),
            tuple(warnings), (), (), keep if keep != 1.0 else None))
        self.named[b.name] = nxt
        return nxt


def _split_share(b: Block, st: State) -> State:
    """What each branch of a split block reads: C/n of the input's channels, a view of it
    (torch's ``x.chunk(n, dim=1)``), with the input's receptive field."""
    n, c = len(b.branches), st.vol.c
    if c % n:
        raise SpecError(f"split '{b.name}': {c} channels cannot be split equally among {n} "
                        f"branches ({c}/{n} = {c / n:g} is not whole); give it a channel count "
                        f"divisible by {n}", b.line, b.name)
    return make_state(Volume(st.vol.h, st.vol.w, c // n), st.rf, None, st.depth, st.expected)


def _branch_label(kind: str, i: int) -> str:
    if kind == "residual":
        return "body" if i == 0 else "shortcut"
    if kind in ("dense", "scale"):
        return "body"
    return f"branch{i + 1}"
