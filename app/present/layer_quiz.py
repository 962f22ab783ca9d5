"""The one-layer helper: one layer on one input volume, worked out step by step, as a quiz.

The lecture asks "what is the output volume of this layer? how many parameters?". The helper
builds the layer line from the form's fields, has the engine analyse it
(:func:`app.engine.analyze_layer`), and lists each figure with its general formula and the
engine's worked arithmetic. In quiz mode the figures stay hidden until the student has typed
answers; each typed answer is then marked by the same rules as a claim in a spec ("35K" is right
for 34,944 to the precision written).

Pure data: no Jinja, no web framework.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from typing import Literal

from pydantic import BaseModel, ConfigDict

from app import engine
from app.engine.claims import check_claims
from app.engine.errors import Issue, SpecError, short
from app.engine.graph import Claim, Volume
from app.engine.optable import WEIGHT_OPS
from app.engine.result import LayerRow
from app.present.formats import thousands
from app.present.working import to_html

LayerOp = Literal["conv", "maxpool", "avgpool", "fc"]
LAYER_OPS: tuple[LayerOp, ...] = ("conv", "maxpool", "avgpool", "fc")
#: the questions, in the order asked: (form field, claim field, what is asked)
QUESTIONS: tuple[tuple[str, str, str], ...] = (
    ("a_out", "output", "output volume (H x W x C)"),
    ("a_weights", "weights", "weights"),
    ("a_biases", "biases", "biases"),
    ("a_macs", "macs", "multiply-accumulates (MACs)"),
)
_VOLUME = re.compile(r"\s*(\d{1,5})\s*[xX×*]\s*(\d{1,5})\s*[xX×*]\s*(\d{1,5})\s*")
_SIZE = re.compile(r"\s*(\d{1,4})(?:\s*[xX×]\s*(\d{1,4}))?\s*")
_COUNT = re.compile(r"\s*(\d{1,6})\s*")
MAX_ANSWER = 60


class LayerForm(BaseModel):
    """The helper's fields, as typed (text, so that a slip is reported, not refused)."""

    model_config = ConfigDict(extra="ignore")

    input: str = "227x227x3"
    op: LayerOp = "conv"
    filters: str = "96"
    kernel: str = "11"
    stride: str = "4"
    pad: str = "0"
    groups: str = "1"
    dilation: str = "1"
    quiz: bool = False
    a_out: str = ""
    a_weights: str = ""
    a_biases: str = ""
    a_macs: str = ""

    def answers(self) -> dict[str, str]:
        return {key: str(getattr(self, key)).strip()[:MAX_ANSWER] for key, _, _ in QUESTIONS}


@dataclass(frozen=True, slots=True)
class Step:
    """One figure: what it is, its general formula, the engine's arithmetic, the value."""

    key: str  # the form field of the answer
    title: str
    general: str
    working: str  # plain text, as the API's formulas
    working_html: str  # the same, escaped, each term marked (app.present.working.to_html)
    value: str


@dataclass(frozen=True, slots=True)
class Mark:
    """A typed answer, marked."""

    key: str
    what: str  # the question: "output volume (H x W x C)"
    typed: str
    ok: bool | None  # None: not answered
    why: str


@dataclass(frozen=True, slots=True)
class LayerQuiz:
    line: str  # the layer line the engine read
    row: LayerRow
    steps: tuple[Step, ...]
    marks: dict[str, Mark]
    answered: bool
    reveal: bool  # show the figures and the working

    @property
    def score(self) -> int:
        return sum(m.ok is True for m in self.marks.values())


def _field(text: str, pattern: re.Pattern[str], name: str, example: str,
           issues: list[Issue]) -> tuple[str, ...]:
    m = pattern.fullmatch(text)
    if m is None:
        issues.append(Issue(0, f"{name} '{short(text, 20)}' is not valid; write it as "
                               f"{example}", parameter=name))
        return ()
    return tuple(g for g in m.groups() if g is not None)


def layer_line(form: LayerForm) -> tuple[str, Volume]:
    """The layer line and the input volume the form describes; every bad field reported."""
    issues: list[Issue] = []
    vol = _field(form.input, _VOLUME, "input", "H x W x C, such as 227x227x3", issues)
    count = (_field(form.filters, _COUNT, "filters", "a whole number such as 96", issues)
             if form.op in WEIGHT_OPS else ())
    if form.op == "fc":
        line = f"fc {''.join(count)}"
    else:
        size = _field(form.kernel, _SIZE, "kernel", "K or KhxKw, such as 11 or 3x3", issues)
        stride = _field(form.stride, _SIZE, "stride", "S or SHxSW, such as 4", issues)
        pad = _field(form.pad, _SIZE, "pad", "P or PHxPW, such as 0", issues)
        parts = [form.op] + ([count[0]] if form.op == "conv" and count else [])
        parts += ["x".join(size), "stride", "x".join(stride), "pad", "x".join(pad)]
        if form.op == "conv":
            groups = _field(form.groups, _COUNT, "groups", "a whole number such as 1", issues)
            parts += ["groups", *groups] if groups != ("1",) else []
        dilation = _field(form.dilation, _SIZE, "dilation", "D or DHxDW, such as 1", issues)
        parts += ["dilation", "x".join(dilation)] if dilation not in {("1",), ("1", "1")} else []
        line = " ".join(parts)
    if issues:
        raise SpecError(issues)
    h, w, c = (int(v) for v in vol)
    return line, Volume(h, w, c)


#: the general formula of each figure, per op
GENERAL: dict[str, dict[str, str]] = {
    "conv": {"h": "H_out = (H_in - K_h + 2P_h)/S_h + 1", "w": "W_out = (W_in - K_w + 2P_w)/S_w + 1",
             "c": "C_out = N (the number of filters)", "weights": "K_h * K_w * C_in * N",
             "biases": "N (one per filter)", "params": "weights + biases",
             "macs": "H_out * W_out * N * K_h * K_w * C_in"},
    "pool": {"h": "H_out = (H_in - K_h + 2P_h)/S_h + 1", "w": "W_out = (W_in - K_w + 2P_w)/S_w + 1",
             "c": "C_out = C_in (pooling keeps the depth)", "weights": "0 (pooling learns nothing)",
             "biases": "0", "params": "0", "macs": "0 (only conv and fc multiply-adds are counted)"},
    "fc": {"h": "1", "w": "1", "c": "N (the number of neurons)", "weights": "H_in * W_in * C_in * N",
           "biases": "N (one per neuron)", "params": "weights + biases",
           "macs": "H_in * W_in * C_in * N"},
}
_TITLES = (("h", "Output height"), ("w", "Output width"), ("c", "Output depth"),
           ("weights", "Weights"), ("biases", "Biases"), ("params", "Parameters"),
           ("macs", "Multiply-accumulates"))
_ANSWER_OF = {"h": "a_out", "w": "a_out", "c": "a_out", "weights": "a_weights",
              "biases": "a_biases", "params": "", "macs": "a_macs"}


#: the general formulas that change with groups or dilation
GROUPED = {"weights": "K_h * K_w * (C_in / G) * N", "macs": "H_out * W_out * N * K_h * K_w * (C_in / G)"}
DILATED = {"h": "H_out = (H_in - k_eff + 2P_h)/S_h + 1, k_eff = D(K_h - 1) + 1",
           "w": "W_out = (W_in - k_eff + 2P_w)/S_w + 1, k_eff = D(K_w - 1) + 1"}


def steps(row: LayerRow) -> tuple[Step, ...]:
    """Each figure of ``row`` with its general formula and the engine's working."""
    general = dict(GENERAL["pool" if row.op in ("maxpool", "avgpool") else row.op])
    if int(row.attrs.get("groups", 1)) != 1:
        general |= GROUPED
    if int(row.attrs.get("dh", 1)) != 1 or int(row.attrs.get("dw", 1)) != 1:
        general |= DILATED
    values = {"h": row.output.h, "w": row.output.w, "c": row.output.c, "weights": row.weights,
              "biases": row.biases, "params": row.params, "macs": row.macs}
    return tuple(Step(_ANSWER_OF[key], title, general[key], row.formulas.get(key, ""),
                      _html(row, key), thousands(values[key])) for key, title in _TITLES)


def _html(row: LayerRow, key: str) -> str:
    working = row.working.get(key)
    return to_html(working) if working is not None else escape(row.formulas.get(key, ""))


def mark(row: LayerRow, answers: dict[str, str]) -> dict[str, Mark]:
    """Each typed answer marked right or wrong by the engine's claim rules."""
    out: dict[str, Mark] = {}
    for key, field, what in QUESTIONS:
        typed = answers[key]
        if not typed:
            out[key] = Mark(key, what, "", None, "not answered")
            continue
        result = check_claims((Claim(field, typed),), row)[0]
        ok, why = result.ok, result.explanation
        if field == "weights" and ok and result.computed != row.weights:
            ok = False  # the claim rules accept weights + biases for "weights"; a quiz does not
            why = (f"wrong: that counts the biases too; the weights alone are "
                   f"{row.formulas.get('weights', '')}")
        out[key] = Mark(key, what, typed, ok, re.sub(r"^(right|wrong): ", "", why))
    return out


def layer_quiz(form: LayerForm) -> LayerQuiz:
    """Analyse the form's layer and mark what was typed."""
    line, volume = layer_line(form)
    row = engine.analyze_layer(line, volume)
    answers = form.answers()
    answered = any(answers.values())
    return LayerQuiz(line, row, steps(row), mark(row, answers), answered,
                     reveal=answered or not form.quiz)
