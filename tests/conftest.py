"""Settings for the whole test session.

Every test client and test server sends from one address, and the worker's tests start dozens
of real runs a minute: far past the per-client rate limit (``app/web/ratelimit.py``), which
exists to stop exactly that. The limit is raised here, in the environment the app's settings
and the servers the tests start read; tests/web/test_ratelimit.py checks the limit itself with
settings of its own, and the defaults as documented.
"""

from __future__ import annotations

import os

for name in ("RATE_PER_SECOND", "RATE_BURST", "RUNS_PER_MINUTE", "RUNS_BURST"):
    os.environ.setdefault(f"ARCHCALC_{name}", "1000000000")
