"""Spec text -> a raw tree of statements and blocks, with their line numbers.

:func:`tokenize` cuts the text into statements and braces; :class:`StatementReader` reads each
statement (``app.engine.notation``) and nests the blocks, checking that braces balance. A line
that cannot be read is reported and left out, and reading goes on, so that a student sees every
mistake in one answer; what the tree means (names, repeats, the graph) is worked out after, in
``app.engine.assemble``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.engine.errors import Issue, LimitError, SpecError, isnum, short, suggest
from app.engine.graph import BLOCK_WORDS
from app.engine.limits import LIMITS
from app.engine.lines import split_lines
from app.engine.notation import Stmt, read_statement

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


class StatementReader:
    """Reads tokens into a raw tree: statements, and blocks holding their children."""

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

