#!/usr/bin/env bash
# Make Debian's chromium available for the JupyterLab extension's browser tests.
#
#   scripts/chromium-setup.sh      # installs chromium from Debian when missing; prints its path
#
# The browser tests drive it with Python Playwright (`executable_path`), never with
# `playwright install`: only the Debian, PyPI and npm registries are reachable here.
# Idempotent: when chromium is already installed it only prints the path.
set -euo pipefail

log() { printf '[chromium-setup %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

if ! command -v chromium >/dev/null; then
  if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
    log "chromium is missing: install Debian's chromium (apt-get install chromium) or run as root"
    exit 1
  fi
  log "apt-get install chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
command -v chromium
