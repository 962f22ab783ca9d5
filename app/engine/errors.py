"""Errors the engine raises. The web layer turns them into 422 responses.

    SpecError                 a spec that cannot be analysed; carries every issue found
     +-- LimitError           a size limit was exceeded (checked before any work)

Each :class:`Issue` names the line (1-based; 0 when the problem is not tied to a line) and says
what is wrong and, where possible, how to fix it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
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


def suggest(word: str, choices: Iterable[str]) -> str:
    """"; did you mean `stride`?" for a near miss, else ""."""
    options = list(choices)
    lowered = {c.lower(): c for c in options}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.7)
    close = [lowered[c] for c in close]
    return f"; did you mean `{close[0]}`?" if close else ""


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
