"""Text spec -> Network.

Three passes: :func:`tokenize` cuts the text into statements and braces (keeping line numbers);
``_Parser`` builds a raw tree of statements and blocks, checking nesting and balance; then the
work is counted (layers and repeat passes, against ``max_layers``, before anything is
expanded), ``repeat`` expanded, and every layer and block gets a unique, readable name.

Every problem is collected rather than raised at once: a bad line is reported and left out (or,
for a misspelt option, read as meant), and reading goes on, so a student sees every mistake in
one answer. :class:`Parsed` carries the network built from the good lines, the problems, and
the first line left out (shapes after it cannot be trusted).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from app.engine.errors import Issue, LimitError, SpecError, isnum, short, spec_error, suggest
from app.engine.graph import (
    BLOCK_WORDS,
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
from app.engine.lines import split_lines
from app.engine.notation import Stmt, read_statement
from app.engine.optable import make_layer

#: generated names: conv1, pool2, fc3 ... (every pool kind counts as a pool)
LAYER_STEMS = {"maxpool": "pool", "avgpool": "pool", "adaptiveavgpool": "pool", "gap": "pool"}
#: at most this many problems are listed; the rest are counted
MAX_ISSUES = 25
#: reading stops after this many problems
STOP_AFTER = 100
#: a longer line is refused unread (no spec line is that long; this bounds the work per line)
MAX_LINE = 2_000


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
    kind: str = ""  # block kind, "repeat", or "bad" (a block whose header could not be read)
    name: str | None = None
    times: int = 1
    survival: float | None = None
    children: list[Raw] = field(default_factory=list)
    shortcut: list[Raw] | None = None


#: longer digit runs are refused before any number is converted (2^53 has 16 digits)
MAX_DIGITS = 18
_LONG_NUMBER = re.compile(r"[0-9]{" + str(MAX_DIGITS + 1) + ",}")


_SURROGATE = re.compile("[\ud800-\udfff]")
#: control characters that are whitespace inside a line (FF, VT, the separators, NEL, U+2028/9:
#: ``str.isspace()`` says so); the editor does not break a line at them, so neither do we
_BLANK = re.compile("[\t\x0b\x0c\x1c-\x1f\x85\u2028\u2029]")
#: every other control character: nothing a spec means, so the line is refused
_CONTROL = re.compile("[\x01-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


def tokenize(text: str, issues: list[Issue] | None = None) -> list[Token]:
    """Statements and braces with their lines; a line that cannot be read is reported in
    ``issues`` (raised without it) and skipped."""
    tokens: list[Token] = []
    found: list[Issue] = [] if issues is None else issues
    for lineno, line in enumerate(split_lines(text), start=1):
        problem = _unreadable(line)
        if problem:
            found.append(Issue(lineno, problem))
            continue
        line = _BLANK.sub(" ", line.split("#", 1)[0])
        for piece in re.split(r"([{};])", line):
            piece = piece.strip()
            if piece in ("{", "}"):
                tokens.append(Token(piece, piece, lineno))
            elif piece and piece != ";":
                tokens.append(Token("stmt", piece, lineno))
    if issues is None and found:
        raise SpecError(found)
    return tokens


def _unreadable(line: str) -> str:
    if _LONG_NUMBER.search(line.split("#", 1)[0]):
        return f"a number longer than {MAX_DIGITS} digits; no size or count can be that large"
    if len(line) > MAX_LINE:
        return f"the line has {len(line):,} characters; at most {MAX_LINE:,} are read on one line"
    if _SURROGATE.search(line):
        return "the line holds an invalid character (a lone UTF-16 surrogate); retype it"
    if "\x00" in line:
        return "the line holds a NUL character; retype it"
    control = _CONTROL.search(line)
    if control:
        return (f"the line holds the control character U+{ord(control[0]):04X} at column "
                f"{control.start() + 1}; delete it or retype the line")
    return ""


class _Parser:
    def __init__(self, tokens: list[Token], issues: list[Issue]):
        self.toks = tokens
        self.pos = 0
        self.read: dict[str, Stmt] = {}
        self.issues = issues
        self.drops: list[int] = []  # lines left out
        self.stopped = False

    def statement(self, tok: Token) -> Raw:
        """Read a statement; a text met before (ResNet's many 'bn' lines) is read once. After
        STOP_AFTER problems the rest is not read: nobody fixes a hundred lines from one list."""
        stmt = self.read.get(tok.text)
        if stmt is None and len(self.issues) >= STOP_AFTER:
            if not self.stopped:
                self.stopped = True
                self.issues.append(Issue(tok.line, f"reading stopped here, after {STOP_AFTER} "
                                                   f"problems; fix those first"))
            self.drops.append(tok.line)
            return Raw(tok.line, kind="skip")
        if stmt is None:
            try:
                stmt = read_statement(tok.text, tok.line, self.issues)
            except SpecError as exc:
                self.issues.extend(exc.issues)
                self.drops.append(tok.line)
                return Raw(tok.line, kind="skip")
            self.read[tok.text] = stmt
        return Raw(tok.line, stmt=stmt)

    def peek(self, offset: int = 0) -> Token | None:
        i = self.pos + offset
        return self.toks[i] if i < len(self.toks) else None

    def seq(self, level: int, opener: Token | None) -> list[Raw]:
        out: list[Raw] = []
        while (tok := self.peek()) is not None:
            if tok.kind == "}":
                self.pos += 1
                if opener is None:
                    self.issues.append(Issue(tok.line, "'}' closes no block (unbalanced braces)"))
                    continue
                return out
            if tok.kind == "{":
                self.pos += 1
                self.issues.append(Issue(tok.line, "'{' must follow a block name such as "
                                                   "concat, residual, branch or repeat N"))
                self.drops.append(tok.line)
                out.append(Raw(tok.line, kind="bad", children=self.seq(level + 1, tok)))
                continue
            nxt = self.peek(1)
            self.pos += 1
            if nxt is not None and nxt.kind == "{" and (_opens_block(tok.text)
                                                         or nxt.line == tok.line):
                out.append(self.block(tok, level + 1))
            else:
                out.append(self.statement(tok))
        if opener is not None:
            self.issues.append(Issue(opener.line, f"the block opened on line {opener.line} is "
                                                  f"never closed (unbalanced braces: add '}}')"))
            self.drops.append(opener.line)
        return out

    def block(self, header: Token, level: int) -> Raw:
        if level > LIMITS.max_nesting:
            raise LimitError("max_nesting", f"blocks are nested more than "
                             f"{LIMITS.max_nesting} deep", header.line)
        try:
            raw = _block_header(header.text, header.line)
        except SpecError as exc:
            self.issues.extend(exc.issues)
            self.drops.append(header.line)
            raw = Raw(header.line, kind="bad")
        opener = self.toks[self.pos]
        self.pos += 1  # the '{'
        raw.children = self.seq(level, opener)
        if raw.kind == "residual" and (t := self.peek()) and t.kind == "stmt" \
                and t.text.strip().lower() == "shortcut":
            if (o := self.peek(1)) is None or o.kind != "{":
                self.issues.append(Issue(t.line, "'shortcut' must be followed by '{'"))
                self.drops.append(t.line)
                self.pos += 1
                return raw
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
        raise SpecError(f"'{short(text.strip())}' cannot open a block{suggest(kind, BLOCK_WORDS)}; "
                        f"expected one of {', '.join(BLOCK_WORDS)}", line)
    raw = Raw(line, kind=kind, name=name)
    rest = words[1:]
    if kind == "repeat":
        if len(rest) != 1 or not isnum(rest[0]):
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


@dataclass(frozen=True, slots=True)
class Parsed:
    """A spec read as far as it could be: the network of its good lines and every problem."""

    network: Network | None
    issues: tuple[Issue, ...]
    #: the first line left out (shapes computed after it are not to be trusted); 0 if none
    dropped: int = 0


def read_spec(text: str) -> Parsed:
    """Parse a text spec, collecting every problem (limits are still raised at once)."""
    if len(text.encode("utf-8", "surrogatepass")) > LIMITS.max_body_bytes:
        raise LimitError("max_body_bytes", f"the spec is larger than "
                         f"{LIMITS.max_body_bytes // 1024} KiB")
    issues: list[Issue] = []
    tokens = tokenize(text, issues)
    drops = [i.line for i in issues]
    parser = _Parser(tokens, issues)
    raws = parser.seq(0, None)
    return build(raws, issues, drops + parser.drops)


def build(raws: list[Raw], issues: list[Issue], drops: list[int]) -> Parsed:
    """The network of a raw tree, once its size is known to be within the limits."""
    check_work(raws)
    net = _NetworkAssembler(issues, drops).network(raws)
    return Parsed(net, tuple(issues), min(drops, default=0))


def parse_spec(text: str) -> Network:
    """Parse a text spec; raise SpecError listing every problem, each with its line."""
    return _network(read_spec(text))


def _network(parsed: Parsed) -> Network:
    if parsed.issues or parsed.network is None:
        raise spec_error(capped(list(parsed.issues)))
    return parsed.network


def capped(issues: list[Issue]) -> list[Issue]:
    """The problems in line order, at most MAX_ISSUES of them and a line saying how many more."""
    issues = sorted(dict.fromkeys(issues), key=lambda i: i.line)
    if len(issues) <= MAX_ISSUES:
        return issues
    more = len(issues) - MAX_ISSUES
    return [*issues[:MAX_ISSUES], Issue(0, f"... and {more} more problem(s) not listed; fix "
                                           f"these first")]


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


