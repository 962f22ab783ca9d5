"""Random networks, engine vs torch. Hypothesis writes spec text (convs, pools, fc, concat,
residual, dense, join, aux), mostly valid but not always: where the engine accepts, every row,
each layer's parameters and multiply-adds, and the totals must agree with torch exactly; where
the engine rejects with SpecError, torch must fail too, which checks the engine's validity rules.

CI runs 100 examples; to hunt for bugs, run more: TORCH_RANDOM_EXAMPLES=5000 pytest <this file>.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import pytest

pytest.importorskip("torch")

from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st

from app.engine import LimitError, SpecError, analyze_network, parse_spec
from app.torchnet import build_module, compare

#: torch's note that an even kernel with pad same copies its input: true, and beside the point
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")

ACTIVATIONS = ("relu", "tanh", "sigmoid", "bn", "lrn size 3", "dropout 0.5", "softmax")


@dataclass
class Writer:
    """Draws one statement at a time; tracks the channel count where it is easy (None after a
    flatten) so that residual, join and dense blocks are usually, not always, valid."""

    draw: st.DrawFn
    c: int | None

    def nodes(self, count: int, level: int) -> list[str]:
        return [self.node(level) for _ in range(count)]

    def node(self, level: int) -> str:
        kinds = ["conv", "conv", "conv", "pool", "act", "act", "tail", "pad"]
        if level < 2:
            kinds += ["concat", "residual", "dense", "join", "aux", "repeat"]
        write: Callable[[int], str] = getattr(self, self.draw(st.sampled_from(kinds)))
        return write(level)

    def conv(self, level: int) -> str:
        groups = self.groups()
        out = groups * self.draw(st.integers(1, 4))
        kh, kw = self.draw(st.integers(1, 4)), self.draw(st.integers(1, 4))
        text = f"conv {out} {kh}x{kw}"
        if self.draw(st.integers(0, 2)) == 0:
            text += f" stride {self.draw(st.integers(1, 2))}x{self.draw(st.integers(1, 3))}"
        if self.draw(st.integers(0, 4)) == 0:
            text += " pad same"
        else:
            text += f" pad {self.draw(st.integers(0, 2))}x{self.draw(st.integers(0, 2))}"
        if self.draw(st.integers(0, 3)) == 0:
            text += f" dilation {self.draw(st.integers(1, 2))}"
        if groups > 1 or self.draw(st.integers(0, 5)) == 0:
            text += f" groups {groups}"
        if self.draw(st.booleans()):
            text += " nobias"
        self.c = out
        return text

    def groups(self) -> int:
        """Usually a divisor of the input channels; now and then any small number."""
        if self.c is None or self.draw(st.integers(0, 5)) == 0:
            return self.draw(st.integers(1, 3))
        return self.draw(st.sampled_from([g for g in (1, 2, 3) if self.c % g == 0]))

    def keep_conv(self, out: int) -> str:
        """A conv that keeps the spatial size: odd kernel, stride 1, half padding."""
        k = self.draw(st.sampled_from([1, 3, 5]))
        return f"conv {out} {k}x{k} pad {k // 2}"

    def pool(self, level: int) -> str:
        op = self.draw(st.sampled_from(["maxpool", "avgpool"]))
        k = self.draw(st.integers(1, 3))
        text = f"{op} {k}x{self.draw(st.integers(1, 3))}"
        if self.draw(st.booleans()):
            text += f" stride {self.draw(st.integers(1, 3))}"
        if self.draw(st.booleans()):
            text += f" pad {self.draw(st.integers(0, k // 2))}"
        return text + (" ceil" if self.draw(st.booleans()) else "")

    def act(self, level: int) -> str:
        return self.draw(st.sampled_from(ACTIVATIONS))

    def tail(self, level: int) -> str:
        """Layers that end the spatial part: gap, adaptive pooling, fc, flatten."""
        choice = self.draw(st.sampled_from(["gap", "adaptive", "fc", "flatten"]))
        if choice == "adaptive":
            return f"adaptiveavgpool {self.draw(st.integers(1, 3))}x{self.draw(st.integers(1, 3))}"
        if choice == "fc":
            self.c = self.draw(st.integers(1, 8))
            return f"fc {self.c}" + (" nobias" if self.draw(st.booleans()) else "")
        if choice == "flatten":
            self.c = None
        return choice

    def pad(self, level: int) -> str:
        out = (self.c or 4) + self.draw(st.integers(-1, 3))
        self.c = out
        return f"padchannels {max(out, 1)}"

    def branch(self, level: int, out: int) -> str:
        """A branch of a block: mostly size-keeping layers ending with `out` channels."""
        saved, self.c = self.c, out
        body = [self.keep_conv(out) if self.draw(st.integers(0, 3)) else self.conv(level)
                for _ in range(self.draw(st.integers(1, 2)))]
        if self.draw(st.integers(0, 3)) == 0:
            body.append(self.node(level + 1))
        self.c = saved
        return "; ".join(body)

    def concat(self, level: int) -> str:
        outs = [self.draw(st.integers(1, 6)) for _ in range(self.draw(st.integers(1, 3)))]
        identity = len(outs) == 1 or self.draw(st.booleans())
        branches = [f"branch {{ {self.branch(level + 1, o)} }}" for o in outs]
        branches += ["branch { }"] if identity else []
        self.c = None if self.c is None and identity else sum(outs) + (self.c or 0) * identity
        return f"concat {{ {' '.join(branches)} }}"

    def residual(self, level: int) -> str:
        out = self.c if self.c is not None and self.draw(st.booleans()) \
            else self.draw(st.integers(1, 6))
        body = self.branch(level + 1, out)
        survival = f" survival {self.draw(st.sampled_from([0.5, 0.8]))}" \
            if self.draw(st.integers(0, 3)) == 0 else ""
        shortcut = "" if out == self.c else f" shortcut {{ conv {out} 1x1 nobias; bn }}"
        self.c = out
        return f"residual{survival} {{ {body} }}{shortcut}"

    def dense(self, level: int) -> str:
        out = self.draw(st.integers(1, 4))
        body = self.branch(level + 1, out)
        self.c = None if self.c is None else self.c + out
        return f"dense {{ {body} }}"

    def join(self, level: int) -> str:
        out = self.draw(st.integers(1, 6))
        branches = [f"branch {{ {self.branch(level + 1, out)} }}" for _ in range(2)]
        self.c = out
        return f"join {{ {' '.join(branches)} }}"

    def repeat(self, level: int) -> str:
        body = self.nodes(self.draw(st.integers(1, 2)), level + 1)
        return f"repeat {self.draw(st.integers(1, 3))} {{ {'; '.join(body)} }}"

    def aux(self, level: int) -> str:
        return f"aux {{ gap; fc {self.draw(st.integers(1, 5))} }}"


@st.composite
def specs(draw: st.DrawFn) -> str:
    h, w, c = draw(st.integers(3, 24)), draw(st.integers(3, 24)), draw(st.integers(1, 6))
    lines = [f"input {h}x{w}x{c}", *Writer(draw, c).nodes(draw(st.integers(1, 6)), 0)]
    return "\n".join(lines)


@settings(max_examples=int(os.environ.get("TORCH_RANDOM_EXAMPLES", "100")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(text=specs(), aux=st.booleans())
@example(text="input 8x8x4\nconcat { branch { conv 4 3x3 } branch { } }", aux=False)
@example(text="input 8x8x4\nresidual { conv 8 3x3 pad 1 }", aux=False)
def test_random_networks_agree_with_torch(text: str, aux: bool) -> None:
    note(text)
    try:
        net = parse_spec(text)
    except LimitError:
        return
    except SpecError:
        event("parser rejects")
        return  # rules the parser enforces are checked against torch in test_torch_builder
    try:
        analyze_network(net, aux=aux)
    except LimitError:
        return
    except SpecError as engine_says:
        note(f"engine: {engine_says}")
        event("engine rejects")
        try:
            build_module(net, aux=aux)
        except (RuntimeError, ValueError):
            return
        pytest.fail(f"the engine rejects it ({engine_says}) but torch runs it")
    event("engine accepts")
    assert compare(net, aux=aux) == []
