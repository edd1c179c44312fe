#!/bin/sh
# Entry point of the local PostgreSQL test images (test/helpers/environment/images.ts), built here
# because no image registry is reachable. It keeps the environment contract of the official
# `postgres` image that @testcontainers/postgresql relies on, and nothing more:
#   POSTGRES_PASSWORD (required), POSTGRES_USER (default postgres), POSTGRES_DB (default
#   $POSTGRES_USER), PGDATA (default /var/lib/postgresql/data); arguments starting with `-` go to
#   `postgres`; the server runs as the `postgres` user, listens on every address (port 5432) and
#   takes SCRAM logins over TCP; the TCP port opens only once the cluster is ready.
set -eu

if [ "${1#-}" != "$1" ]; then
  set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
  exec "$@"
fi

: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec runuser -u postgres -- "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo 'docker-entrypoint.sh: POSTGRES_PASSWORD must be set (this image has no passwordless mode)' >&2
    exit 1
  fi
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth=scram-sha-256 --encoding=UTF8 \
    --no-locale --no-sync >/dev/null
  rm -f "$pwfile"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  echo 'host all all all scram-sha-256' >>"$PGDATA/pg_hba.conf"
  if [ "$POSTGRES_DB" != postgres ]; then
    # Single-user mode: no server listens until the cluster is complete.
    printf 'CREATE DATABASE "%s";\n' "$(printf '%s' "$POSTGRES_DB" | sed 's/"/""/g')" |
      postgres --single -D "$PGDATA" -j postgres >/dev/null
  fi
  echo 'docker-entrypoint.sh: PostgreSQL init process complete; ready for start up.'
fi

exec "$@"
