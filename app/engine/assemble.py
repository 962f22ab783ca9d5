"""A raw tree of statements -> Network: the work counted, repeats expanded, names given and
resolved, every layer built by its op's rules.

The work (layers and repeat passes) is counted before anything is expanded, against
``max_layers``. A node that cannot be built is reported and left out, and building goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from app.engine.errors import Issue, LimitError, SpecError, short, suggest
from app.engine.graph import (
    AttrValue,
    Block,
    Claim,
    FrozenDict,
    Layer,
    Network,
    Node,
    Volume,
)
from app.engine.limits import LIMITS
from app.engine.optable import make_layer
from app.engine.statements import Raw

#: generated names: conv1, pool2, fc3 ... (every pool kind counts as a pool)
LAYER_STEMS = {"maxpool": "pool", "avgpool": "pool", "adaptiveavgpool": "pool", "gap": "pool"}
#: at most this many problems are listed; the rest are counted
MAX_ISSUES = 25


@dataclass(frozen=True, slots=True)
class Work:
    """What a raw tree expands to, counted without expanding it."""

    layers: int
    passes: int  # repeat passes: a repeat of an empty body still loops

    def __add__(self, other: Work) -> Work:
        return Work(self.layers + other.layers, self.passes + other.passes)


def count_work(raws: list[Raw]) -> Work:
    """Layers and repeat passes after expansion, computed without expanding. Counts are exact
    Python integers, so even ``repeat 999999999999999999`` nested is counted, not run."""
    total = Work(0, 0)
    for r in raws:
        total += _work(r)
    return total


def _work(r: Raw) -> Work:
    if r.stmt is not None:
        return Work(1 if r.stmt.kind == "layer" else 0, 0)
    inner = count_work(r.children) + count_work(r.shortcut or [])
    if r.kind == "repeat":
        return Work(r.times * inner.layers, r.times * (1 + inner.passes))
    return Work(inner.layers + (1 if r.kind not in ("branch", "bad", "skip") else 0), inner.passes)


def check_work(raws: list[Raw]) -> None:
    """Refuse a spec whose expansion is over ``max_layers``, blaming the outermost line at which
    the running count passes the limit (a repeat's own line when it alone is too much)."""
    most = LIMITS.max_layers
    total = Work(0, 0)
    for r in raws:
        total += _work(r)
        if total.layers > most or total.passes > most:
            what = (f"{total.layers:,} layers" if total.layers > most
                    else f"{total.passes:,} repeat passes")
            raise LimitError("max_layers", f"the spec expands to {what} by this line; at most "
                             f"{most:,} layers and {most:,} repeat passes are allowed "
                             f"(max_layers; repeat counts multiply)", r.line)


class _NetworkAssembler:
    """Expands repeats, applies directives and names every node; a node that cannot be built
    is reported in ``issues``, its line kept in ``drops``, and left out."""

    def __init__(self, issues: list[Issue], drops: list[int]) -> None:
        self.issues = issues
        self.drops = drops
        self.used: set[str] = set()  # explicit names, reserved before naming starts
        self.assigned: set[str] = set()
        self.made: dict[int, Layer] = {}
        self.interned: dict[tuple[object, ...], Mapping[str, AttrValue]] = {}
        self.counters: dict[str, int] = {}
        self.input: tuple[Volume, str, int, tuple[Claim, ...]] | None = None
        self.totals: list[Claim] = []
        self.survival_last: float | None = None
        #: a name as a later line may write it -> the row it means now, and that row's line
        self.bound: dict[str, tuple[str, int]] = {}
        #: names read before any row had them: (line, name, reading layer), judged at the end
        self.pending: list[tuple[int, str]] = []
        self.outputs: list[str] = []
        self.blocks: set[str] = set()

    def problem(self, line: int, message: str, layer: str | None = None) -> None:
        self.issues.append(Issue(line, message, layer))
        self.drops.append(line)

    def network(self, raws: list[Raw]) -> Network | None:
        self._reserve(raws)
        nodes = tuple(self.seq(raws, "", top=True))
        self.judge_pending()
        if self.input is None:
            if not any(i.line == 1 for i in self.issues):
                self.problem(1, "no input line: start the spec with e.g. 'input 227x227x3'")
            return None
        vol, name, line, claims = self.input
        try:
            check_input(vol, line)
        except SpecError as exc:
            self.issues.extend(exc.issues)
            self.drops.append(line)
            return None
        if self.survival_last is not None:
            nodes = _linear_survival(nodes, self.survival_last)
        return Network(vol, nodes, input_name=name, input_line=line, input_claims=claims,
                       total_claims=tuple(self.totals), outputs=tuple(self.outputs))

    def _reserve(self, raws: list[Raw]) -> None:
        """Explicit names are reserved first so generated names never take them."""
        for r in raws:
            if r.stmt is not None and r.stmt.name and r.stmt.kind == "layer":
                self.used.add(r.stmt.name)
            elif r.name:
                self.used.add(r.name)
            self._reserve(r.children)

    def seq(self, raws: list[Raw], suffix: str, top: bool = False) -> list[Node]:
        out: list[Node] = []
        for r in raws:
            if r.stmt is not None:
                node = self.statement(r, suffix, top and not out)
                if node is not None:
                    out.append(node)
            elif r.kind == "repeat":
                for i in range(1, r.times + 1):
                    out.extend(self.seq(r.children, f"{suffix}.{i}" if r.times > 1 else suffix))
            elif r.kind == "bad":  # its header was reported; its body is still checked
                self.seq(r.children, suffix)
            elif r.kind == "skip":  # a statement that could not be read, already reported
                continue
            elif r.kind in ("branch", "shortcut"):
                self.problem(r.line, f"'{r.kind}' is only allowed inside "
                             f"{'concat, join or split' if r.kind == 'branch' else 'after residual'}")
            else:
                block = self.block(r, suffix)
                if block is not None:
                    out.append(block)
        return out

    def statement(self, r: Raw, suffix: str, first: bool) -> Layer | None:
        s = r.stmt
        assert s is not None
        if s.kind == "output":
            outs = self.resolve(s.refs, r.line)
            if outs is not None:
                self.outputs.extend(o for o in outs if o not in self.outputs)
            return None
        if s.refs or "to" in s.args:
            return self.reading(r, suffix, first)
        return self.plain(r, suffix, first)

    def reading(self, r: Raw, suffix: str, first: bool) -> Layer | None:
        """A layer that reads named rows: the names are resolved before the layer gets its
        own, so ``x: conv 8 3x3 from x`` reads the x above it."""
        s = r.stmt
        assert s is not None
        if s.name and s.name not in self.bound and (s.name in s.refs
                                                     or s.args.get("to") == s.name):
            self.problem(r.line, f"'{short(s.name)}' reads its own output: a cycle; name an "
                                 f"earlier layer")
            return None
        inputs = self.resolve(s.refs, r.line)
        target = self.resolve((str(s.args["to"]),), r.line) if "to" in s.args else ()
        if inputs is None or target is None:
            return None
        layer = self.plain(r, suffix, first)
        if layer is None:
            return None
        attrs = FrozenDict({**layer.attrs, "to": target[0]}) if target else layer.attrs
        return layer._replace(attrs=attrs, inputs=inputs)

    def resolve(self, refs: tuple[str, ...], line: int) -> tuple[str, ...] | None:
        """The rows the names mean at this line; None (the line left out) if one has none
        yet, which is judged once the whole spec is read (unknown, or defined later)."""
        out = []
        for ref in refs:
            got = self.bound.get(ref)
            if got is None:
                self.pending.append((line, ref))
                self.drops.append(line)
                return None
            out.append(got[0])
        return tuple(out)

    def bind(self, given: str | None, name: str, line: int) -> None:
        self.bound[name] = (name, line)
        if given:  # the latest row of that name: a repeat's body reads its own pass's
            self.bound[given] = (name, line)

    def judge_pending(self) -> None:
        """Every name read before it meant a row: defined later (or the reader's own or its
        block's: a cycle), or unknown."""
        for line, ref in self.pending:
            got = self.bound.get(ref)
            if got is None:
                hint = suggest(ref, list(self.bound)) if len(self.issues) < MAX_ISSUES else ""
                self.issues.append(Issue(line, f"unknown layer name '{short(ref)}'{hint}; a "
                                               f"layer reads the layers named above it"))
            elif got[0] in self.blocks and got[1] <= line:
                self.issues.append(Issue(line, f"'{short(ref)}' is the block that holds this "
                                               f"line (line {got[1]}); reading its output inside "
                                               f"it would be a cycle"))
            else:
                self.issues.append(Issue(line, f"'{short(ref)}' is used before it is defined "
                                               f"(line {got[1]}); a layer reads only the layers "
                                               f"above it, or the graph would have a cycle"))

    def plain(self, r: Raw, suffix: str, first: bool) -> Layer | None:
        s = r.stmt
        assert s is not None
        made = self.made.get(id(r.stmt))
        if made is not None:  # the same statement again (a repeat, or equal text): validated
            return Layer(made.op, self.name(s.name, s.op, suffix, r.line), r.line, made.attrs,
                         made.claims)
        if s.kind == "input":
            if self.input is not None:
                self.problem(r.line, f"a second input line (the first is on line "
                             f"{self.input[2]})")
            elif not first:
                self.problem(r.line, "the input line must come before every layer")
            else:
                self.input = (s.volume, s.name or "input", r.line, s.claims)  # type: ignore[assignment]
                self.bind(s.name or "input", s.name or "input", r.line)
            return None
        if s.kind == "total":
            self.totals.extend(s.claims)
            return None
        if s.kind == "noop":
            return None
        if s.kind == "directive":
            self.survival_last = float(s.args["last"])
            return None
        if self.input is None:
            if not self.drops:
                self.problem(r.line, "no input line before the first layer: start with e.g. "
                             "'input 227x227x3'")
            return None
        name = self.name(s.name, s.op, suffix, r.line)
        try:
            made = make_layer(s.op, dict(s.args), name, r.line, s.claims)
        except SpecError as exc:
            self.issues.extend(exc.issues)
            self.drops.append(r.line)
            return None
        # equal layers share one attrs mapping, which lets the walk recognise them cheaply
        attrs = self.interned.setdefault((made.op, *made.attrs.items()), made.attrs)
        if attrs is not made.attrs:
            made = Layer(made.op, name, r.line, attrs, made.claims)
        self.made[id(r.stmt)] = made
        return made

    def block(self, r: Raw, suffix: str) -> Block | None:
        name = self.name(r.name, r.kind, suffix)
        made = self._block(r, suffix, name)
        self.bind(r.name, name, r.line)  # only now: its body cannot read its output
        self.blocks.add(name)
        return made

    def _block(self, r: Raw, suffix: str, name: str) -> Block | None:
        if r.kind in ("concat", "join", "split"):
            branches = []
            for child in r.children:
                if child.kind != "branch":
                    self.problem(child.line, f"{r.kind} holds only 'branch {{ ... }}' blocks")
                    continue
                branches.append(tuple(self.seq(child.children, suffix)))
            if len(branches) < 2:
                self.problem(r.line, f"{r.kind} needs at least two branches")
                return None
            return Block(r.kind, name, r.line, tuple(branches))
        body = tuple(self.seq(r.children, suffix))
        if r.kind == "residual":
            shortcut = tuple(self.seq(r.shortcut or [], suffix))
            return Block("residual", name, r.line, (body, shortcut), r.survival)
        if not body:
            if not self.drops or min(self.drops) > r.line:
                self.problem(r.line, f"{r.kind} needs at least one layer")
            return None
        return Block(r.kind, name, r.line, (body,))

    def name(self, given: str | None, op: str, suffix: str, line: int = 0) -> str:
        """Explicit names are kept (a repeated one gets _2, _3); others are op + counter."""
        if given:
            base = name = given + suffix
            k = 1
            while name in self.assigned:
                k += 1
                name = f"{base}_{k}"
        else:
            stem = LAYER_STEMS.get(op, op)
            count = self.counters.get(stem, 0)
            join = "_" if stem[-1:].isdigit() else ""  # relu6_1, not relu61
            while True:
                count += 1
                name = f"{stem}{join}{count}"
                if name not in self.used and name not in self.assigned:
                    break
            self.counters[stem] = count
        self.assigned.add(name)
        if line:
            self.bind(given, name, line)
            if given and suffix:
                self.bound[given + suffix] = (name, line)
        return name


def check_input(v: Volume, line: int, parameter: str | None = None) -> None:
    """The input volume against the limits; a request parameter (``input``) can be blamed."""
    for what, n, hi, limit in (("H", v.h, LIMITS.max_hw, "max_hw"), ("W", v.w, LIMITS.max_hw,
                               "max_hw"), ("C", v.c, LIMITS.max_channels, "max_channels")):
        if n < 1:
            raise SpecError(f"input {what} must be at least 1, got {n}", line,
                            parameter=parameter)
        if n > hi:
            raise LimitError(limit, f"input {what} {n:,} exceeds the limit of {hi:,} ({limit})",
                             line, parameter=parameter)


def _linear_survival(nodes: tuple[Node, ...], last: float) -> tuple[Node, ...]:
    """Stochastic depth's linear rule (Huang et al. 2016, eq. 4): p_l = 1 - (l/L)(1 - p_L)."""
    blocks: list[Block] = []

    def collect(ns: tuple[Node, ...]) -> None:
        for n in ns:
            if isinstance(n, Block):
                if n.kind == "residual" and n.survival is None:
                    blocks.append(n)
                for br in n.branches:
                    collect(br)

    collect(nodes)
    total = len(blocks)
    probs = {id(b): 1 - (i / total) * (1 - last) for i, b in enumerate(blocks, start=1)}

    def rebuild(ns: tuple[Node, ...]) -> tuple[Node, ...]:
        out: list[Node] = []
        for n in ns:
            if isinstance(n, Block):
                n = replace(n, branches=tuple(rebuild(br) for br in n.branches),
                            survival=probs.get(id(n), n.survival))
            out.append(n)
        return tuple(out)

    return rebuild(nodes)


def assemble(raws: list[Raw], issues: list[Issue], drops: list[int]) -> Network | None:
    """The network of a raw tree whose size is within the limits; problems go to ``issues``
    and the lines left out to ``drops``."""
    return _NetworkAssembler(issues, drops).network(raws)
