"""Pasted PyTorch is read as Python and torch read it: for a table of pasted lines, archcalc
refuses exactly what Python or torch refuses (building the module, or running it on the spec's
input), naming the line; what both accept has torch's output shape and parameter count."""

from __future__ import annotations

import inspect
import warnings

import pytest

from app.engine import SpecError, analyze
from app.engine.torchlines import _CLASSES, ANY_ARGS

torch = pytest.importorskip("torch")
nn = torch.nn

#: input H x W x C, then the pasted lines (one module each)
INPUT = (8, 8, 3)
CASES: list[str] = [
    # what Python itself refuses
    "nn.Conv2d(3, 8, kernel_size=3, 2)",
    "nn.Conv2d(3, 8, kernel_size=3, kernel_size=5)",
    "nn.Conv2d(3, 8, 3, kernel_size=3)",
    "nn.ReLU(inplace=True, inplace=False)",
    "nn.Linear(in_features=192, 10)",
    "nn.Conv2d(3, 8, (3, 3)",
    "nn.Conv2d(3, 8, 3,, 1)",
    # what torch refuses when it builds the module or runs it
    "nn.Conv2d(3, 8, 3, stride=2, padding='same')",
    "nn.Conv2d(3, 8, 3, stride=(1, 2), padding='same')",
    "nn.Conv2d(3, 8, 3, padding='SAME')",
    "nn.Conv2d(3, 8, 3, padding='full')",
    "nn.Conv2d(3, 8, 3, padding=-1)",
    "nn.Conv2d(3, 8, (3,))",
    "nn.Conv2d(3, 8, (3, 3, 3))",
    "nn.Conv2d(3, 8, 3.0)",
    "nn.Conv2d(3, 8, 3, groups=2)",
    "nn.Conv2d(3, 8, 3, groups=0)",
    "nn.Conv2d(3, 8, 3, stride=0)",
    "nn.Conv2d(3, 8, 3, inplace=True)",
    "nn.Conv2d(4, 8, 3)",
    "nn.Conv2d(3, 8, 3, 1, 1, 1, 1, True, 'zeros', None, None, 0)",
    "nn.Conv2d(3, 8)",
    "nn.ConvTranspose2d(3, 8, 3, padding='same')",
    "nn.ConvTranspose2d(3, 8, 3, stride=2, output_padding=2)",
    "nn.MaxPool2d(3, padding='same')",
    "nn.MaxPool2d(3, padding='valid')",
    "nn.MaxPool2d(3, stride=1, padding=2)",
    "nn.AvgPool2d(2, padding=2)",
    "nn.BatchNorm2d(4)",
    "nn.Dropout(1.5)",
    "nn.Dropout(-0.1)",
    "nn.LeakyReLU('a')",
    "nn.ReLU(True, False)",
    "nn.Flatten()\nnn.Linear(190, 10)",
    "nn.Softmax(1, 2)",
    "nn.ChannelShuffle(2)",
    "nn.GELU(approximate='bogus')",
    "nn.Softmax(dim='a')",
    "nn.Flatten(start_dim=1.5)",
    "nn.Upsample(scale_factor=2, mode='nearest', align_corners=False)",
    # what both accept
    "nn.Conv2d(3, 8, 3)",
    "nn.Conv2d(3, 8, kernel_size=3, stride=2)",
    "nn.Conv2d(3, 8, 3, 2, 1)",
    "nn.Conv2d(3, 8, 3, padding='same')",
    "nn.Conv2d(3, 8, 4, padding='same')",
    "nn.Conv2d(3, 8, 3, stride=2, padding='valid')",
    "nn.Conv2d(3, 8, 3, stride=(1, 1), padding='same', dilation=2)",
    "nn.Conv2d(3, 8, [3, 5], padding=[1, 2])",
    "nn.Conv2d(3, 9, 3, groups=3, bias=False)",
    "nn.Conv2d(3, 8, 3, bias=None)",
    "nn.Conv2d(3, 8, 3, 1, 1, 1, 1, True, 'zeros', None, None)",
    "(conv1): Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)",
    "nn.ConvTranspose2d(3, 8, 3, stride=2, output_padding=1)",
    "nn.MaxPool2d(3, stride=2, padding=1)",
    "nn.MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)",
    "nn.AvgPool2d(3, stride=2, ceil_mode=True)",
    "nn.AdaptiveAvgPool2d(output_size=(1, 1))",
    "nn.BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)",
    "nn.ReLU(inplace=True)",
    "nn.ReLU(True)",
    "nn.LeakyReLU(0.2, True)",
    "nn.Dropout(p=0.5, inplace=False)",
    "nn.Identity(54, unused=True)",
    "nn.Sigmoid()",
    "nn.Upsample(scale_factor=2.0, mode='nearest')",
    "nn.Flatten()\nnn.Linear(in_features=192, out_features=10, bias=True)",
    "nn.PReLU(num_parameters=3)",
    "nn.GELU('tanh')",
    "nn.LeakyReLU(True)",
    "nn.Softmax(dim=1)",
    "nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False)",
]


def _torch(lines: str) -> tuple[tuple[int, ...], int] | str:
    """(output shape, parameters) of the lines as torch runs them, or why it refused."""
    h, w, c = INPUT
    try:
        # the table's own lines, evaluated as Python would (the names are torch's)
        modules = [eval(compile(text.split(": ", 1)[-1], "<case>", "eval"),
                        {"nn": nn, **vars(nn)}) for text in lines.splitlines()]
        model = nn.Sequential(*modules)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            out = model(torch.zeros(1, c, h, w))
    except (SyntaxError, TypeError, ValueError, RuntimeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return tuple(out.shape), sum(p.numel() for p in model.parameters())


def _archcalc(lines: str) -> tuple[tuple[int, ...], int] | str:
    h, w, c = INPUT
    try:
        a = analyze(f"input {h}x{w}x{c}\n{lines}\n")
    except SpecError as exc:
        issue = exc.issues[0]
        assert issue.line >= 2, issue  # the pasted line is named, not the input's
        return issue.message
    out = a.output
    shape = (1, out.c) if a.layers[-1].op == "fc" else (1, out.c, out.h, out.w)
    return shape, a.totals.params


@pytest.mark.parametrize("lines", CASES)
def test_archcalc_refuses_what_torch_refuses(lines: str) -> None:
    by_torch, by_archcalc = _torch(lines), _archcalc(lines)
    assert isinstance(by_torch, str) == isinstance(by_archcalc, str), (by_torch, by_archcalc)
    if not isinstance(by_torch, str):
        assert by_archcalc == by_torch  # the same output shape and parameters


def test_the_table_holds_both_outcomes() -> None:
    refused = [lines for lines in CASES if isinstance(_torch(lines), str)]
    assert 20 < len(refused) < len(CASES) - 20


@pytest.mark.parametrize("cls", sorted(_CLASSES))
def test_parameters_bind_in_torchs_order(cls: str) -> None:
    params = list(inspect.signature(getattr(nn, cls).__init__).parameters)[1:]
    ours = _CLASSES[cls][1]
    if ours == ANY_ARGS:
        assert params == ["args", "kwargs"]
    else:
        assert list(ours) == params
