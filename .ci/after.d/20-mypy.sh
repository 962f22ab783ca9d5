#!/usr/bin/env bash
# Types: mypy --strict on the whole app (configured in pyproject.toml [tool.mypy], with
# pydantic's plugin).
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/mypy --strict app
