"""Request and error models of the JSON API (the responses are the engine's result models).

The analysis options take their names, defaults and allowed values from the engine's one
``app.engine.options.Options``; nothing here writes a default of its own.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from app.engine.graph import parse_volume
from app.engine.limits import LIMITS
from app.engine.options import DEFAULTS, DTYPE_BYTES, OPTIMIZER_STATE, Dtype, Optimizer, Options


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
    volume = parse_volume(value)
    if volume is None:
        raise PydanticCustomError(
            "volume", "must be a volume 'HxWxC' such as '227x227x3', "
                      "or an object with h, w and c")
    return {"h": volume.h, "w": volume.w, "c": volume.c}


#: what OpenAPI says of a spec: text that is not empty, or a JSON form with its input and layers
#: (what else a spec must be is the spec language's grammar, which the engine checks: 422)
_SPEC_SCHEMA = {"anyOf": [
    {"type": "string", "minLength": 1, "description": "the spec language, one layer a line"},
    {"type": "object", "required": ["input", "layers"],
     "properties": {"input": {"type": "object"}, "layers": {"type": "array"}},
     "description": "the JSON form"}]}

SpecInput = Annotated[str | dict[str, Any], BeforeValidator(_spec_is_text_or_object),
                      WithJsonSchema(_SPEC_SCHEMA)]


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


_DTYPE_DOC = "bytes per value: " + ", ".join(f"{k} {n}" for k, n in DTYPE_BYTES.items())
_OPTIMIZER_DOC = ("optimizer state in training memory, in copies of the parameters: "
                  + ", ".join(f"{k} {n}" for k, n in OPTIMIZER_STATE.items()))
#: images per batch, within ``max_batch``
Batch = Annotated[int, Field(ge=1, le=LIMITS.max_batch, description="images per batch")]


class RequestOptions(_Closed):
    """How to count: bytes per value, images per batch, optimizer state, auxiliary heads (the
    fields of ``app.engine.options.Options``, with its defaults)."""

    dtype: Dtype = Field(DEFAULTS.dtype, description=_DTYPE_DOC)
    batch: Batch = DEFAULTS.batch
    optimizer: Optimizer = Field(DEFAULTS.optimizer, description=_OPTIMIZER_DOC)
    aux: bool = Field(DEFAULTS.aux, description="count auxiliary classifiers (aux blocks)")

    def options(self) -> Options:
        """The engine's options object."""
        return Options(**self.engine_options())

    def engine_options(self) -> dict[str, Any]:
        """The options as keyword arguments (``app.engine.analyze``, ``app.zoo``)."""
        return {f.name: getattr(self, f.name) for f in fields(Options)}


class AnalyzeRequest(RequestOptions):
    """POST /api/analyze: a spec in the spec language (text) or in the JSON form (object)."""

    model_config = _STRICT_BODY

    spec: SpecInput = Field(description="spec text, one layer a line, or the JSON form")


class AnalyzeQuery(RequestOptions):
    """GET /api/analyze and the /analyze page: the same options in the query string."""

    model_config = ConfigDict(extra="ignore")

    spec: str = Field(description="spec text, one layer a line",
                      json_schema_extra={"minLength": 1})  # the engine refuses an empty one


class LayerRequest(_Closed):
    """POST /api/layer: one layer line applied to a given input volume."""

    model_config = _STRICT_BODY

    layer: str = Field(description="one layer line, e.g. 'conv 96 11x11 stride 4'",
                       json_schema_extra={"minLength": 1})  # the engine refuses an empty one
    input: Annotated[VolumeIn, BeforeValidator(_volume_from_text)] = Field(
        description="'HxWxC' such as '227x227x3', or {'h': 227, 'w': 227, 'c': 3}")
    dtype: Dtype = Field(DEFAULTS.dtype, description=_DTYPE_DOC)
    batch: Batch = DEFAULTS.batch


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
