"""Errors the engine raises. The web layer turns them into 422 responses.

    SpecError                 a spec that cannot be analysed; carries one or more issues
     +-- LimitError           a size limit was exceeded (checked before any work)

Each :class:`Issue` names the line (1-based; 0 when the problem is not tied to a line) and says
what is wrong and, where possible, how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass


def short(text: str, most: int = 60) -> str:
    """Quote user text in a message without echoing a 64 KiB line back."""
    return text if len(text) <= most else text[: most - 1] + "…"


@dataclass(frozen=True, slots=True)
class Issue:
    line: int
    message: str
    layer: str | None = None
    #: the request parameter at fault (``input``, ``batch``), when it is not a line of the spec
    parameter: str | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"line": self.line, "message": self.message}
        if self.layer is not None:
            out["layer"] = self.layer
        if self.parameter is not None:
            out["parameter"] = self.parameter
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
        super().__init__("; ".join(f"line {i.line}: {i.message}" for i in issues))


class LimitError(SpecError):
    """A size limit was exceeded; ``limit`` names it (e.g. ``max_layers``)."""

    def __init__(self, limit: str, message: str, line: int = 0, parameter: str | None = None):
        self.limit = limit
        super().__init__([Issue(line, message, parameter=parameter)])
