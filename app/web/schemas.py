"""Request and error models of the JSON API (the responses are the engine's result models)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from app.engine.limits import LIMITS
from app.engine.result import Dtype, Optimizer

_VOLUME_RE = re.compile(r"\s*(\d+)\s*[xX×*]\s*(\d+)\s*[xX×*]\s*(\d+)\s*")


def _spec_is_text_or_object(value: object) -> object:
    """Refuse anything but a string or an object, with one readable error instead of two."""
    if isinstance(value, (str, dict)):
        return value
    raise PydanticCustomError(
        "spec_type", "must be text (the spec language) or a JSON object (the JSON form)")


def _volume_from_text(value: object) -> object:
    """Accept "227x227x3" as well as {"h": 227, "w": 227, "c": 3}."""
    if not isinstance(value, str):
        return value
    match = _VOLUME_RE.fullmatch(value)
    if match is None:
        raise PydanticCustomError(
            "volume", "must be a volume 'HxWxC' such as '227x227x3', "
                      "or an object with h, w and c")
    h, w, c = (int(g) for g in match.groups())
    return {"h": h, "w": w, "c": c}


SpecInput = Annotated[str | dict[str, Any], BeforeValidator(_spec_is_text_or_object)]


class _Closed(BaseModel):
    """No unknown fields: a misspelt option is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


#: a JSON body is typed strictly: ``"batch": "5"`` is a mistyped field, not the number 5 (query
#: strings are text by nature, so the query models below parse "5" as 5)
_STRICT_BODY = ConfigDict(extra="forbid", strict=True)


class VolumeIn(_Closed):
    """An input volume, height x width x channels."""

    model_config = _STRICT_BODY

    h: int = Field(ge=1, le=LIMITS.max_hw)
    w: int = Field(ge=1, le=LIMITS.max_hw)
    c: int = Field(ge=1, le=LIMITS.max_channels)


class Options(_Closed):
    """How to count: bytes per value, images per batch, optimizer state, auxiliary heads."""

    dtype: Dtype = Field("float32", description="bytes per value: 4, 2, 2 or 1")
    batch: int = Field(1, ge=1, le=LIMITS.max_batch, description="images per batch")
    optimizer: Optimizer = Field("sgd", description="optimizer state in training memory: "
                                                    "1 value per parameter for SGD momentum, "
                                                    "2 for Adam")
    aux: bool = Field(False, description="count auxiliary classifiers (aux blocks)")

    def engine_options(self) -> dict[str, Any]:
        """The keyword arguments of ``app.engine.analyze``."""
        return {"dtype": self.dtype, "batch": self.batch, "optimizer": self.optimizer,
                "aux": self.aux}


class AnalyzeRequest(Options):
    """POST /api/analyze: a spec in the spec language (text) or in the JSON form (object)."""

    model_config = _STRICT_BODY

    spec: SpecInput = Field(description="spec text, one layer a line, or the JSON form")


class AnalyzeQuery(Options):
    """GET /api/analyze and the /analyze page: the same options in the query string."""

    model_config = ConfigDict(extra="ignore")

    spec: str = Field(description="spec text, one layer a line")


class LayerRequest(_Closed):
    """POST /api/layer: one layer line applied to a given input volume."""

    model_config = _STRICT_BODY

    layer: str = Field(description="one layer line, e.g. 'conv 96 11x11 stride 4'")
    input: Annotated[VolumeIn, BeforeValidator(_volume_from_text)] = Field(
        description="'HxWxC' such as '227x227x3', or {'h': 227, 'w': 227, 'c': 3}")
    dtype: Dtype = "float32"
    batch: int = Field(1, ge=1, le=LIMITS.max_batch)


class ErrorItem(BaseModel):
    """One problem. ``line`` is the 1-based spec line, 0 when not tied to a line."""

    line: int = Field(description="1-based line of the spec; 0 when not tied to a line")
    message: str = Field(description="what is wrong and, where possible, how to fix it")
    layer: str | None = Field(default=None, description="the layer at fault, when known")
    limit: str | None = Field(default=None, description="the limit exceeded, e.g. 'max_batch'")
    parameter: str | None = Field(
        default=None, description="the request parameter at fault, e.g. 'batch', 'dtype', "
                                  "'input', 'spec', or 'body' for the request body as a whole")


class ErrorResponse(BaseModel):
    """The one error shape of the whole API."""

    errors: list[ErrorItem]
