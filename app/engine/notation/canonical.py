"""The canonical language's reader, and the dispatch of a line to the slide dialects.

A line is read here first (its claims, its bracket, its label, ``from NAME``); its body is read
as a canonical op when its first word is one, else by each dialect in turn
(``app.engine.notation.vgg_notes``, ``block_labels``, ``alexnet_slide``; PyTorch module lines
in ``app.engine.torchlines``).
"""

from __future__ import annotations

import re
from typing import Any

from app.engine.errors import Issue, SpecError, isnum, short, suggest
from app.engine.graph import BLOCK_WORDS, Claim, Volume
from app.engine.notation.alexnet_slide import read_slide
from app.engine.notation.block_labels import read_block_label
from app.engine.notation.common import SIZE_RE, Stmt, last_dim, read_size
from app.engine.notation.vgg_notes import read_total, read_vgg
from app.engine.optable import FLAGS, KEYWORDS, MERGE_OPS, OPS, SPELLINGS
from app.engine.torchlines import is_container_line, read_module_line

#: every spelling of every op (from the op table) -> the op
CANONICAL = SPELLINGS
_SIDES = re.compile(r"\b(pad|padding)\s+([0-9]{1,6}(?:\s*,\s*[0-9]{1,6}){1,3})(?![0-9x×])",
                    re.IGNORECASE)
def _one_word_pad(m: re.Match[str]) -> str:
    return m[1] + " " + "~".join(re.split(r"[,\s]+", m[2]))

#: the ops an unknown word's message names: the ones a first network is made of
COMMON_OPS = ("conv", "maxpool", "avgpool", "fc", "relu", "bn", "concat", "add")


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
_VOL_RE = re.compile(r"^([0-9]+)\s*[x×*]\s*([0-9]+)\s*[x×*]\s*([0-9]+)$")


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
        return read_total(text, line)
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
    for reader in (_input, read_vgg, read_block_label, read_slide):
        stmt = reader(words, (name or "").lower(), line, bracket)
        if stmt is not None:
            return stmt
    # a near miss names the three closest words; a word like none of them names the common
    # ops and where the rest are, since a list of every op buries the answer
    hint = suggest(words[0], {**SPELLINGS, "input": "input", **{b: b for b in BLOCK_WORDS}}, 3)
    if hint:
        raise SpecError(f"unknown layer '{short(body.strip())}'{hint}", line, name)
    common = ", ".join(f"`{op}`" for op in COMMON_OPS)
    raise SpecError(f"unknown layer '{short(body.strip())}': no op is spelled like it; the common "
                    f"ones are {common}, and every op is in the op table of "
                    f"docs/spec-language.md", line, name)


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
        plain |= {"out": last_dim(bracket), "_bracket_used": True}
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
        args[key] = read_size(val, line, t)
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
        if key == "kernel" and SIZE_RE.match(t):
            return key, read_size(t, line, "kernel")
    return None


def _prob(val: str, line: int) -> float:
    try:
        return float(val)
    except ValueError:
        raise SpecError(f"dropout probability must be a number, got '{short(val)}'", line) from None


def _survival_directive(low: str, line: int) -> dict[str, Any]:
    m = re.fullmatch(r"survival\s+linear\s+([0-9]*\.?[0-9]+)", low.strip())
    if not m:
        raise SpecError("expected 'survival linear P' (P the survival of the last block)", line)
    p = float(m[1])
    if not 0.0 < p <= 1.0:
        raise SpecError(f"survival probability must be in (0, 1], got {p}", line)
    return {"last": p}
