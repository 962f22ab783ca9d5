"""The options of an analysis, with their defaults written once.

Every caller (the API's request models, the pages' form, the zoo, the CLI, the worker) takes its
defaults and its allowed values from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from app.engine.errors import LimitError, SpecError
from app.engine.limits import LIMITS

Dtype = Literal["float32", "float16", "bfloat16", "int8"]
Optimizer = Literal["sgd", "adam"]
#: bytes per value of each dtype
DTYPE_BYTES: dict[str, int] = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}
#: copies of the parameters an optimizer keeps: SGD with momentum 1, Adam 2 (m and v)
OPTIMIZER_STATE: dict[str, int] = {"sgd": 1, "adam": 2}
DTYPES: tuple[str, ...] = get_args(Dtype)
OPTIMIZERS: tuple[str, ...] = get_args(Optimizer)


@dataclass(frozen=True, slots=True)
class Options:
    """How to count bytes: the value type, the images per batch, the optimizer whose state
    training memory includes, and whether auxiliary classifiers are walked."""

    dtype: Dtype = "float32"
    batch: int = 1
    optimizer: Optimizer = "sgd"
    aux: bool = False

    @property
    def bytes_per_value(self) -> int:
        return DTYPE_BYTES[self.dtype]


DEFAULTS = Options()


def make_options(dtype: str = DEFAULTS.dtype, batch: int = DEFAULTS.batch,
                 optimizer: str = DEFAULTS.optimizer, aux: bool = DEFAULTS.aux) -> Options:
    """Validated options; a bad one raises SpecError naming the parameter."""
    if dtype not in DTYPE_BYTES:
        raise SpecError(f"unknown dtype '{str(dtype)[:30]}'; expected one of "
                        f"{', '.join(DTYPES)}", parameter="dtype")
    if optimizer not in OPTIMIZER_STATE:
        raise SpecError(f"unknown optimizer '{str(optimizer)[:30]}'; expected one of "
                        f"{', '.join(OPTIMIZERS)}", parameter="optimizer")
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise SpecError(f"batch must be a whole number of at least 1, got {str(batch)[:30]}",
                        parameter="batch")
    if batch > LIMITS.max_batch:
        raise LimitError("max_batch", f"batch {batch:,} exceeds the limit of "
                         f"{LIMITS.max_batch:,} (max_batch)", parameter="batch")
    if not isinstance(aux, bool):
        raise SpecError("aux must be true or false", parameter="aux")
    return Options(dtype=dtype, batch=batch, optimizer=optimizer, aux=aux)  # type: ignore[arg-type]
