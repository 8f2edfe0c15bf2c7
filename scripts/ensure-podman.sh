#!/usr/bin/env bash
# The image test (make test-image) builds the Dockerfile with Debian's podman and runc, and makes a
# stand-in for the Dockerfile's base image with debootstrap. Install them when missing (root on
# these machines). A missing tool that cannot be installed is an error: the image test fails, never skips.
set -euo pipefail
missing=()
for tool in podman runc debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "missing ${missing[*]} and this user cannot apt-get install them: the image test cannot run" >&2
  exit 1
fi
echo "installing Debian's ${missing[*]} for the image test..." >&2
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman runc debootstrap >/dev/null
