#!/usr/bin/env bash
# Chromium for the browser tests (tests/browser/): Debian's package, driven by Playwright's
# Python package (its own browser download cannot run here). Fonts so pages render text.
set -euo pipefail
if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi "DejaVu Sans"; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
