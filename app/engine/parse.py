"""Text spec -> Network.

Two steps: ``app.engine.statements`` cuts the text into statements and braces and reads them
into a raw tree of statements and blocks, checking nesting and balance; ``app.engine.assemble``
counts the work (layers and repeat passes, against ``max_layers``, before anything is
expanded), expands ``repeat`` and gives every layer and block a unique, readable name.

Every problem is collected rather than raised at once: a bad line is reported and left out (or,
for a misspelt option, read as meant), and reading goes on, so a student sees every mistake in
one answer. :class:`Parsed` carries the network built from the good lines, the problems, and
the first line left out (shapes after it cannot be trusted).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.engine.assemble import LAYER_STEMS, MAX_ISSUES, assemble, check_input, check_work
from app.engine.errors import Issue, LimitError, spec_error
from app.engine.graph import Network
from app.engine.limits import LIMITS
from app.engine.statements import Raw, StatementReader, tokenize

__all__ = ["LAYER_STEMS", "Parsed", "Raw", "build", "capped", "check_input", "parse_spec",
           "read_spec", "tokenize"]


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
    parser = StatementReader(tokens, issues)
    raws = parser.seq(0, None)
    return build(raws, issues, drops + parser.drops)


def build(raws: list[Raw], issues: list[Issue], drops: list[int]) -> Parsed:
    """The network of a raw tree, once its size is known to be within the limits."""
    check_work(raws)
    net = assemble(raws, issues, drops)
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

