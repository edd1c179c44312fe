#!/usr/bin/env bash
# A local container engine for the suites' testcontainers path, where there is no Docker and no
# image registry: installs podman (Debian's) if it is missing, builds the local images of
# test/helpers/environment/images.ts (scripts/build-test-images.ts; kept while their recipes do not
# change), and serves podman's Docker-compatible API on $ROTATION_PODMAN_SOCKET, default
# /run/rotation-lambdas/podman.sock, until the machine stops (or `--stop`).
# Then: npm run test:containers:local
#
# Usage: sudo bash scripts/local-images.sh [--refresh | --stop]
# Needs root (debootstrap, chroot, podman as root), the FerretDB binary (scripts/install-ferretdb.sh)
# and the npm packages (npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."

socket=${ROTATION_PODMAN_SOCKET:-/run/rotation-lambdas/podman.sock}
export CONTAINERS_CONF="$PWD/test/images/containers.conf"

fail() {
  echo "local-images.sh: $*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || fail "must run as root (debootstrap, chroot and podman need it): sudo bash $0"

pidfile="${socket%.sock}.pid"
stop_service() {
  if [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; then
    echo "local-images.sh: stopped the podman API on $socket"
  fi
  rm -f "$pidfile" "$socket"
}
if [ "${1:-}" = --stop ]; then
  stop_service
  exit 0
fi

missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  echo "local-images.sh: installing ${missing[*]} (Debian packages)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node scripts/run-ts.mjs scripts/build-test-images.ts "$@"

# One service per socket: a second start would fight the first for it.
if curl -fsS --unix-socket "$socket" http://d/_ping >/dev/null 2>&1; then
  echo "local-images.sh: the podman API already answers on $socket"
else
  stop_service
  mkdir -p "$(dirname "$socket")"
  setsid podman system service --time=0 "unix://$socket" >"${socket%.sock}.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  for _ in $(seq 50); do
    curl -fsS --unix-socket "$socket" http://d/_ping >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS --unix-socket "$socket" http://d/_ping >/dev/null ||
    fail "podman's API did not answer on $socket (log: ${socket%.sock}.log)"
  echo "local-images.sh: podman $(podman --version | awk '{print $3}') serves the Docker API on $socket"
fi
