#!/usr/bin/env bash
# Make headless Chromium available for the kit's page tests (screenshots of the dashboard,
# poster, leaderboard and status wall; the poster printed to PDF).
#
# 1. If `chromium` (or chromium-browser, google-chrome) is on PATH, do nothing.
# 2. Otherwise, on Debian as root: install Debian's `chromium` package.
# 3. Otherwise explain what to install and exit non-zero.
# Safe to run any number of times.
set -euo pipefail

say() { printf 'ensure-chromium: %s\n' "$*" >&2; }

for name in chromium chromium-browser google-chrome; do
  if command -v "$name" >/dev/null 2>&1; then
    exit 0
  fi
done

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing chromium (Debian package)"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  fi
  command -v chromium >/dev/null 2>&1 && exit 0
fi

say "no Chromium on PATH and this script cannot install one here."
say "Install Chromium or Google Chrome (Debian: apt-get install chromium) and run this again."
exit 1
