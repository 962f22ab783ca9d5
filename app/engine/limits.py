"""Size limits, checked before any work is done. One place, so docs and tests read them here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    max_body_bytes: int = 64 * 1024
    max_layers: int = 5_000
    max_nesting: int = 16
    max_channels: int = 65_536
    max_hw: int = 16_384
    max_kernel: int = 64
    max_stride: int = 64
    max_dilation: int = 64
    max_pad: int = 1_024
    max_groups: int = 65_536
    max_batch: int = 4_096
    max_total: int = 2**53 - 1


LIMITS = Limits()
