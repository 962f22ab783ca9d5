"""Text spec -> Network.

Three passes: :func:`tokenize` cuts the text into statements and braces (keeping line numbers);
:func:`_parse_seq` builds a raw tree of statements and blocks, checking nesting and balance; then
``repeat`` is counted (the 5,000-layer limit is checked before anything is expanded), expanded,
and every layer and block gets a unique, readable name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from app.engine.errors import LimitError, SpecError, short
from app.engine.graph import AttrValue, Block, Claim, Layer, Network, Node, Volume
from app.engine.limits import LIMITS
from app.engine.notation import Stmt, read_statement
from app.engine.ops import make_layer

#: generated names: conv1, pool2, fc3 ... (every pool kind counts as a pool)
LAYER_STEMS = {"maxpool": "pool", "avgpool": "pool", "adaptiveavgpool": "pool", "gap": "pool"}
BLOCK_WORDS = ("concat", "residual", "dense", "join", "aux", "repeat", "branch", "shortcut")


@dataclass(slots=True)
class Token:
    kind: str  # stmt | { | }
    text: str
    line: int


@dataclass(slots=True)
class Raw:
    """A statement, or a block header with its children (a block's body or its branches)."""

    line: int
    stmt: Stmt | None = None
    kind: str = ""  # block kind, or "repeat"
    name: str | None = None
    times: int = 1
    survival: float | None = None
    children: list[Raw] = field(default_factory=list)
    shortcut: list[Raw] | None = None


#: longer digit runs are refused before any number is converted (2^53 has 16 digits)
MAX_DIGITS = 18
_LONG_NUMBER = re.compile(r"\d{" + str(MAX_DIGITS + 1) + ",}")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0]
        if _LONG_NUMBER.search(line):
            raise SpecError(f"a number longer than {MAX_DIGITS} digits; no size or count "
                            f"can be that large", lineno)
        for piece in re.split(r"([{};])", line):
            piece = piece.strip()
            if piece in ("{", "}"):
                tokens.append(Token(piece, piece, lineno))
            elif piece and piece != ";":
                tokens.append(Token("stmt", piece, lineno))
    return tokens


class _Parser:
    def __init__(self, tokens: list[Token]):
        self.toks = tokens
        self.pos = 0
        self.read: dict[str, Stmt] = {}

    def statement(self, tok: Token) -> Stmt:
        """Read a statement; a text met before (ResNet's many 'bn' lines) is read once."""
        stmt = self.read.get(tok.text)
        if stmt is None:
            stmt = self.read[tok.text] = read_statement(tok.text, tok.line)
        return stmt

    def peek(self, offset: int = 0) -> Token | None:
        i = self.pos + offset
        return self.toks[i] if i < len(self.toks) else None

    def seq(self, level: int, opener: Token | None) -> list[Raw]:
        out: list[Raw] = []
        while (tok := self.peek()) is not None:
            if tok.kind == "}":
                if opener is None:
                    raise SpecError("'}' closes no block (unbalanced braces)", tok.line)
                self.pos += 1
                return out
            if tok.kind == "{":
                raise SpecError("'{' must follow a block name such as concat, residual, "
                                "branch or repeat N", tok.line)
            nxt = self.peek(1)
            self.pos += 1
            if nxt is not None and nxt.kind == "{" and (_opens_block(tok.text)
                                                         or nxt.line == tok.line):
                out.append(self.block(tok, level + 1))
            else:
                out.append(Raw(tok.line, stmt=self.statement(tok)))
        if opener is not None:
            raise SpecError(f"the block opened on line {opener.line} is never closed "
                            f"(unbalanced braces: add '}}')", opener.line)
        return out

    def block(self, header: Token, level: int) -> Raw:
        if level > LIMITS.max_nesting:
            raise LimitError("max_nesting", f"blocks are nested more than "
                             f"{LIMITS.max_nesting} deep", header.line)
        raw = _block_header(header.text, header.line)
        opener = self.toks[self.pos]
        self.pos += 1  # the '{'
        raw.children = self.seq(level, opener)
        if raw.kind == "residual" and (t := self.peek()) and t.kind == "stmt" \
                and t.text.strip().lower() == "shortcut":
            if (o := self.peek(1)) is None or o.kind != "{":
                raise SpecError("'shortcut' must be followed by '{'", t.line)
            self.pos += 2
            raw.shortcut = self.seq(level, o)
        return raw


def _opens_block(text: str) -> bool:
    head = text.split(":", 1)[1] if ":" in text else text
    words = head.split()
    return bool(words) and words[0].lower() in BLOCK_WORDS


def _block_header(text: str, line: int) -> Raw:
    name = None
    m = re.fullmatch(r"\s*([\w.\-]+)\s*:\s*(.*)", text)
    if m and m[2].split() and m[2].split()[0].lower() in BLOCK_WORDS:
        name, text = m[1], m[2]
    words = text.lower().split()
    kind = words[0] if words else ""
    if kind not in BLOCK_WORDS:
        raise SpecError(f"'{short(text.strip())}' cannot open a block; expected one of "
                        f"{', '.join(BLOCK_WORDS)}", line)
    raw = Raw(line, kind=kind, name=name)
    rest = words[1:]
    if kind == "repeat":
        if len(rest) != 1 or not rest[0].isdigit():
            raise SpecError("expected 'repeat N {' with N a whole number", line)
        raw.times = int(rest[0])
        if raw.times < 1:
            raise SpecError("repeat count must be at least 1", line)
    elif kind == "residual" and rest:
        if len(rest) != 2 or rest[0] != "survival":
            raise SpecError("expected 'residual {' or 'residual survival P {'", line)
        raw.survival = _probability(rest[1], line)
    elif rest:
        raise SpecError(f"'{kind}' takes no arguments, got '{short(' '.join(rest))}'", line)
    return raw


def _probability(text: str, line: int) -> float:
    try:
        p = float(text)
    except ValueError:
        raise SpecError(f"survival must be a number, got '{short(text)}'", line) from None
    if not 0.0 < p <= 1.0:
        raise SpecError(f"survival probability must be in (0, 1], got {p}", line)
    return p


def _count(raws: list[Raw]) -> int:
    """Layers after expansion, computed without expanding."""
    n = 0
    for r in raws:
        if r.stmt is not None:
            n += 1 if r.stmt.kind == "layer" else 0
        elif r.kind == "repeat":
            n += r.times * _count(r.children)
        else:
            n += 1 + _count(r.children) + _count(r.shortcut or [])
        if n > LIMITS.max_layers:
            return n
    return n


def parse_spec(text: str) -> Network:
    """Parse a text spec; raise SpecError (or LimitError) naming the line of the problem."""
    if len(text.encode("utf-8", "replace")) > LIMITS.max_body_bytes:
        raise LimitError("max_body_bytes", f"the spec is larger than "
                         f"{LIMITS.max_body_bytes // 1024} KiB")
    raws = _Parser(tokenize(text)).seq(0, None)
    n = _count(raws)
    if n > LIMITS.max_layers:
        raise LimitError("max_layers", f"the spec expands to more than {LIMITS.max_layers:,} "
                         f"layers (repeat counts multiply)")
    return _Builder().network(raws)


class _Builder:
    """Expands repeats, applies directives and names every node."""

    def __init__(self) -> None:
        self.used: set[str] = set()  # explicit names, reserved before naming starts
        self.assigned: set[str] = set()
        self.made: dict[int, Layer] = {}
        self.interned: dict[tuple[object, ...], dict[str, AttrValue]] = {}
        self.counters: dict[str, int] = {}
        self.input: tuple[Volume, str, int, tuple[Claim, ...]] | None = None
        self.totals: list[Claim] = []
        self.survival_last: float | None = None

    def network(self, raws: list[Raw]) -> Network:
        self._reserve(raws)
        nodes = tuple(self.seq(raws, "", top=True))
        if self.input is None:
            raise SpecError("no input line: start the spec with e.g. 'input 227x227x3'", 1)
        vol, name, line, claims = self.input
        check_input(vol, line)
        if self.survival_last is not None:
            nodes = _linear_survival(nodes, self.survival_last)
        return Network(vol, nodes, input_name=name, input_line=line, input_claims=claims,
                       total_claims=tuple(self.totals))

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
            elif r.kind in ("branch", "shortcut"):
                raise SpecError(f"'{r.kind}' is only allowed inside "
                                f"{'concat or join' if r.kind == 'branch' else 'after residual'}",
                                r.line)
            else:
                out.append(self.block(r, suffix))
        return out

    def statement(self, r: Raw, suffix: str, first: bool) -> Layer | None:
        s = r.stmt
        assert s is not None
        made = self.made.get(id(r.stmt))
        if made is not None:  # the same statement again (a repeat, or equal text): validated
            return Layer(made.op, self.name(s.name, s.op, suffix), r.line, made.attrs,
                         made.claims)
        if s.kind == "input":
            if self.input is not None:
                raise SpecError(f"a second input line (the first is on line {self.input[2]})",
                                r.line)
            if not first:
                raise SpecError("the input line must come before every layer", r.line)
            self.input = (s.volume, s.name or "input", r.line, s.claims)  # type: ignore[assignment]
            return None
        if s.kind == "total":
            self.totals.extend(s.claims)
            return None
        if s.kind == "directive":
            self.survival_last = float(s.args["last"])
            return None
        if self.input is None:
            raise SpecError("no input line before the first layer: start with e.g. "
                            "'input 227x227x3'", r.line)
        name = self.name(s.name, s.op, suffix)
        made = make_layer(s.op, dict(s.args), name, r.line, s.claims)
        # equal layers share one attrs dict, which lets the walk recognise them cheaply
        attrs = self.interned.setdefault((made.op, *made.attrs.items()), made.attrs)
        if attrs is not made.attrs:
            made = Layer(made.op, name, r.line, attrs, made.claims)
        self.made[id(r.stmt)] = made
        return made

    def block(self, r: Raw, suffix: str) -> Block:
        name = self.name(r.name, r.kind, suffix)
        if r.kind in ("concat", "join"):
            branches = []
            for child in r.children:
                if child.kind != "branch":
                    raise SpecError(f"{r.kind} holds only 'branch {{ ... }}' blocks", child.line)
                branches.append(tuple(self.seq(child.children, suffix)))
            if len(branches) < 2:
                raise SpecError(f"{r.kind} needs at least two branches", r.line)
            return Block(r.kind, name, r.line, tuple(branches))
        body = tuple(self.seq(r.children, suffix))
        if r.kind == "residual":
            shortcut = tuple(self.seq(r.shortcut or [], suffix))
            return Block("residual", name, r.line, (body, shortcut), r.survival)
        if not body:
            raise SpecError(f"{r.kind} needs at least one layer", r.line)
        return Block(r.kind, name, r.line, (body,))

    def name(self, given: str | None, op: str, suffix: str) -> str:
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
            while True:
                count += 1
                name = f"{stem}{count}"
                if name not in self.used and name not in self.assigned:
                    break
            self.counters[stem] = count
        self.assigned.add(name)
        return name


def check_input(v: Volume, line: int) -> None:
    for what, n, hi, limit in (("H", v.h, LIMITS.max_hw, "max_hw"), ("W", v.w, LIMITS.max_hw,
                               "max_hw"), ("C", v.c, LIMITS.max_channels, "max_channels")):
        if n < 1:
            raise SpecError(f"input {what} must be at least 1, got {n}", line)
        if n > hi:
            raise LimitError(limit, f"input {what} {n:,} exceeds the limit of {hi:,} ({limit})",
                             line)


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


