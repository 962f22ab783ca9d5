"""The architecture zoo: well-known CNNs as spec files, each citing its source.

``specs/<id>.spec`` holds the network in the spec language; ``catalog.toml`` holds what is
published about it (name, year, source, input, ILSVRC top-5 error, ImageNet top-1 with its
source). Every count (parameters, multiply-adds, memory, depth) comes from analysing the spec.

Standard library + pydantic + the engine only: no web stack, no torch. Specs are static, so
parsing and analyses are cached.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from app.engine import (
    Analysis,
    Network,
    SpecError,
    Totals,
    Volume,
    analyze_network,
    check_input,
    parse_spec,
)
from app.engine.errors import short
from app.engine.graph import parse_volume as read_volume
from app.engine.options import DEFAULTS, make_options
from app.engine.result import VolumeOut

ZOO_DIR = Path(__file__).parent
SPEC_DIR = ZOO_DIR / "specs"
CATALOG = ZOO_DIR / "catalog.toml"
_INPUT_LINE = re.compile(r"^(\s*)input\s+\d+\s*x\s*\d+\s*x\s*\d+", re.IGNORECASE | re.MULTILINE)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModelInfo(_Frozen):
    """What is published about one zoo network (no computed numbers)."""

    id: str
    name: str
    year: int
    source: str
    dataset: str
    input: VolumeOut
    top5_error: float | None = None
    top5_note: str | None = None
    top1: float | None = None
    top1_source: str | None = None
    torchvision: str | None = None
    has_aux: bool = False
    notes: str = ""


class ModelSummary(ModelInfo):
    """A zoo entry with the totals of its analysis with the default options
    (``app.engine.options.DEFAULTS``)."""

    totals: Totals


class IlsvrcResult(_Frozen):
    """One ILSVRC classification result as the lecture's slide lists it."""

    year: int | None = None
    entry: str
    model: str | None = None
    top5_error: float
    source: str


class UnknownModel(KeyError):
    """No zoo model has this id."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        super().__init__(f"no zoo model '{model_id}'; known ids: {', '.join(model_ids())}")

    def __str__(self) -> str:
        return str(self.args[0])


def parse_volume(text: str) -> Volume:
    """'224x224x3' -> Volume(224, 224, 3); a SpecError naming the ``input`` parameter if it is
    not H x W x C."""
    volume = read_volume(text)
    if volume is None:
        raise SpecError(f"input must be a volume HxWxC such as 224x224x3, got '{short(text)}'",
                        parameter="input")
    return volume


def check_volume(volume: Volume) -> Volume:
    """``volume`` if the engine's limits allow it as an input; else its error, blamed on the
    request's ``input`` parameter (line 0) rather than on a line of a spec the user never saw."""
    check_input(volume, 0, parameter="input")
    return volume


@lru_cache(maxsize=1)
def _catalog() -> dict[str, Any]:
    with CATALOG.open("rb") as f:
        return tomllib.load(f)


def _info(entry: dict[str, Any]) -> ModelInfo:
    vol = parse_volume(entry["input"])
    return ModelInfo(**(entry | {"input": VolumeOut(h=vol.h, w=vol.w, c=vol.c)}))


@lru_cache(maxsize=1)
def _models() -> dict[str, ModelInfo]:
    return {entry["id"]: _info(entry) for entry in _catalog()["model"]}


def model_ids() -> list[str]:
    """Every zoo id, in catalog order (roughly chronological)."""
    return list(_models())


def list_models() -> list[ModelInfo]:
    """Every zoo entry's published metadata, in catalog order."""
    return list(_models().values())


def get_model(model_id: str) -> ModelInfo:
    """One entry's metadata; :class:`UnknownModel` (a KeyError) if there is none."""
    try:
        return _models()[model_id]
    except KeyError:
        raise UnknownModel(model_id) from None


@cache
def _spec_text(model_id: str) -> str:
    get_model(model_id)
    return (SPEC_DIR / f"{model_id}.spec").read_text(encoding="utf-8")


def model_spec(model_id: str, input: Volume | None = None) -> str:
    """The spec text; with ``input``, its input line rewritten to that volume."""
    text = _spec_text(model_id)
    if input is None:
        return text
    return _INPUT_LINE.sub(lambda m: f"{m[1]}input {input}", text, count=1)


@cache
def _network(model_id: str) -> Network:
    return parse_spec(_spec_text(model_id))


def load_network(model_id: str, input: Volume | None = None) -> Network:
    """The parsed spec; ``input`` replaces its input volume (checked against the limits, an
    error naming the ``input`` parameter)."""
    net = _network(model_id)
    if input is None:
        return net
    return replace(net, input=check_volume(input))


def _check_aux(model_id: str, aux: bool) -> None:
    if aux and not get_model(model_id).has_aux:
        with_aux = ", ".join(m.id for m in list_models() if m.has_aux)
        raise SpecError(f"'{model_id}' has no auxiliary classifiers; aux=true applies only to "
                        f"{with_aux}", parameter="aux")


@lru_cache(maxsize=256)
def analyze_model(model_id: str, *, input: Volume | None = None, dtype: str = DEFAULTS.dtype,
                  batch: int = DEFAULTS.batch, optimizer: str = DEFAULTS.optimizer,
                  aux: bool = DEFAULTS.aux) -> Analysis:
    """The engine's analysis of a zoo network (cached: specs never change)."""
    options = make_options(dtype=dtype, batch=batch, optimizer=optimizer, aux=aux)
    _check_aux(model_id, aux)
    net = load_network(model_id, input)
    return analyze_network(net, options)


@lru_cache(maxsize=1)
def _summaries() -> tuple[ModelSummary, ...]:
    return tuple(ModelSummary(**info.model_dump(), totals=analyze_model(info.id).totals)
                 for info in list_models())


def model_summaries() -> list[ModelSummary]:
    """Every entry with the totals of its default analysis."""
    return list(_summaries())


def ilsvrc_results() -> list[IlsvrcResult]:
    """The ILSVRC winners' top-5 errors as the lecture lists them, with their sources."""
    return [IlsvrcResult(**entry) for entry in _catalog()["ilsvrc"]]


def human_top5() -> IlsvrcResult:
    """The human top-5 error the lecture quotes, with its source."""
    return IlsvrcResult(**_catalog()["human"])


__all__ = [
    "IlsvrcResult",
    "ModelInfo",
    "ModelSummary",
    "UnknownModel",
    "analyze_model",
    "check_volume",
    "get_model",
    "human_top5",
    "ilsvrc_results",
    "list_models",
    "load_network",
    "model_ids",
    "model_spec",
    "model_summaries",
    "parse_volume",
]
