#!/usr/bin/env bash
# Builds the Debian unstable (sid) roots that hold the database servers Debian stable lacks, for the
# integration test environment (test/helpers/environment/sid-roots.ts):
#   mysql     mysql-server-core: MySQL 9.7 (MySQL's LTS line; Debian stable ships no MySQL server)
#   mariadb   mariadb-server-core: MariaDB 11.8 (the two packages conflict, so each has its own root),
#             with mariadb-client-core for the my_print_defaults that mariadb-install-db runs
# Each root is a `debootstrap --variant=minbase sid` tree with the server package installed. The
# test environment runs the servers inside them with chroot, in a private mount namespace.
#
# Prints each root's directory. A root that is already complete is kept as it is (delete it, or
# pass --refresh, to build it again): a fresh machine builds them from scratch, in about a minute.
#
# Usage: scripts/install-sid-servers.sh [--refresh]
#   roots: ${ROTATION_SID_ROOTS:-${XDG_CACHE_HOME:-$HOME/.cache}/rotation-lambdas/sid-roots}/<name>
#   mirror: $DEBIAN_MIRROR, else the Debian mirror of this machine's own apt sources.
#
# Needs root (debootstrap, chroot) and the debootstrap package (apt-get install debootstrap).
set -euo pipefail

cache=${ROTATION_SID_ROOTS:-${XDG_CACHE_HOME:-$HOME/.cache}/rotation-lambdas/sid-roots}
refresh=false
[ "${1:-}" = --refresh ] && refresh=true

declare -A PACKAGES=(
  [mysql]=mysql-server-core
  [mariadb]="mariadb-server-core mariadb-client-core"
)
# Written last into a root: its presence means the root is complete. One line per package:
# `<package> <version>`, the server first.
STAMP=.rotation-lambdas-root

fail() {
  echo "install-sid-servers.sh: $*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || fail "must run as root (debootstrap and chroot need it): sudo bash $0"
command -v debootstrap >/dev/null || fail "no debootstrap: apt-get install debootstrap"

# The machine's Debian mirror: the first URI of a deb822 source (or a one-line source) that is not
# the security archive. Nothing is hard-coded, so a machine behind its own mirror uses that one.
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  local uri
  uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }')
  if [ -z "$uri" ]; then
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($i !~ /security/) { print $i; exit } break } }')
  fi
  [ -n "$uri" ] || fail "cannot find a Debian mirror in /etc/apt/sources.list(.d): set DEBIAN_MIRROR"
  echo "$uri"
}

# Complete, and with the packages wanted now (a changed list builds the root again).
complete() {
  [ -s "$cache/$1/$STAMP" ] &&
    [ "$(cut -d' ' -f1 "$cache/$1/$STAMP" | paste -sd' ')" = "${PACKAGES[$1]}" ]
}

todo=()
for name in "${!PACKAGES[@]}"; do
  if $refresh || ! complete "$name"; then
    todo+=("$name")
  fi
done

if [ ${#todo[@]} -gt 0 ]; then
  mkdir -p "$cache"
  mirror=$(debian_mirror)
  work=$(mktemp -d "$cache/.build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  # One base system, copied for each server: debootstrap is the slow part.
  echo "install-sid-servers.sh: debootstrap sid from $mirror" >&2
  if ! debootstrap --variant=minbase sid "$work/base" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    fail "debootstrap sid from $mirror failed (log above)"
  fi
  build() {
    local name=$1 root="$work/$1" log="$work/$1.log"
    cp -a "$work/base" "$root"
    # mariadb-install-db refuses to run unless `localhost` resolves; a minbase root has no hosts file.
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
    # The mirror may serve a snapshot older than its Release file's validity window.
    if ! {
      chroot "$root" apt-get -o Acquire::Check-Valid-Until=false update -qq &&
        DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq \
          --no-install-recommends ${PACKAGES[$name]} &&
        chroot "$root" apt-get clean
    } >"$log" 2>&1; then
      tail -n 30 "$log" >&2
      return 1
    fi
    local package
    for package in ${PACKAGES[$name]}; do
      chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' "$package"
    done >"$root/$STAMP.new"
    mv "$root/$STAMP.new" "$root/$STAMP"
  }
  pids=()
  for name in "${todo[@]}"; do
    build "$name" &
    pids+=($!)
  done
  for i in "${!todo[@]}"; do
    wait "${pids[$i]}" || fail "installing ${PACKAGES[${todo[$i]}]} into the sid root failed (log above)"
  done
  for name in "${todo[@]}"; do
    rm -rf "${cache:?}/$name"
    mv "$work/$name" "$cache/$name"
  done
fi

for name in "${!PACKAGES[@]}"; do
  echo "$cache/$name: $(paste -sd' ' "$cache/$name/$STAMP")"
done
