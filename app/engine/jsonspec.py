"""The JSON form of a spec -> Network, through the same network assembler as the text form.

``line`` in errors is the 1-based position of the offending entry in depth-first order.
"""

from __future__ import annotations

import math
import re
from typing import Any

from app.engine.errors import INVISIBLE, Issue, LimitError, SpecError, isnum, short, suggest
from app.engine.graph import Claim, Network, Volume
from app.engine.limits import LIMITS
from app.engine.notation import CANONICAL, CLAIM_KEYS, Stmt
from app.engine.optable import MERGE_OPS
from app.engine.parse import Parsed, Raw, _network, build

_PAIR_KEYS = ("kernel", "stride", "pad", "dilation")
_BLOCKS = ("concat", "join", "split", "residual", "dense", "aux", "scale", "repeat")


class _Reader:
    def __init__(self) -> None:
        self.line = 0
        self.issues: list[Issue] = []
        self.drops: list[int] = []

    def seq(self, items: Any, level: int, where: str) -> list[Raw]:
        if not isinstance(items, list):
            raise SpecError(f"{where} must be a list of layers", self.line)
        if level > LIMITS.max_nesting:
            raise LimitError("max_nesting", f"blocks are nested more than "
                             f"{LIMITS.max_nesting} deep", self.line)
        out = []
        for item in items:
            try:
                out.append(self.node(item, level))
            except LimitError:
                raise
            except SpecError as exc:  # report it, leave the entry out, read on
                self.issues.extend(exc.issues)
                self.drops.extend(i.line for i in exc.issues)
                out.append(Raw(self.line, kind="skip"))
        return out

    def node(self, item: Any, level: int) -> Raw:
        self.line += 1
        line = self.line
        if not isinstance(item, dict) or not isinstance(item.get("op"), str):
            raise SpecError("each layer must be an object with an 'op'", line)
        op = item["op"].lower()
        name = item.get("name")
        if name is not None and not isinstance(name, str):
            raise SpecError("'name' must be a string", line)
        if name is not None and INVISIBLE.search(name):
            raise SpecError(f"'name' '{short(name)}' has an invisible or direction-changing "
                            "character; a name is shown on every page, so it may not", line)
        if op in _BLOCKS and not (op == "concat" and "inputs" in item):
            return self.block(op, item, name, line, level + 1)
        canonical = CANONICAL.get(op)
        if canonical is None:
            hint = suggest(op, {**CANONICAL, **{b: b for b in _BLOCKS}}, 3)
            raise SpecError(f"unknown op '{short(op)}'{hint}", line)
        args = {k: _arg(k, v, line) for k, v in item.items()
                if k not in ("op", "name", "claims", "from", "inputs", "to", "size")
                or (k == "size" and canonical != "crop")}
        if canonical == "crop" and "size" in item:
            args["kernel"] = _arg("kernel", item["size"], line)
        if "to" in item:
            args["to"] = _name(item["to"], "to", line)
        return Raw(line, stmt=Stmt("layer", op=canonical, args=args, name=name,
                                   claims=_claims(item.get("claims"), line),
                                   refs=_refs(canonical, item, line)))

    def block(self, op: str, item: dict[str, Any], name: str | None, line: int,
              level: int) -> Raw:
        raw = Raw(line, kind=op, name=name)
        if op in ("concat", "join", "split"):
            branches = item.get("branches")
            if not isinstance(branches, list):
                raise SpecError(f"{op} needs 'branches': a list of layer lists", line)
            raw.children = [Raw(line, kind="branch", children=self.seq(b, level, "a branch"))
                            for b in branches]
            return raw
        raw.children = self.seq(item.get("body", []), level, f"{op} body")
        if op == "repeat":
            times = item.get("times")
            if not isinstance(times, int) or isinstance(times, bool) or times < 1:
                raise SpecError("repeat needs 'times', a whole number of at least 1", line)
            raw.times = times
        if op == "residual":
            short = item.get("shortcut")
            raw.shortcut = self.seq(short, level, "shortcut") if short else None
            surv = item.get("survival")
            if surv is not None:
                if not isinstance(surv, (int, float)) or not 0 < surv <= 1:
                    raise SpecError("survival must be a number in (0, 1]", line)
                raw.survival = float(surv)
        return raw


def _name(value: Any, key: str, line: int) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_][\w.\-]*", value):
        raise SpecError(f"'{key}' must name a layer (letters, digits, _ . -), got "
                        f"{short(repr(value))}", line)
    return value


def _refs(op: str, item: dict[str, Any], line: int) -> tuple[str, ...]:
    """The names an entry reads: a merge's ``inputs``, another op's ``from``."""
    if op in MERGE_OPS:
        inputs = item.get("inputs")
        if not isinstance(inputs, list) or len(inputs) < 2:
            raise SpecError(f"{op} needs 'inputs': a list of two or more layer names", line)
        names = tuple(_name(v, "inputs", line) for v in inputs)
        if len(set(names)) < len(names):
            raise SpecError(f"{op} names the same layer twice", line)
        return names
    if "inputs" in item:
        raise SpecError(f"{op} reads one input: give 'from' (only concat, add and mul take "
                        f"'inputs')", line)
    return (_name(item["from"], "from", line),) if "from" in item else ()


def _outputs(obj: Any) -> list[Raw]:
    if obj is None:
        return []
    if not isinstance(obj, list) or not obj:
        raise SpecError("'outputs' must be a list of layer names", 0, parameter="spec")
    return [Raw(0, stmt=Stmt("output", refs=tuple(_name(v, "outputs", 0) for v in obj)))]


def _arg(key: str, value: Any, line: int) -> Any:
    if key in _PAIR_KEYS:
        if key == "pad" and value == "same":
            return "same"
        if isinstance(value, int) and not isinstance(value, bool):
            return (value, value)
        if isinstance(value, str) and "x" in value.lower():
            parts = value.lower().split("x")
            if len(parts) == 2 and all(isnum(p.strip()) for p in parts):
                return (int(parts[0]), int(parts[1]))
        if (isinstance(value, list) and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
            return (value[0], value[1])
        raise SpecError(f"'{key}' must be a whole number or [h, w], got {short(repr(value))}", line)
    if key in ("out", "groups", "size"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise SpecError(f"'{key}' must be a whole number, got {short(repr(value))}", line)
        return value
    if key in ("bias", "ceil"):
        if not isinstance(value, bool):
            raise SpecError(f"'{key}' must be true or false", line)
        return value
    if key == "p":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise SpecError("'p' must be a number", line)
        try:
            p = float(value)
        except OverflowError:
            p = math.inf
        if not math.isfinite(p):
            raise SpecError("'p' must be a probability in [0, 1)", line)
        return p
    raise SpecError(f"unknown key '{short(key)}'", line)


def _claims(obj: Any, line: int) -> tuple[Claim, ...]:
    if obj is None:
        return ()
    if not isinstance(obj, dict):
        raise SpecError("'claims' must be an object such as {\"output\": \"55x55x96\"}", line)
    out = []
    for k, v in obj.items():
        if k.lower() not in CLAIM_KEYS:
            raise SpecError(f"unknown claim '{short(k)}'", line)
        out.append(Claim(CLAIM_KEYS[k.lower()], str(v)))
    return tuple(out)


def _input(obj: Any) -> Volume:
    if isinstance(obj, dict):
        vals = [obj.get(k) for k in ("h", "w", "c")]
    elif isinstance(obj, str):
        vals = [int(p) if isnum(p.strip()) and len(p.strip()) < 19 else None
                for p in obj.lower().split("x")]
    elif isinstance(obj, list):
        vals = list(obj)
    else:
        vals = []
    if len(vals) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        raise SpecError("'input' must be {\"h\": H, \"w\": W, \"c\": C}, [H, W, C] or 'HxWxC'", 0,
                        parameter="spec")
    return Volume(*vals)  # type: ignore[arg-type]


def read_json_spec(obj: dict[str, Any]) -> Parsed:
    """The JSON form read as far as it can be, every problem collected."""
    if not isinstance(obj, dict):
        raise SpecError("a JSON spec must be an object with 'input' and 'layers'",
                        parameter="spec")
    if "input" not in obj:
        raise SpecError("no input: give 'input': {\"h\": 227, \"w\": 227, \"c\": 3}", 0,
                        parameter="spec")
    vol = _input(obj["input"])
    for big in vol:
        if big > 2**53:
            raise SpecError("'input' sizes must be at most 2^53", 0, parameter="spec")
    reader = _Reader()
    raws = [Raw(0, stmt=Stmt("input", volume=vol)), *reader.seq(obj.get("layers", []), 0,
                                                                "'layers'"),
            *_outputs(obj.get("outputs"))]
    return build(raws, reader.issues, reader.drops)


def parse_json_spec(obj: dict[str, Any]) -> Network:
    """The JSON form -> Network; SpecError listing every problem."""
    return _network(read_json_spec(obj))
