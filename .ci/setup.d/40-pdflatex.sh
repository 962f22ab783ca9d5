#!/usr/bin/env bash
# pdflatex with booktabs and longtable: tests/export/test_golden.py compiles the LaTeX exports
# (the test skips where pdflatex is missing).
set -euo pipefail
if command -v pdflatex >/dev/null 2>&1 && kpsewhich booktabs.sty >/dev/null 2>&1; then
  exit 0
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  texlive-latex-base texlive-latex-recommended
