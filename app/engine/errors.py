"""Errors the engine raises. The web layer turns them into 422 responses.

    SpecError                 a spec that cannot be analysed; carries every issue found
     +-- LimitError           a size limit was exceeded (checked before any work)

Each :class:`Issue` names the line (1-based; 0 when the problem is not tied to a line) and says
what is wrong and, where possible, how to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_SURROGATES = re.compile("[\ud800-\udfff]")
#: characters that show nothing, or turn the text after them around: the C0 and C1 controls but
#: the tab, the bidirectional embeddings, overrides, isolates and marks, zero-width spaces and
#: joiners, the word joiner and invisible operators, the byte order mark
INVISIBLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e"
                       "\u2060-\u206f\ufeff\ufff9-\ufffb]")


def visible(text: str) -> str:
    """``text`` with each invisible character written out (``\\u202e``): a right-to-left
    override quoted in a message would otherwise turn the rest of the message around, and a
    zero-width space pasted from a slide would be a problem nobody can see."""
    return INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def short(text: str, most: int = 60) -> str:
    """Quote user text in a message without echoing a 64 KiB line back (and without a lone
    surrogate, which no encoder can write, or an invisible character: see :func:`visible`)."""
    text = visible(_SURROGATES.sub("\ufffd", text))
    return text if len(text) <= most else text[: most - 1] + "…"


def isnum(text: str) -> bool:
    """A whole number written in ASCII digits (``str.isdigit`` also accepts ``²``)."""
    return text.isascii() and text.isdigit()


#: the longest word :func:`closest` looks at
MAX_SUGGESTED = 40


def edit_distance(a: str, b: str) -> int:
    """Insertions, deletions, substitutions and swaps of two neighbours ("covn" -> "conv" is
    one) that turn ``a`` into ``b`` (the optimal string alignment distance)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[-1]


def _affix(a: str, b: str) -> int:
    """How many letters ``a`` and ``b`` share at their start and end."""
    start = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                 min(len(a), len(b)))
    end = next((i for i, (x, y) in enumerate(zip(a[::-1], b[::-1], strict=False)) if x != y),
               min(len(a), len(b)))
    return start + end


def _sibling(word: str, choice: str, choices: Iterable[str]) -> bool:
    """Whether ``choice`` is another variant of a family ``word`` names: the two end in the
    same valid word ("conv") after modifiers that are not typos of each other ("sep" and
    "up": a separable conv is not a transposed one)."""
    known = set(choices)
    for k in range(3, min(len(word), len(choice))):
        tail = word[-k:]
        if choice.endswith(tail) and tail in known:
            a, b = word[:-k], choice[:-k]
            if edit_distance(a, b) > max(len(a), len(b)) / 2:
                return True
    return False


def closest(word: str, choices: Iterable[str] | Mapping[str, str], n: int = 3) -> list[str]:
    """The ``n`` choices nearest ``word``: within an edit distance of a third of its length
    (at least one), or valid words it wraps ("conv" in "sepconv"); never another variant of
    its family ("upconv" for "sepconv"). Ranked by distance, then by the letters shared at
    both ends, then by length; with a mapping (spelling -> op), one spelling an op, its own
    name first."""
    if len(word) > MAX_SUGGESTED:  # no misspelling is that long: bound the work
        return []
    ops = choices if isinstance(choices, Mapping) else {c: c for c in choices}
    lowered = {c.lower(): c for c in ops}
    w = word.lower()
    limit = max(1, len(w) // 3)
    ranked = []
    for low, spelling in lowered.items():
        wraps = len(low) >= 3 and low != w and (w.endswith(low) or w.startswith(low))
        if abs(len(low) - len(w)) > limit and not wraps:
            continue  # the distance is at least the difference in length
        distance = edit_distance(w, low)
        if (distance <= limit or wraps) and not _sibling(w, low, lowered):
            canonical = ops[spelling] == spelling
            ranked.append((distance, -_affix(w, low), not canonical, abs(len(low) - len(w)),
                           low, spelling))
    out: list[str] = []
    seen: set[str] = set()
    for *_, spelling in sorted(ranked):
        if ops[spelling] not in seen:
            seen.add(ops[spelling])
            out.append(spelling)
    return out[:n]


def suggest(word: str, choices: Iterable[str] | Mapping[str, str], n: int = 1) -> str:
    """"; did you mean `stride`?" for a near miss, with up to ``n - 1`` runners-up after it
    ("(or `padding`)"); "" when nothing is near."""
    close = closest(word, choices, n)
    if not close:
        return ""
    rest = f" (or {', '.join(f'`{c}`' for c in close[1:])})" if close[1:] else ""
    return f"; did you mean `{close[0]}`?{rest}"


@dataclass(frozen=True, slots=True)
class Issue:
    line: int
    message: str
    layer: str | None = None
    #: the request parameter at fault (``input``, ``batch``), when it is not a line of the spec
    parameter: str | None = None
    #: the limit exceeded (``max_layers``), when the problem is one
    limit: str | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"line": self.line, "message": self.message}
        if self.layer is not None:
            out["layer"] = self.layer
        if self.parameter is not None:
            out["parameter"] = self.parameter
        if self.limit is not None:
            out["limit"] = self.limit
        return out


class SpecError(ValueError):
    """The spec cannot be analysed. ``issues`` lists every problem found."""

    def __init__(self, issues: list[Issue] | Issue | str, line: int = 0, layer: str | None = None,
                 parameter: str | None = None):
        if isinstance(issues, str):
            issues = [Issue(line, issues, layer, parameter)]
        elif isinstance(issues, Issue):
            issues = [issues]
        self.issues: list[Issue] = issues
        #: the limit exceeded, when one of the problems is a limit
        self.limit: str | None = next((i.limit for i in issues if i.limit), None)
        super().__init__("; ".join(f"line {i.line}: {i.message}" for i in issues))


class LimitError(SpecError):
    """A size limit was exceeded; ``limit`` names it (e.g. ``max_layers``)."""

    def __init__(self, limit: str, message: str, line: int = 0, parameter: str | None = None):
        super().__init__([Issue(line, message, parameter=parameter, limit=limit)])


def spec_error(issues: list[Issue]) -> SpecError:
    """One error carrying every problem: a LimitError when one of them is a limit."""
    error = SpecError(issues)
    if error.limit is not None:
        error.__class__ = LimitError
    return error
