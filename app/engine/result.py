"""The result of an analysis: one object of raw integers, rendered as JSON or HTML.

The classes are frozen, slotted standard-library dataclasses, not pydantic models: a ResNet-152
has 516 rows and building each as a validated model cost more than the whole walk. They are
immutable: sequences are tuples and mappings :class:`~app.engine.graph.FrozenDict`, so a cached
analysis (the zoo's) can be handed to every request and no renderer can change it. Equal values
compare equal. pydantic still describes them: FastAPI documents and serialises them from these
annotations, and :func:`to_jsonable` gives the JSON form.

Formatting (thousands separators, "55x55x96", MB) happens at the edge. Each figure's working is
structured data (``LayerRow.working``, see ``app.engine.working``); ``formulas`` is its plain-text
rendering, kept for programs. Explanations and warnings are sentences the pages show verbatim.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields, make_dataclass
from typing import Annotated, Any, TypeVar

from pydantic import Field, PlainSerializer, TypeAdapter

from app.engine.graph import FrozenDict
from app.engine.options import DEFAULTS, DTYPE_BYTES, Dtype, Optimizer, Options
from app.engine.working import Working, to_text

__all__ = [
    "DTYPE_BYTES",
    "FIGURES",
    "RF",
    "Analysis",
    "AxisRF",
    "AxisSpread",
    "ClaimResult",
    "Dtype",
    "Formulas",
    "LayerRow",
    "Optimizer",
    "Options",
    "RFSpread",
    "Rendered",
    "Totals",
    "VolumeOut",
    "WarningOut",
    "WorkingView",
    "to_jsonable",
]


@dataclass(frozen=True, slots=True)
class VolumeOut:
    h: int
    w: int
    c: int


@dataclass(frozen=True, slots=True)
class AxisRF:
    size: Annotated[int | float, Field(
        description="receptive field along this axis, in input pixels (a fraction only after "
                    "upsampling or a transposed convolution)")]
    jump: Annotated[int | float, Field(
        description="distance in input pixels between adjacent output units (the effective "
                    "stride; below 1 after upsampling)")]
    start: Annotated[float, Field(description="centre of the first output unit's field, in "
                                              "input pixel coordinates (first pixel's centre = 0)")]


@dataclass(frozen=True, slots=True)
class AxisSpread:
    """Along one axis, how the fields of a row's units differ where they vary by position."""

    smallest: Annotated[int, Field(description="the smallest field of a unit, in input pixels")]
    largest: Annotated[int, Field(description="the largest field of a unit, in input pixels")]
    offset: Annotated[float, Field(
        description="the largest distance, in input pixels, between a unit's field centre and "
                    "where size, jump and start place it (start + index x jump)")]
    units: Annotated[int, Field(
        description="the units worked out: one period of the pattern the row's units repeat "
                    "(or the whole row), else the row's first units")]
    whole: Annotated[bool, Field(
        description="true when the range holds for every unit of the row (a period, or all "
                    "units, was worked out)")]


@dataclass(frozen=True, slots=True)
class RFSpread:
    """After upsampling, transposed convolutions or unaligned merges a row's units do not all
    see alike: per axis (None where they do) the range over its units, each unit's field
    counted as the one formula does, padding included."""

    h: AxisSpread | None
    w: AxisSpread | None


@dataclass(frozen=True, slots=True)
class RF:
    """Receptive field. ``size``/``jump``/``start`` are those of the axis with the larger field
    (H on a tie); ``h`` and ``w`` give both axes."""

    size: int | float
    jump: int | float
    start: float
    h: AxisRF
    w: AxisRF
    spread: Annotated[RFSpread | None, Field(
        description="where the field varies by the unit's position: the range over the row's "
                    "units per axis; null where every unit sees alike")] = None


@dataclass(frozen=True, slots=True)
class ClaimResult:
    field: Annotated[str, Field(description="output | activations | params | weights | biases | "
                                            "macs | flops | rf | activation_bytes")]
    claimed: Annotated[str, Field(description="what was written, e.g. '224*224*64=3.2M'")]
    computed: Annotated[int | str, Field(description="the exact value (a volume is 'HxWxC')")]
    ok: bool
    explanation: str
    rounded: Annotated[bool, Field(description="right only to the precision written and further "
                                               "than 0.1% from the exact value ('35K' for "
                                               "34,944); the lecture page judges the same")] = False


@dataclass(frozen=True, slots=True)
class LayerRow:
    index: Annotated[int, Field(description="0-based row number; the input is row 0")]
    name: str
    op: Annotated[str, Field(description="layer op, or for a merge row: concat, add, join")]
    line: Annotated[int, Field(description="spec line this row comes from")]
    block: Annotated[str, Field(description="path of enclosing blocks, e.g. "
                                            "'inception3a/branch2'; '' on the main path")]
    depth: Annotated[int, Field(description="nesting level (0 = main path)")]
    attrs: Mapping[str, int | float | bool | str]
    input: VolumeOut
    output: VolumeOut
    weights: int
    biases: int
    params: int
    macs: Annotated[int, Field(description="multiply-accumulates (conv and fc only)")]
    activations: Annotated[int, Field(description="values in this row's output tensor, per image")]
    activation_bytes: Annotated[int, Field(description="activations x bytes per value (dtype) x "
                                                       "batch")]
    rf: RF
    formulas: FormulasField
    warnings: Annotated[tuple[str, ...], Field(description="problems: real input left unread, "
                                                           "unaligned branches")]
    claims: tuple[ClaimResult, ...]
    notes: Annotated[tuple[str, ...], Field(description="remarks that are not problems, e.g. "
                                                        "a floored size where only padding "
                                                        "goes unread")] = ()
    survival: Annotated[float | None, Field(description="stochastic depth: probability that "
                                                        "this row runs during training")] = None
    inputs: Annotated[tuple[str, ...], Field(description="the rows it reads by name (`from "
                                                         "NAME`, a merge's inputs); empty: "
                                                         "the row before it")] = ()

    @property
    def working(self) -> Mapping[str, Working]:
        """Each figure's working as data (HTML and LaTeX: app.present.working); not in the JSON.
        A view over the same shared parts as ``formulas``, so a row holds one of them."""
        f = self.formulas
        return WorkingView(*f._parts) if isinstance(f, Formulas) else FrozenDict()


@dataclass(frozen=True, slots=True)
class Totals:
    params: int
    weights: int
    biases: int
    macs: int
    flops: Annotated[int, Field(description="2 x macs")]
    activations: int
    activation_bytes: Annotated[int, Field(description="activations x bytes per value x batch")]
    param_bytes: Annotated[int, Field(description="params x bytes per value")]
    training_bytes: Annotated[int, Field(
        description="activation_bytes + params x bytes x (1 weights + 1 gradients + optimizer "
                    "state: 1 for SGD momentum, 2 for Adam)")]
    depth: Annotated[int, Field(description="conv and fc layers on the longest path")]
    weight_layers: Annotated[int, Field(description="number of conv and fc layers")]
    expected_depth: Annotated[float | None, Field(
        description="stochastic depth: expected depth during training")] = None
    expected_macs: Annotated[float | None, Field(
        description="stochastic depth: expected macs per image during training")] = None


@dataclass(frozen=True, slots=True)
class WarningOut:
    layer: str
    line: int
    message: str


@dataclass(frozen=True, slots=True)
class Analysis:
    input: VolumeOut
    output: VolumeOut
    layers: tuple[LayerRow, ...]
    totals: Totals
    warnings: tuple[WarningOut, ...] = ()
    claims: Annotated[tuple[ClaimResult, ...], Field(
        description="claims about the whole network (TOTAL lines)")] = ()
    conventions: dict[str, str] = field(default_factory=FrozenDict)
    options: Options = DEFAULTS
    outputs: Annotated[tuple[str, ...], Field(
        description="the rows that are the network's outputs (an `output` line); `output` is "
                    "the first one's volume; empty: the last row is the output")] = ()


_ADAPTERS: dict[type, TypeAdapter[Any]] = {}

_T = TypeVar("_T")


def maker(cls: type[_T]) -> Callable[..., _T]:
    """A fast constructor for a frozen slotted dataclass, for the walk's hot path.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``, several
    times slower than a plain slotted class, and the walk builds a row per layer. This builds
    the value as an instance of a plain slotted twin with the same slots in the same order,
    then makes it an instance of ``cls`` (CPython allows assigning ``__class__`` between
    classes of the same layout). The result is an ordinary ``cls``:
    frozen, equal to and hashing as one built by ``cls(...)``, serialised by pydantic alike
    (tests/engine/test_result_frozen.py checks all three)."""
    spec: list[tuple[str, Any, Any]] = []
    for f in fields(cls):  # type: ignore[arg-type]
        default = (field(default=f.default) if f.default is not MISSING
                   else field(default_factory=f.default_factory)
                   if f.default_factory is not MISSING else field())
        spec.append((f.name, Any, default))
    twin = make_dataclass(f"_Building{cls.__name__}", spec, slots=True)
    if getattr(twin, "__slots__", ()) != getattr(cls, "__slots__", None):
        raise TypeError(f"{cls.__name__} is not a slotted dataclass of plain fields")

    def make(*args: Any, **kwargs: Any) -> _T:
        made = twin(*args, **kwargs)
        made.__class__ = cls
        return made  # type: ignore[no-any-return]

    make.__doc__ = f"Build a frozen {cls.__name__} quickly (see :func:`maker`)."
    return make


#: the figures every row works out, in the order they are shown; "rf" comes from the path
FIGURES = ("h", "w", "c", "weights", "biases", "params", "macs", "activations")


class Rendered:
    """Some figures' working, built when first asked for, and their plain text, rendered when
    first asked for. Rows that share a layer's working (ResNet-152's 36 equal bottlenecks)
    share one of these, so each is built and rendered at most once per analysis, and only when
    something reads it: the API's JSON reads the text, a page renders HTML from the working,
    the totals need neither.

    The working is made by ``make(*args)``, a module-level function and its arguments rather
    than a closure: a network of 5,000 distinct rows would otherwise hold 40,000 more objects
    (functions and their cells) for the walk to build and the collector to scan."""

    __slots__ = ("_args", "_make", "_text", "_working", "keys")

    def __init__(self, keys: tuple[str, ...], make: Callable[..., Mapping[str, Working]],
                 *args: Any) -> None:
        self.keys = keys
        self._make: Callable[..., Mapping[str, Working]] | None = make
        self._args = args
        self._working: Mapping[str, Working] | None = None
        self._text: dict[str, str] | None = None

    @classmethod
    def of(cls, working: Mapping[str, Working]) -> Rendered:
        made = cls.__new__(cls)
        made.keys, made._make, made._args = tuple(working), None, ()
        made._working, made._text = working, None
        return made

    @property
    def working(self) -> Mapping[str, Working]:
        if self._working is None:
            assert self._make is not None
            self._working = self._make(*self._args)
            self._make, self._args = None, ()
        return self._working

    def text(self) -> dict[str, str]:
        if self._text is None:
            self._text = {k: to_text(w) for k, w in self.working.items()}
        return self._text


class _Figures(Mapping[str, Any]):
    """A read-only mapping over a row's shared :class:`Rendered` parts (the layer's figures,
    the path's receptive field)."""

    __slots__ = ("_parts",)

    def __init__(self, *parts: Rendered) -> None:
        self._parts = parts

    def _get(self, part: Rendered, key: str) -> Any:
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        for part in self._parts:
            if key in part.keys:
                return self._get(part, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        for part in self._parts:
            yield from part.keys

    def __len__(self) -> int:
        return sum(len(p.keys) for p in self._parts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    def __hash__(self) -> int:
        return hash(tuple(self.items()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self.items())!r})"


class Formulas(_Figures):
    """A row's ``formulas``: figure -> plain text."""

    def _get(self, part: Rendered, key: str) -> str:
        return part.text()[key]

    def plain(self) -> dict[str, str]:
        """All of them as a dict, in order: what the JSON holds (one dict per part rather than
        a lookup per figure, which would dominate serialising a result)."""
        out: dict[str, str] = {}
        for part in self._parts:
            text = part.text()
            out.update({k: text[k] for k in part.keys})
        return out


class WorkingView(_Figures):
    """A row's ``working``: figure -> structured :class:`~app.engine.working.Working`."""

    def _get(self, part: Rendered, key: str) -> Working:
        return part.working[key]


def _plain(formulas: Mapping[str, str]) -> dict[str, str]:
    if isinstance(formulas, Formulas):
        return formulas.plain()
    return dict(formulas.items())


#: how a row's formulas are validated (any mapping of strings), serialised and documented
FormulasField = Annotated[Mapping[str, str], PlainSerializer(_plain, return_type=dict[str, str]),
                          Field(description="the worked arithmetic of each figure, as plain "
                                            "text (rendered from the structured working)")]


def to_jsonable(obj: Any) -> Any:
    """The JSON form (plain dicts, lists and numbers) of any result object above."""
    cls = type(obj)
    if cls not in _ADAPTERS:
        _ADAPTERS[cls] = TypeAdapter(cls)
    return _ADAPTERS[cls].dump_python(obj, mode="json")
