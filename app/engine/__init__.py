"""archcalc's analytic engine: spec -> layer graph -> per-layer numbers.

Pure Python (standard library + pydantic): importing it loads neither the web stack nor torch.
"""

from app.engine.analyze import analyze, analyze_layer, analyze_network
from app.engine.errors import Issue, LimitError, SpecError
from app.engine.graph import Block, Claim, Layer, Network, Node, Volume
from app.engine.jsonspec import parse_json_spec
from app.engine.limits import LIMITS, Limits
from app.engine.parse import check_input, parse_spec
from app.engine.result import Analysis, LayerRow, Totals

__all__ = [
    "LIMITS",
    "Analysis",
    "Block",
    "Claim",
    "Issue",
    "Layer",
    "LayerRow",
    "LimitError",
    "Limits",
    "Network",
    "Node",
    "SpecError",
    "Totals",
    "Volume",
    "analyze",
    "analyze_layer",
    "analyze_network",
    "check_input",
    "parse_json_spec",
    "parse_spec",
]
