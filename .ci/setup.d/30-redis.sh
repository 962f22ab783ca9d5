#!/usr/bin/env bash
# redis-server for the worker tests (tests/worker/ start it on a free port and stop it).
# Debian's package, installed only when missing.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
apt-get -o DPkg::Lock::Timeout=600 update
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends redis-server
# the package's own service is not needed: the tests start their own server
service redis-server stop >/dev/null 2>&1 || true
