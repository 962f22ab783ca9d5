#!/usr/bin/env bash
# Lint with ruff, configured in pyproject.toml ([tool.ruff]: line length 100, Python 3.11).
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/ruff check app tests benchmarks
