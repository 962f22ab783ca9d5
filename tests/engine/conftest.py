"""The engine tests use the lecture's listings exactly as the app ships them."""

from __future__ import annotations

from app.examples import ALEXNET_SLIDE, BOTTLENECK_INCEPTION, NAIVE_INCEPTION

__all__ = ["ALEXNET_SLIDE", "BOTTLENECK_INCEPTION", "NAIVE_INCEPTION"]
