"""A live session's state as plain data: what the class follows, the question asked of it, and
how the answers are judged and grouped. No I/O here: the stores keep these values, the hub
carries them, the router renders them.

A room follows the instructor's calculator as a query string (spec, options, reveal step, open
working: whatever the instructor's URL says), so "what the instructor shows" has one definition
and any page state that a link can reproduce is followed without a second model of it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from typing import Any, Literal

from app.engine.claims import check_claims, read_parts
from app.engine.graph import Claim
from app.engine.result import Analysis, ClaimResult, LayerRow

#: join codes avoid letters and digits that read alike on a projector (0/O, 1/I/L, 5/S, 2/Z)
CODE_ALPHABET = "346789ABCDEFGHJKMNPQRTUVWXY"
CODE_LENGTH = 6
#: the longest answer a student may send, in characters (a volume or a number fits in 40)
MAX_ANSWER = 64

Field = Literal["output", "params", "macs", "activations", "rf"]
#: what the instructor can ask about a row, and how the question reads
FIELDS: dict[str, str] = {
    "output": "What is the output volume of {layer}?",
    "params": "How many parameters does {layer} have?",
    "macs": "How many multiply-adds does {layer} take?",
    "activations": "How many values does {layer} output (its activations)?",
    "rf": "What is the receptive field of {layer}?",
}
_CODE_RE = re.compile(f"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def clean_code(text: str) -> str | None:
    """A join code as typed (any case, spaces or a dash inside), or None if it cannot be one."""
    code = re.sub(r"[\s-]", "", text).upper()[:CODE_LENGTH * 2]
    return code if _CODE_RE.match(code) else None


def new_key() -> str:
    """The instructor's capability: 256 random bits, shown once, stored only as a digest."""
    return secrets.token_urlsafe(32)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_matches(key: str, digest: str) -> bool:
    return hmac.compare_digest(key_digest(key), digest)


@dataclass(frozen=True, slots=True)
class Question:
    """One question put to the class about one row of the followed result."""

    id: str
    query: str  # the followed state when it was asked: answers are judged against it
    row: int
    field: str
    layer: str
    line: int
    revealed: bool = False

    @property
    def prompt(self) -> str:
        return FIELDS[self.field].format(layer=self.layer)


@dataclass(frozen=True, slots=True)
class Room:
    code: str
    key_digest: str
    query: str  # the instructor's calculator state, as its URL's query string
    version: int = 0
    question: Question | None = None
    show_histogram: bool = True
    created: float = 0.0
    touched: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @staticmethod
    def from_json(text: str) -> Room:
        doc: dict[str, Any] = json.loads(text)
        q = doc.pop("question", None)
        return Room(**doc, question=Question(**q) if q else None)

    def following(self, query: str, now: float) -> Room:
        return replace(self, query=query, version=self.version + 1, touched=now)


def ask(room: Room, analysis: Analysis, row: int, field: str, now: float) -> Room:
    """The room with a new question about ``row``'s ``field`` (both already validated)."""
    r = analysis.layers[row]
    question = Question(id=secrets.token_hex(4), query=room.query, row=row, field=field,
                        layer=r.name, line=r.line)
    return replace(room, question=question, version=room.version + 1, touched=now)


def right_answer(row: LayerRow, field: str) -> tuple[str, str]:
    """The computed value as a student would write it, and its working."""
    f = row.formulas
    if field == "output":
        o = row.output
        return (f"{o.h}x{o.w}x{o.c}", f"H: {f.get('h')}; W: {f.get('w')}; C: {f.get('c')}")
    if field == "rf":
        return f"{int(row.rf.size)}", str(f.get("rf", ""))
    value = int(getattr(row, field))
    return f"{value:,}", str(f.get(field, f"{value:,}"))


def judge(row: LayerRow, field: str, answer: str) -> ClaimResult:
    """A student's answer, judged as the calculator judges a figure written on a line."""
    (result,) = check_claims((Claim(field, answer),), row)
    return result


def group_key(field: str, answer: str) -> str:
    """Answers that mean the same value share a key ("55 x 55 x 96" and "55x55x96"; "35,000"
    and "35000"); a short digest, so it can stand in markup whatever the student typed."""
    text = answer.strip()
    norm: str
    if field == "output":
        dims = re.findall(r"[0-9]+", text.replace(",", ""))
        norm = "v:" + "x".join(str(int(d)) for d in dims) if dims else "t:" + text.lower()
    else:
        parts = read_parts(text)
        norm = ("n:" + str(Fraction(parts[0].value)) if parts and len(parts) == 1
                else "t:" + " ".join(text.lower().split()))
    return hashlib.sha256(norm.encode()).hexdigest()[:12]


@dataclass(slots=True)
class Bar:
    key: str
    label: str  # the first spelling the class used for this value
    count: int
    verdict: ClaimResult | None = None


@dataclass(slots=True)
class Histogram:
    """The distinct answers to a question, most frequent first, with their counts."""

    total: int = 0
    bars: list[Bar] = field(default_factory=list)


def histogram(field_name: str, answers: list[str], row: LayerRow | None,
              limit: int = 12) -> Histogram:
    """Group ``answers`` by value; past ``limit`` distinct values the rest share one bar.
    With ``row`` (at reveal), each bar carries its judgement."""
    bars: dict[str, Bar] = {}
    spellings: dict[str, dict[str, int]] = {}
    for a in answers:
        key = group_key(field_name, a)
        text = a.strip()
        bar = bars.get(key)
        if bar is None:
            bars[key] = Bar(key, text, 1)
        else:
            bar.count += 1
        seen = spellings.setdefault(key, {})
        seen[text] = seen.get(text, 0) + 1
    for key, bar in bars.items():  # a group is labelled with the class's commonest spelling
        bar.label = min(spellings[key].items(), key=lambda s: (-s[1], len(s[0]), s[0]))[0]
    ranked = sorted(bars.values(), key=lambda b: (-b.count, b.label))
    if row is not None:
        for b in ranked:
            b.verdict = judge(row, field_name, b.label)
    if len(ranked) > limit:
        rest = ranked[limit - 1:]
        ranked = [*ranked[:limit - 1],
                  Bar("other", f"{len(rest)} other answers", sum(b.count for b in rest))]
    return Histogram(total=len(answers), bars=ranked)
