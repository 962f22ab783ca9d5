"""Strict reading of a JSON request body, before FastAPI parses it.

Python's ``json`` accepts what archcalc must refuse, and fails on some inputs in ways FastAPI
answers with a 400 outside the error shape (or with a 500 further on). This module finds every
such problem in a body and says where it is; ``app.web.middleware`` answers 422 with them:

* bytes that are not UTF-8 (RFC 8259 requires it);
* arrays and objects nested deeper than :data:`MAX_JSON_DEPTH` (``json`` recurses, and the
  JSON form never needs more: 16 nested blocks take about 52 levels);
* ``NaN``, ``Infinity``, ``-Infinity`` and numbers that overflow a float (``1e400``);
* whole numbers past ``max_total`` (2^53 - 1), which JSON cannot carry exactly (a 309-digit
  number would overflow a float in the engine; 4,301 digits make ``int()`` itself refuse);
* lone surrogates (``"\\ud800"``) in strings or keys, which no UTF-8 answer can echo.

A body that is not JSON at all is reported with the position where reading stopped; an empty
body is left to FastAPI, which says it is missing.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate, islice
from typing import Any

from app.engine.errors import short
from app.engine.limits import LIMITS
from app.web.schemas import ErrorItem

MAX_JSON_DEPTH = 64
#: report at most this many problems of one body
MAX_PROBLEMS = 20

_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_SURROGATE = re.compile("[\ud800-\udfff]")
#: whole numbers with more digits than this are out of range without converting them
_MOST_DIGITS = len(str(LIMITS.max_total))


@dataclass(frozen=True, slots=True)
class _Refused:
    """A number ``json`` would read that archcalc does not accept; ``why`` says what is wrong."""

    text: str
    why: str


def _integer(text: str) -> int | _Refused:
    digits = text.lstrip("-")
    if len(digits) <= _MOST_DIGITS and abs(value := int(text)) <= LIMITS.max_total:
        return value
    return _Refused(text, f"is out of range: whole numbers must be at most "
                          f"{LIMITS.max_total:,} (max_total)")


def _real(text: str) -> float | _Refused:
    value = float(text)
    return value if math.isfinite(value) else _Refused(text, "is too large for a number")


def _constant(text: str) -> _Refused:
    return _Refused(text, "is not a number JSON allows; use a finite number")


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in ``text`` (brackets inside strings do not count)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(_STEP[b] for b in brackets), default=0)


def _where(path: tuple[str, ...]) -> str:
    return ".".join(path) if path else "the request body"


def _item(path: tuple[str, ...], message: str, limit: str | None = None) -> ErrorItem:
    return ErrorItem(line=0, message=f"{_where(path)}: {message}", limit=limit,
                     parameter=path[0] if path else "body")


def _surrogate(path: tuple[str, ...], text: str) -> ErrorItem:
    found = _SURROGATE.search(text)
    code = f"\\u{ord(found.group()):04x}" if found else ""
    return _item(path, f"the text has a lone surrogate {code}, which is not a character; "
                       "send valid Unicode")


def _problems(value: Any, path: tuple[str, ...]) -> Iterator[ErrorItem]:
    """Every refused number and surrogate in a decoded body, depth first."""
    if isinstance(value, dict):
        for key, item in value.items():
            if _SURROGATE.search(key):
                yield _surrogate((*path, key.encode("utf-8", "backslashreplace").decode()), key)
            yield from _problems(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _problems(item, (*path, str(index)))
    elif isinstance(value, str) and _SURROGATE.search(value):
        yield _surrogate(path, value)
    elif isinstance(value, _Refused):
        limit = "max_total" if "max_total" in value.why else None
        yield _item(path, f"{short(value.text, 30)} {value.why}", limit)


def json_body_problems(body: bytes) -> list[ErrorItem]:
    """What archcalc refuses in this JSON body; empty when it is fine (or empty)."""
    if not body:
        return []
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [ErrorItem(line=0, parameter="body", message=(
            f"the request body is not valid UTF-8 (byte 0x{body[exc.start]:02x} at position "
            f"{exc.start}); JSON must be sent as UTF-8"))]
    depth = nesting_depth(text)
    if depth > MAX_JSON_DEPTH:
        return [ErrorItem(line=0, parameter="body", limit="max_json_depth", message=(
            f"the request body nests arrays and objects {depth:,} deep; the limit is "
            f"{MAX_JSON_DEPTH} (max_json_depth)"))]
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_real,
                           parse_constant=_constant)
    except json.JSONDecodeError as exc:
        return [ErrorItem(line=0, parameter="body", message=(
            f"the request body is not valid JSON: {exc.msg} (at character {exc.pos})"))]
    return list(islice(_problems(value, ()), MAX_PROBLEMS))
