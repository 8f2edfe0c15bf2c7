#!/usr/bin/env bash
# The emulator page test drives Debian's headless Chromium. Install it when missing (root on these
# machines). Failure here is loud: the page test then fails rather than skips.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "chromium is missing and this user cannot apt-get install it; the emulator page test will fail" >&2
  exit 0
fi
echo "installing Debian's chromium for the emulator page test..." >&2
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
command -v chromium
