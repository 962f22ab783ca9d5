"""The drawing primitives of the receptive-field diagrams: rectangles, texts, polygons, in SVG
user units, and how a coordinate is written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    cls: str


@dataclass(frozen=True, slots=True)
class Text:
    x: float
    y: float
    text: str
    cls: str = "rf-label"
    anchor: Literal["start", "middle", "end"] = "start"


@dataclass(frozen=True, slots=True)
class Poly:
    points: str
    cls: str


def num(x: float) -> str:
    """A coordinate or size as people read it: 5, 2.5, -0.5."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"
