"""Engine time on the inputs written to be slow (tests/engine/test_mutations.py's WORST list)
and on the zoo's biggest networks: median of 5 runs each, in milliseconds of process time.

The target: no input of at most 64 KiB takes more than 100 ms of engine time. Run it on an
idle machine: `python benchmarks/bench_engine_worst.py`.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "engine"))

from test_mutations import WORST

from app import zoo
from app.engine import SpecError, analyze

TARGET_MS = 100.0


def engine_ms(text: str, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.process_time()
        try:
            analyze(text)
        except SpecError:
            pass
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    print(f"load average: {os.getloadavg()[0]:.2f} (figures are only meaningful near 0)")
    cases = [(text[:40].replace("\n", " | "), text[: 64 * 1024]) for text in WORST]
    cases += [(f"zoo {m}", zoo.model_spec(m)) for m in ("resnet152", "densenet121", "googlenet")]
    worst = 0.0
    for label, text in cases:
        ms = engine_ms(text)
        worst = max(worst, ms)
        print(f"{ms:8.1f} ms  {len(text.encode()):6,} bytes  {label}")
    verdict = "met" if worst <= TARGET_MS else "NOT met"
    print(f"slowest: {worst:.1f} ms; target {TARGET_MS:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
