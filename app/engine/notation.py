"""Reading one statement: the canonical language and the notations pasted from slides and notes.

Every reader returns a :class:`Stmt`; numbers a student wrote about the result (a bracketed
volume, ``memory:``, ``params:`` ...) are kept as claims, never used as input, except the input
line's volume and the VGG notes' ``FC: [1x1x4096]``, whose bracket is the only count given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from app.engine.errors import Issue, SpecError, isnum, short, suggest
from app.engine.graph import BLOCK_WORDS, Claim, Volume
from app.engine.optable import FLAGS, KEYWORDS, LAYER_OPS, MERGE_OPS, OPS, SPELLINGS
from app.engine.torchlines import is_container_line, read_module_line

#: every spelling of every op (from the op table) -> the op
CANONICAL = SPELLINGS
_SIDES = re.compile(r"\b(pad|padding)\s+([0-9]{1,6}(?:\s*,\s*[0-9]{1,6}){1,3})(?![0-9x×])",
                    re.IGNORECASE)
def _one_word_pad(m: re.Match[str]) -> str:
    return m[1] + " " + "~".join(re.split(r"[,\s]+", m[2]))


_DEPTHWISE = frozenset({"depthwise", "dwconv", "depthwise_conv", "dw"})
#: two-word spellings, read as one op when arguments follow ("max pool 3x3 stride 2"); alone,
#: "avg pool" is the slides' global average pool
_TWO_WORDS = {("max", "pool"): "maxpool", ("avg", "pool"): "avgpool",
              ("average", "pool"): "avgpool", ("batch", "norm"): "bn",
              ("global", "avgpool"): "gap"}
CLAIM_KEYS = {
    "memory": "activations", "activations": "activations", "params": "params",
    "parameters": "params", "weights": "weights", "biases": "biases", "macs": "macs",
    "ops": "macs", "flops": "flops", "output": "output", "rf": "rf",
}
_CLAIM_RE = re.compile(r"\b(" + "|".join(CLAIM_KEYS) + r")\s*:\s*", re.IGNORECASE)
#: a bracket of at most 80 characters (bounded, so a line of many '[' stays linear to scan),
#: whose inside is then read by _BRACKET_INSIDE
_BRACKET_RE = re.compile(r"\[([^\[\]]{1,80})\]")
_BRACKET_INSIDE = re.compile(r"\s*([0-9][0-9\s,]*(?:[x×*]\s*[0-9]+\s*){0,2})", re.IGNORECASE)
_WORD_SPLIT = re.compile(r"[\s,]+")
_SIZE_RE = re.compile(r"^([0-9]+)(?:[x×*]([0-9]+))?$")
_VOL_RE = re.compile(r"^([0-9]+)\s*[x×*]\s*([0-9]+)\s*[x×*]\s*([0-9]+)$")


@dataclass(slots=True)
class Stmt:
    kind: str  # layer | input | output | total | directive | noop (a line of structure only)
    op: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    claims: tuple[Claim, ...] = ()
    volume: Volume | None = None
    #: the names it reads, as written: ``from NAME``, a merge's inputs, an ``output`` line's
    refs: tuple[str, ...] = ()


def read_statement(text: str, line: int, soft: list[Issue] | None = None) -> Stmt:
    """Parse one statement (no braces) into a Stmt, or raise SpecError naming the line.

    A problem that still leaves a best reading (a misspelt option, ``strid 2``) is appended to
    ``soft`` and the reading returned, so the shapes after it can still be worked out; without
    ``soft`` it is raised."""
    issues: list[Issue] = [] if soft is None else soft
    before = len(issues)
    stmt = _read_statement(text, line, issues)
    if soft is None and len(issues) > before:
        raise SpecError(issues[before:])
    return stmt


def _read_statement(text: str, line: int, soft: list[Issue]) -> Stmt:
    if is_container_line(text):
        return Stmt("noop")
    module = read_module_line(text, line)
    if module is not None:
        op, args, name = module
        return Stmt("layer", op=op, args=args, name=name)
    low = text.strip().lower()
    if low.startswith("total"):
        return _total(text, line)
    if low.startswith("survival"):
        return Stmt("directive", op="survival", args=_survival_directive(low, line))
    if _OUTPUT.fullmatch(text):
        return Stmt("output", refs=tuple(_NAME_LIST.split(text.strip())[1:]))
    text, claims = _take_claims(text)
    bracket, text = _take_bracket(text)
    name, body = _split_label(text)
    body, refs, crop_to = take_refs(body, line)
    stmt = _read_body(body, name, line, bracket, soft)
    stmt.refs = refs
    if crop_to is not None:
        stmt.args["to"] = crop_to
    if bracket is not None and stmt.kind == "layer" and not stmt.args.pop("_bracket_used", False):
        claims = (Claim("output", bracket), *claims)
    stmt.args.pop("_bracket_used", None)
    stmt.name, stmt.claims = name, claims
    return stmt


_REF = r"[A-Za-z_][\w.\-]*"
_OUTPUT = re.compile(rf"\s*outputs?\s+{_REF}(?:[\s,]+{_REF})*\s*", re.IGNORECASE)
_NAME_LIST = re.compile(r"[\s,]+")
_FROM = re.compile(rf"\bfrom\s+({_REF})", re.IGNORECASE)
_CROP_TO = re.compile(rf"\bto\s+({_REF})", re.IGNORECASE)


def take_refs(body: str, line: int) -> tuple[str, tuple[str, ...], str | None]:
    """The names a layer line reads, taken out of it as written (names keep their case):
    ``from NAME``, a merge's inputs (``concat enc2 up2``) and a crop's ``to NAME``. Returns
    the rest of the line, the inputs and the crop's target."""
    words = body.split()
    head = words[0].lower() if words else ""
    if SPELLINGS.get(head) in MERGE_OPS:
        names = tuple(n for n in _NAME_LIST.split(" ".join(words[1:])) if n)
        bad = [n for n in names if not re.fullmatch(_REF, n)]
        if bad:
            raise SpecError(f"{head} takes the names of the layers it joins, got "
                            f"'{short(bad[0])}'", line)
        if len(names) < 2:
            raise SpecError(f"{head} joins two or more layers named on its line, e.g. "
                            f"'{head} c1 c3'", line)
        if len(set(names)) < len(names):
            raise SpecError(f"{head} names the same layer twice", line)
        return words[0], names, None
    refs: tuple[str, ...] = ()
    found = list(_FROM.finditer(body))
    if len(found) > 1:
        raise SpecError("a layer reads one input: give 'from NAME' once (merge several with "
                        "concat, add or mul)", line)
    if found:
        refs = (found[0][1],)
        body = body[: found[0].start()] + " " + body[found[0].end():]
    crop_to = None
    if SPELLINGS.get(head) == "crop" and (m := _CROP_TO.search(body)):
        crop_to, body = m[1], body[: m.start()] + " " + body[m.end():]
    return body.strip(), refs, crop_to


def _take_claims(text: str) -> tuple[str, tuple[Claim, ...]]:
    matches = list(_CLAIM_RE.finditer(text))
    if not matches:
        return text, ()
    matches = [m for m in matches if text[: m.start()].strip()]
    if not matches:
        return text, ()
    claims = []
    for m, nxt in zip(matches, [*matches[1:], None], strict=False):
        value = text[m.end(): nxt.start() if nxt else len(text)].strip().rstrip(",;")
        if value:
            claims.append(Claim(CLAIM_KEYS[m.group(1).lower()], value))
    return text[: matches[0].start()].strip(), tuple(claims)


def _take_bracket(text: str) -> tuple[str | None, str]:
    for m in _BRACKET_RE.finditer(text):
        inside = _BRACKET_INSIDE.fullmatch(m.group(1))
        if inside:
            inner = re.sub(r"\s+", "", inside.group(1))
            return inner, (text[: m.start()] + " " + text[m.end():]).strip()
    return None, text


def _split_label(text: str) -> tuple[str | None, str]:
    if "(" in text:
        text = re.sub(r"\([^()]{0,200}\)", " ", text)
    text = text.strip()
    if ":" in text:
        left, right = text.split(":", 1)
        left, right = left.strip(), right.strip()
        if left and re.fullmatch(r"[\w.\- ]+", left):
            return left, right
    return None, text


def _read_body(body: str, name: str | None, line: int, bracket: str | None,
               soft: list[Issue]) -> Stmt:
    if not body and name:
        body = name
    # 'pad 0,1' (before, after) and 'pad 1,2,0,1' (top, bottom, left, right) stay one word
    body = _SIDES.sub(_one_word_pad, body)
    words = [w for w in _WORD_SPLIT.split(body.strip().lower()) if w]
    if len(words) >= 2 and (tuple(words[:2]) in _TWO_WORDS) and (len(words) > 2 or
                                                               words[0] in ("batch", "global")):
        words = [_TWO_WORDS[words[0], words[1]], *words[2:]]
    if words[:3] in (["global", "avg", "pool"], ["global", "average", "pool"]):
        words = ["gap", *words[3:]]
    if not words:
        raise SpecError("empty layer: expected an op such as 'conv 64 3x3'", line, name)
    op = SPELLINGS.get(words[0])
    if op is not None:
        return _canonical(op, words[1:], line, bracket, soft)
    if words[0] in _DEPTHWISE:  # 'depthwise 3x3 stride 2': a conv with groups = channels
        conv = _canonical("conv", words[1:], line, bracket, soft)
        conv.args["depthwise"] = True
        return conv
    for reader in (_input, _vgg, _block_label, _slide):
        stmt = reader(words, (name or "").lower(), line, bracket)
        if stmt is not None:
            return stmt
    # a near miss names the three closest words; only a word like none of them lists them all
    hint = suggest(words[0], {**SPELLINGS, "input": "input", **{b: b for b in BLOCK_WORDS}}, 3)
    if hint:
        raise SpecError(f"unknown layer '{short(body.strip())}'{hint}", line, name)
    raise SpecError(f"unknown layer '{short(body.strip())}'; expected one of input, "
                    f"{', '.join(LAYER_OPS)}, or a block ({', '.join(BLOCK_WORDS)})", line, name)


def _input(words: list[str], label: str, line: int, bracket: str | None) -> Stmt | None:
    is_input = (words[0] in ("input", "image", "data")
                or label.split(" ")[0] in ("input", "image", "data"))
    if not is_input:
        return None
    rest = " ".join(w for w in words if w not in ("input", "image", "data", "images", "volume"))
    rest = rest.replace(" ", "x") if re.fullmatch(r"[0-9]+ [0-9]+ [0-9]+", rest) else rest
    text = rest or (bracket or "")
    m = _VOL_RE.match(text.replace(" ", ""))
    if not m:
        raise SpecError(f"input needs a volume H x W x C, e.g. 'input 227x227x3' (got "
                        f"'{short(text) or 'nothing'}')", line)
    return Stmt("input", volume=Volume(int(m[1]), int(m[2]), int(m[3])))


def _size(word: str, line: int, what: str) -> tuple[int, int]:
    m = _SIZE_RE.match(word)
    if not m:
        raise SpecError(f"{what} must look like 3 or 3x3, got '{short(word)}'", line)
    h = int(m[1])
    return h, int(m[2]) if m[2] else h


_GLUED = re.compile(r"(stride|pad|padding|dilation|groups|kernel|s|p|k|d|g)([0-9][0-9x~]*)")
_SLASHED = re.compile(r"([0-9]+(?:x[0-9]+)?)/([0-9]+)")
_COUNT_WORDS = frozenset({"filters", "filter", "neurons", "neuron", "channels", "kernels",
                          "units", "outputs"})


def _normalise(toks: list[str]) -> list[str]:
    """The shorthand people type: 'stride=2', 's2', 'p1', '7x7/2' (kernel, stride), '10 filters'
    (the count before the word), and 'filters' as a filler word ('5x5 filters')."""
    out: list[str] = []
    for t in toks:
        if "=" in t and not t.startswith("="):
            key, _, value = t.partition("=")
            out += [key, value] if value else [key]
        elif (m := _GLUED.fullmatch(t)) and not isnum(t):
            out += [m[1], m[2]]
        elif m := _SLASHED.fullmatch(t):
            out += [m[1], "stride", m[2]]
        else:
            out.append(t)
    fixed: list[str] = []
    for i, t in enumerate(out):
        if t in _COUNT_WORDS:
            if fixed and isnum(fixed[-1]) and (len(fixed) < 2 or fixed[-2] != "out"):
                fixed.insert(len(fixed) - 1, "out")  # '10 filters' -> 'out 10'
                continue
            if i + 1 < len(out) and isnum(out[i + 1]):
                fixed.append("out")  # 'filters 10'
            continue  # 'filters' as a filler word
        fixed.append(t)
    return fixed


class _Once(dict[str, Any]):
    """A layer's arguments as its line gives them: an option given twice (``stride 2 stride
    3``) is refused rather than the last one silently taken."""

    def __init__(self, op: str, line: int) -> None:
        super().__init__()
        self.op, self.line = op, line

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self:
            raise SpecError(f"{self.op}: {key} is given twice on this line; write it once",
                            self.line)
        super().__setitem__(key, value)


def _canonical(op: str, toks: list[str], line: int, bracket: str | None,
               soft: list[Issue]) -> Stmt:
    args = _Once(op, line)
    toks = _normalise(toks)
    i = 0
    while i < len(toks):
        val = toks[i + 1] if i + 1 < len(toks) else None
        i += _canonical_arg(op, toks[i], val, args, line, soft)
    plain = dict(args)
    if op == "fc" and "out" not in plain and bracket:
        plain |= {"out": _last_dim(bracket), "_bracket_used": True}
    return Stmt("layer", op=op, args=plain)


def _canonical_arg(op: str, t: str, val: str | None, args: dict[str, Any], line: int,
                   soft: list[Issue]) -> int:
    """Consume one argument; return how many words were used."""
    t = t.replace("=", " ").strip()
    d = OPS[op]
    if t in FLAGS:
        key, flag = FLAGS[t]
        args[key] = flag
        return 1
    if t.startswith("/") and isnum(t[1:]):
        args["stride"] = (int(t[1:]), int(t[1:]))
        return 1
    if t in KEYWORDS:
        return _keyed(op, t, KEYWORDS[t], val, args, line)
    bare = _bare(op, t, args, line)
    if bare is not None:
        args[bare[0]] = bare[1]
        return 1
    options = [k for k in (*KEYWORDS, *FLAGS) if len(k) > 2 and _takes(d.args, k)]
    hint = suggest(t, options)
    guess = hint.split("`")[1] if hint else ""
    if guess in FLAGS or (guess in KEYWORDS and val is not None):
        # a near miss of a known option: report it, and read the line as meant, so that the
        # shapes after it can still be worked out
        soft.append(Issue(line, f"{op}: unknown option '{short(t)}'{hint}"))
        if guess in FLAGS:
            key, flag = FLAGS[guess]
            args[key] = flag
            return 1
        return _keyed(op, guess, KEYWORDS[guess], val, args, line)
    missing = next((k for k in d.positional if k not in args), None)
    if missing in _POSITIONAL_WORDS and not hint:
        raise SpecError(f"{op}: expected {_POSITIONAL_WORDS[missing]}, got '{short(t)}'", line)
    takes = ", ".join(sorted(k for k in options if k in KEYWORDS or k in FLAGS)) or "nothing"
    raise SpecError(f"{op}: unexpected '{short(t)}'{hint}; {op} takes {takes}", line)


_POSITIONAL_WORDS = {"out": "a count written in digits (e.g. 64)",
                     "kernel": "a window size such as 3 or 3x3",
                     "p": "a probability such as 0.5", "size": "a size written in digits"}


def _takes(accepted: frozenset[str], keyword: str) -> bool:
    target = KEYWORDS.get(keyword) or FLAGS[keyword][0]
    return target in accepted or (target == "pad" and "p" in accepted)


def _keyed(op: str, t: str, key: str, val: str | None, args: dict[str, Any], line: int) -> int:
    if val is None:
        raise SpecError(f"'{short(t)}' needs a value", line)
    if key == "pad" and val == "same":
        args["pad"] = "same"
    elif key == "pad" and "~" in val:
        sides = [int(v) for v in val.split("~")]
        if len(sides) == 3:
            raise SpecError(f"pad takes 2 values (before, after) or 4 (top, bottom, left, "
                            f"right), got {len(sides)}", line)
        args["pad"] = tuple(sides * 2 if len(sides) == 2 else sides)
    elif key == "pad" and op == "dropout":
        args["p"] = _prob(val, line)
    elif key == "slope":
        if not re.fullmatch(r"-?[0-9]*\.?[0-9]+", val):
            raise SpecError(f"{t} must be a number, got '{short(val)}'", line)
        args[key] = float(val)
    elif key in ("groups", "size", "out", "factor"):
        if not isnum(val):
            raise SpecError(f"{t} must be a whole number, got '{short(val)}'", line)
        args[key] = int(val)
    else:
        args[key] = _size(val, line, t)
    return 2


def _bare(op: str, t: str, args: dict[str, Any], line: int) -> tuple[str, Any] | None:
    """A value written without its keyword, read as the op's next positional argument."""
    for key in OPS[op].positional:
        if key in args:
            continue
        if key in ("out", "size", "groups", "factor") and isnum(t):
            return key, int(t)
        if key == "slope" and re.fullmatch(r"-?[0-9]*\.?[0-9]+", t):
            return key, float(t)
        if key == "p" and re.fullmatch(r"[0-9]*\.[0-9]+|0|1", t):
            return key, _prob(t, line)
        if key == "kernel" and _SIZE_RE.match(t):
            return key, _size(t, line, "kernel")
    return None


def _prob(val: str, line: int) -> float:
    try:
        return float(val)
    except ValueError:
        raise SpecError(f"dropout probability must be a number, got '{short(val)}'", line) from None


def _vgg(words: list[str], label: str, line: int, bracket: str | None) -> Stmt | None:
    w = words[0]
    m = re.fullmatch(r"conv([0-9]+)-([0-9]+)", w)
    if m:
        k, n = int(m[1]), int(m[2])
        return Stmt("layer", op="conv", args={"out": n, "kernel": (k, k), "pad": (k // 2, k // 2)})
    m = re.fullmatch(r"fc-?([0-9]*)", w)
    if m:
        if m[1]:
            return Stmt("layer", op="fc", args={"out": int(m[1])})
        if bracket and len(words) == 1:
            return Stmt("layer", op="fc", args={"out": _last_dim(bracket), "_bracket_used": True})
        return None
    m = re.fullmatch(r"(max)?pool([0-9]*)", w)
    if m and len(words) == 1:
        k = int(m[2]) if m[2] else 2
        return Stmt("layer", op="maxpool", args={"kernel": (k, k), "stride": (k, k)})
    return None


def _last_dim(bracket: str) -> int:
    return int(re.findall(r"[0-9]+", bracket.replace(",", ""))[-1])


def _block_label(words: list[str], label: str, line: int, bracket: str | None) -> Stmt | None:
    """Slide block labels: '3x3 conv, 64', '3x3 conv, 128, /2', 'pool', 'avg pool', 'FC 1000'."""
    stride = next((int(w[1:]) for w in words if re.fullmatch(r"/[0-9]+", w)), 1)
    rest = [w for w in words if not re.fullmatch(r"/[0-9]+", w)]
    if len(rest) >= 2 and _SIZE_RE.match(rest[0]) and rest[1] == "conv":
        kh, kw = _size(rest[0], line, "kernel")
        if len(rest) < 3 or not isnum(rest[2]):
            raise SpecError("a conv label needs its filter count, e.g. '3x3 conv, 64'", line)
        return Stmt("layer", op="conv", args={"out": int(rest[2]), "kernel": (kh, kw),
                                             "stride": (stride, stride), "pad": (kh // 2, kw // 2)})
    kernel = _size(rest[0], line, "kernel") if rest and _SIZE_RE.match(rest[0]) else None
    core = rest[1:] if kernel else rest
    if core in (["avg", "pool"], ["avgpool"], ["average", "pool"]):
        if kernel is None:
            return Stmt("layer", op="gap")
        return Stmt("layer", op="avgpool", args={"kernel": kernel, "stride": (stride, stride)
                                                 if stride > 1 else kernel})
    if core in (["pool"], ["max", "pool"]):
        k = kernel or (2, 2)
        pad = (k[0] // 2, k[1] // 2) if kernel and stride > 1 and k[0] % 2 else (0, 0)
        return Stmt("layer", op="maxpool", args={"kernel": k, "stride": (stride, stride)
                                                 if kernel else k, "pad": pad})
    return None


_FILLER = frozenset({"applied", "at", "with", "of", "and", "a", "size", "filters", "filter"})


def _filters(words: list[str]) -> dict[str, Any] | None:
    """'96 11x11 filters at stride 4, pad 0', '10 5x5 filters with stride 1, padding 2'."""
    if "filters" not in words and "filter" not in words:
        return None
    args: dict[str, Any] = {}
    i = 0
    if i < len(words) and isnum(words[i]) and i + 1 < len(words) and "x" in words[i + 1]:
        args["out"] = int(words[i])
        i += 1
    m = _SIZE_RE.match(words[i]) if i < len(words) else None
    if not m or not m[2]:
        return None
    args["kernel"] = (int(m[1]), int(m[2]))
    i += 1
    while i < len(words):
        w = words[i]
        if w in _FILLER:
            i += 1
        elif w in ("ceil", "ceil_mode"):  # Caffe's rounding up, as ZFNet's 55/26/13 need
            args["ceil"] = True
            i += 2 if i + 1 < len(words) and words[i + 1] == "mode" else 1
        elif w in ("stride", "pad", "padding") and i + 1 < len(words) and isnum(words[i + 1]):
            n = int(words[i + 1])
            args["stride" if w == "stride" else "pad"] = (n, n)
            i += 2
        else:
            return None
    return args


def _slide(words: list[str], label: str, line: int, bracket: str | None) -> Stmt | None:
    """The AlexNet slide: '96 11x11 filters at stride 4, pad 0', 'Normalization layer', ...'"""
    body = " ".join(words)
    args = _filters(words)
    if args is not None:
        if "pool" in label:
            if "out" in args:
                raise SpecError("a pool has no filter count: write 'POOL1: 3x3 filters at "
                                "stride 2'", line)
            return Stmt("layer", op="avgpool" if "avg" in label else "maxpool", args=args)
        if "out" in args:
            return Stmt("layer", op="conv", args=args)
        raise SpecError(f"'{short(body)}': is it a conv or a pool? name it (CONV1:, POOL1:) or "
                        f"use 'conv N KxK stride S'", line)
    if body in ("normalization layer", "normalization", "norm layer",
                "local response normalization"):
        return Stmt("layer", op="lrn")
    m = re.fullmatch(r"([0-9]+) neurons?", body)
    if m:
        return Stmt("layer", op="fc", args={"out": int(m[1])})
    return None


def _total(text: str, line: int) -> Stmt:
    """'TOTAL memory: 24M * 4 bytes ~= 96MB / image', 'TOTAL params: 138M parameters',
    'TOTAL macs: 724M', 'TOTAL flops: 1.4G'."""
    head, _, body = text.partition(":")
    head = head.lower()
    claims: list[Claim] = []
    first = re.match(r"\s*~?\s*([0-9.,]+\s*[kmgKMG]?)", body)
    if "memory" in head:
        if first:
            claims.append(Claim("activations", first[1].strip()))
        nbytes = re.search(r"([0-9.,]+\s*[kmgt]i?b)\b", body, re.IGNORECASE)
        if nbytes:
            claims.append(Claim("activation_bytes", nbytes[1].strip()))
    elif ("param" in head or "weight" in head) and first:
        claims.append(Claim("params", first[1].strip()))
    elif "flop" in head and first:
        claims.append(Claim("flops", first[1].strip()))
    elif ("mac" in head or "ops" in head or "mult" in head) and first:
        claims.append(Claim("macs", first[1].strip()))
    if not claims:
        raise SpecError("a TOTAL line needs 'memory: N', 'params: N', 'macs: N' or 'flops: N'",
                        line)
    return Stmt("total", claims=tuple(claims))


def _survival_directive(low: str, line: int) -> dict[str, Any]:
    m = re.fullmatch(r"survival\s+linear\s+([0-9]*\.?[0-9]+)", low.strip())
    if not m:
        raise SpecError("expected 'survival linear P' (P the survival of the last block)", line)
    p = float(m[1])
    if not 0.0 < p <= 1.0:
        raise SpecError(f"survival probability must be in (0, 1], got {p}", line)
    return {"last": p}
