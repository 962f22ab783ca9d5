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
import sys
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
#: what only a body with a surrogate escape, a long number, a large exponent or a non-finite
#: constant contains (the text is valid UTF-8, so a surrogate can only come as an escape)
_SUSPECT = re.compile(r"\\u[dD][89a-fA-F]|[0-9]{16}|[eE][+-]?[0-9]{3}|NaN|Infinity")


@dataclass(frozen=True, slots=True)
class _Refused:
    """``NaN``, ``Infinity`` or ``-Infinity``: constants ``json`` reads but JSON does not have."""

    text: str


def _constant(text: str) -> _Refused:
    return _Refused(text)


def depth_over_limit(text: str) -> int | None:
    """How deep arrays and objects nest in ``text`` when that is past :data:`MAX_JSON_DEPTH`,
    else None (brackets inside strings do not count)."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return None  # too few brackets to nest too deep, whatever their order
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    depth = max(accumulate(_STEP[b] for b in brackets), default=0)
    return depth if depth > MAX_JSON_DEPTH else None


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


def _number_problem(value: object) -> tuple[str, str | None] | None:
    """What is wrong with a decoded number, and the limit it breaks; None when it is fine."""
    if isinstance(value, _Refused):
        return f"{value.text} is not a number JSON allows; use a finite number", None
    if isinstance(value, float) and not math.isfinite(value):
        return "the number is too large (it overflows a float to infinity)", None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > LIMITS.max_total:
        return (f"{short(str(value), 30)} is out of range: whole numbers must be at most "
                f"{LIMITS.max_total:,} (max_total)", "max_total")
    return None


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
    elif isinstance(value, str):
        if _SURROGATE.search(value):
            yield _surrogate(path, value)
    elif (problem := _number_problem(value)) is not None:
        yield _item(path, *problem)


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
    depth = depth_over_limit(text)
    if depth is not None:
        return [ErrorItem(line=0, parameter="body", limit="max_json_depth", message=(
            f"the request body nests arrays and objects {depth:,} deep; the limit is "
            f"{MAX_JSON_DEPTH} (max_json_depth)"))]
    try:
        value = json.loads(text, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        return [ErrorItem(line=0, parameter="body", message=(
            f"the request body is not valid JSON: {exc.msg} (at character {exc.pos})"))]
    except ValueError:  # int() refuses more than sys.get_int_max_str_digits() digits
        return [ErrorItem(line=0, parameter="body", limit="max_total", message=(
            f"the request body has a whole number of more than {sys.get_int_max_str_digits():,} "
            f"digits; numbers must be at most {LIMITS.max_total:,} (max_total)"))]
    if not _SUSPECT.search(text):  # the usual body: nothing the walk below could find
        return []
    return list(islice(_problems(value, ()), MAX_PROBLEMS))
