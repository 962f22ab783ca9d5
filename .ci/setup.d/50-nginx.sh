#!/usr/bin/env bash
# nginx for tests/web/test_nginx.py: deploy/nginx.conf in front of the production server, run
# by the test itself on a free port. Debian's package, installed only when missing.
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  exit 0
fi
apt-get -o DPkg::Lock::Timeout=600 update
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends nginx
# the package's own service is not needed: the test starts its own nginx
service nginx stop >/dev/null 2>&1 || true
