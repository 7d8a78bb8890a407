#!/usr/bin/env bash
# Make a Docker engine reachable for the grader and the kit's tests.
#
# 1. If `docker info` answers, do nothing (fast path, well under 2 s).
# 2. Otherwise, on Debian as root: install docker.io and start dockerd without a
#    bridge network (--bridge=none): containers then use --network host or none.
# 3. Otherwise explain what to install and exit non-zero.
# Then, when the Python base images the template uses are missing and cannot be
# pulled (no registry reachable), build local stand-ins with debootstrap.
# Safe to run any number of times.
set -euo pipefail

BASE_IMAGES=${KIT_BASE_IMAGES:-"python:3.11-slim python:3.13-slim"}
LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
APT_DIR=${KIT_APT_DIR:-/etc/apt}

say() { printf 'ensure-docker: %s\n' "$*" >&2; }

engine_up() { timeout 10 docker info >/dev/null 2>&1; }

start_engine() {
  if ! command -v dockerd >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "installing docker.io (Debian package)"
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
    else
      say "no Docker engine is reachable and this script cannot install one here."
      say "Install Docker Engine or Docker Desktop (https://docs.docker.com/engine/install/),"
      say "start it, and check that 'docker info' answers; then run this again."
      exit 1
    fi
  fi
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    say "starting dockerd (no bridge network; log: $LOG)"
    nohup dockerd --bridge=none --iptables=false --ip-forward=false >"$LOG" 2>&1 &
  fi
  for _ in $(seq 1 60); do
    engine_up && return 0
    sleep 1
  done
  say "dockerd did not answer within 60 s; last lines of $LOG:"
  tail -n 20 "$LOG" >&2 || true
  exit 1
}

debian_mirror() {
  # The Debian mirror this machine's own apt sources name (deb822 `URIs:` or a
  # one-line `deb URL suite ...`), never an address written here.
  local uri
  uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' "$APT_DIR"/sources.list.d/*.sources 2>/dev/null || true)
  if [ -z "$uri" ]; then
    uri=$(awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
      "$APT_DIR"/sources.list "$APT_DIR"/sources.list.d/*.list 2>/dev/null | head -n 1 || true)
  fi
  [ -n "$uri" ] || { say "no Debian mirror in this machine's apt sources"; return 1; }
  printf '%s\n' "${uri%/}"
}

build_standin() {
  # $1 = image tag such as python:3.11-slim
  local tag=$1 suite
  case "$tag" in
    python:3.11-slim) suite=bookworm ;;
    python:3.13-slim) suite=trixie ;;
    *) say "no recipe for a stand-in of $tag"; return 1 ;;
  esac
  command -v debootstrap >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  local root mirror
  mirror=$(debian_mirror) || return 1
  root=$(mktemp -d /var/tmp/kit-rootfs.XXXXXX)
  say "building a local stand-in for $tag from Debian $suite (about a minute)"
  debootstrap --variant=minbase \
    --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
    "$suite" "$root" "$mirror" >/dev/null
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' - "$tag" >/dev/null
  rm -rf "$root"
}

ensure_images() {
  local tag
  for tag in $BASE_IMAGES; do
    docker image inspect "$tag" >/dev/null 2>&1 && continue
    if timeout 60 docker pull -q "$tag" >/dev/null 2>&1; then
      continue
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      build_standin "$tag"
    else
      say "cannot pull $tag and cannot build a stand-in here; pull it when online."
      exit 1
    fi
  done
}

if [ "${1:-}" = "--mirror" ]; then  # print the mirror the stand-ins are built from
  debian_mirror
  exit
fi
if ! engine_up; then
  start_engine
fi
ensure_images
say "engine ready: $(docker version --format '{{.Server.Version}}' 2>/dev/null)"
