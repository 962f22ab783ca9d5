"""The typed, versioned payloads of a run: what is asked, what a worker answers.

``RunRequest`` is the body of ``POST /api/runs``; ``JobPayload`` is what travels to a worker
(the spec resolved to text or the JSON form, the device kind, a test fault); ``RunResult`` is
what a worker stores when done; ``RunStatus`` is what ``GET /api/runs/{id}`` answers. Each
payload that crosses the queue carries ``version``: a worker refuses a version it does not know.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from app.engine.result import Optimizer
from app.worker.settings import DeviceKind

PAYLOAD_VERSION: Literal[1] = 1

#: dtypes a run can use: int8 needs quantised kernels, which app.torchnet does not make
RunDtype = Literal["float32", "float16", "bfloat16"]
Mode = Literal["inference", "training"]
Status = Literal["queued", "running", "done", "failed", "cancelled"]


def _text_or_object(value: object) -> object:
    if isinstance(value, (str, dict)):
        return value
    raise ValueError("must be text (the spec language) or a JSON object (the JSON form)")


SpecInput = Annotated[str | dict[str, Any], BeforeValidator(_text_or_object)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _sorted_unique(value: object) -> object:
    return sorted(set(value)) if isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value) else value


BatchSizes = Annotated[list[Annotated[int, Field(ge=1)]], BeforeValidator(_sorted_unique),
                       Field(min_length=1, description="images per batch, each timed apart")]


class RunRequest(_Model):
    """POST /api/runs: a spec (text or JSON form) or a zoo model, and how to run it."""

    spec: SpecInput | None = Field(default=None, description="spec text, or the JSON form")
    model: str | None = Field(default=None, validate_default=True,
                              description="a zoo id instead of a spec, e.g. 'vgg16'")
    input: str | None = Field(default=None, max_length=40, validate_default=True,
                              description="with 'model': HxWxC replacing the model's input "
                                          "volume, e.g. 32x32x3")
    dtype: RunDtype = Field(default="float32", description="the tensors' type (int8 is not run)")
    batch_sizes: BatchSizes = [1, 8, 32]
    mode: Mode = Field(default="inference", description="forward passes, or training steps "
                                                        "(forward, backward, optimizer step)")
    optimizer: Optimizer = Field(default="sgd", description="the training step's optimizer: "
                                                            "SGD with momentum 0.9, or Adam")

    @field_validator("model")
    @classmethod
    def _one_source(cls, model: str | None, info: ValidationInfo) -> str | None:
        if (info.data.get("spec") is None) == (model is None):
            raise ValueError("give either 'spec' (text or the JSON form) or 'model' (a zoo "
                             "id), not both")
        return model

    @field_validator("input")
    @classmethod
    def _input_of_a_model(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("model") is None:
            raise ValueError("'input' replaces a zoo model's input volume; a spec states its "
                             "own input on its first line")
        return value or None


class Fault(_Model):
    """Test only: what to go wrong inside the child (accepted only with ``test_faults``)."""

    kind: Literal["sleep", "address_space", "cuda_error"]
    seconds: float = 0.0
    bytes: int = 0


class JobPayload(_Model):
    """What a worker receives: the request resolved, for one device kind."""

    version: Literal[1] = PAYLOAD_VERSION
    spec: str | dict[str, Any]
    label: str = Field(description="the zoo id, or 'spec'")
    dtype: RunDtype
    batch_sizes: list[int]
    mode: Mode
    optimizer: Optimizer
    device: DeviceKind
    fault: Fault | None = None


class Progress(_Model):
    """Where a running job is."""

    step: str = Field(description="what the worker is doing, e.g. 'timing batch 8'")
    done: int = Field(description="steps finished")
    total: int = Field(description="steps in all")
    worker: str = Field(default="", description="the worker's node name")
    pid: int = Field(default=0, description="the child process running the job")


class LayerCheck(_Model):
    """One layer: the engine's numbers beside the measured ones."""

    name: str
    op: str
    analytic_shape: tuple[int, int, int] = Field(description="(H, W, C) from the engine")
    measured_shape: tuple[int, int, int] | None = Field(description="(H, W, C) a forward "
                                                                    "hook saw")
    analytic_params: int
    measured_params: int | None
    analytic_flops: int = Field(description="2 x the engine's multiply-accumulates")
    measured_flops: int | None = Field(description="torch.utils.flop_counter, batch 1")

    @property
    def mismatches(self) -> tuple[str, ...]:
        """The fields where measured and analytic differ (measured ones missing included)."""
        pairs = (("shape", self.analytic_shape, self.measured_shape),
                 ("params", self.analytic_params, self.measured_params),
                 ("flops", self.analytic_flops, self.measured_flops))
        return tuple(name for name, a, m in pairs if m is not None and a != m)


class Timing(_Model):
    """One measurement: one batch size in one mode."""

    batch: int
    mode: Mode
    warmup: int
    repeats: int
    median_ms: float
    p90_ms: float
    images_per_s: float
    peak_bytes: int | None = Field(description="measured peak memory (see memory_method)")
    analytic_bytes: int = Field(description="the engine's estimate: parameter memory + "
                                            "activation memory (inference) or training memory")

    @property
    def memory_ratio(self) -> float | None:
        return None if self.peak_bytes is None else self.peak_bytes / self.analytic_bytes


class DeviceInfo(_Model):
    kind: DeviceKind
    name: str
    torch_version: str
    threads: int = Field(description="torch's intra-op threads")


class RunResult(_Model):
    """What a worker measured, beside what the engine predicted."""

    version: Literal[1] = PAYLOAD_VERSION
    label: str
    device: DeviceInfo
    worker: str
    hostname: str = Field(default="", description="the machine the worker ran on")
    input: tuple[int, int, int] | None = Field(default=None, description="the spec's input "
                                               "volume (H, W, C) as run")
    batch_sizes: list[int] = Field(default_factory=list, description="the batch sizes timed")
    dtype: RunDtype
    mode: Mode
    optimizer: Optimizer
    layers: list[LayerCheck]
    analytic_params: int
    measured_params: int
    analytic_flops: int = Field(description="2 x the engine's total multiply-accumulates")
    measured_flops: int = Field(description="torch.utils.flop_counter, one batch-1 forward")
    measured_training_flops: int | None = Field(default=
        None, description="flop_counter over one batch-1 forward + backward (training mode)")
    timings: list[Timing]
    timing_method: str
    memory_method: str
    seconds: float = Field(description="the job's wall time in the worker")

    @property
    def layer_mismatches(self) -> int:
        return sum(1 for row in self.layers if row.mismatches)


class RunAccepted(_Model):
    """The answer to POST /api/runs."""

    id: str
    status: Status
    cached: bool = Field(default=False, description="answered from the stored result of the same "
                                            "question (spec, options, device kind)")
    token: str | None = Field(default=None, description="the right to cancel this run (send it "
                              "as 'Authorization: Bearer <token>'); only the request that "
                              "created the job gets it")
    queue: str | None = Field(default=None, description="the queue the job was sent to")


class RunStatus(_Model):
    """GET /api/runs/{id}."""

    id: str
    status: Status
    progress: Progress | None = None
    result: RunResult | None = None
    error: str | None = Field(default=None, description="why the job failed or was cancelled")
    note: str | None = Field(default=None, description="what happened on the way, e.g. a lost "
                                                       "worker's job re-queued")
    cached: bool = False
