#!/bin/sh
# Entry point of the local MySQL and MariaDB test images (test/helpers/environment/images.ts),
# built here because no image registry is reachable. It keeps the environment contract of the
# official `mysql` and `mariadb` images that the suites rely on, and nothing more:
#   MYSQL_ROOT_PASSWORD (MariaDB images also take MARIADB_ROOT_PASSWORD) is required and becomes
#   the password of `root@localhost` and of `root@'%'` (with every privilege, WITH GRANT OPTION);
#   arguments starting with `-` go to the server; the server runs as the `mysql` user and listens
#   on port 3306 on every address, which opens only once the accounts exist.
set -eu

if mariadbd=$(command -v mariadbd); then
  server=$mariadbd
  password=${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}
else
  server=$(command -v mysqld)
  password=${MYSQL_ROOT_PASSWORD:-}
fi
if [ "${1#-}" != "$1" ]; then
  set -- "$server" "$@"
fi
case "$1" in
  mysqld | mariadbd | */mysqld | */mariadbd) ;;
  *) exec "$@" ;;
esac
shift

datadir=/var/lib/mysql
rundir=/run/mysqld
# Debian's MySQL is built with --secure-file-priv=/var/lib/mysql-files, as the official image's.
files=/var/lib/mysql-files
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$datadir" "$rundir" "$files"
  chown mysql:mysql "$datadir" "$rundir" "$files"
  exec runuser -u mysql -- "$0" "$@"
fi

set -- --datadir="$datadir" --socket="$rundir/mysqld.sock" --pid-file="$rundir/mysqld.pid" \
  --port=3306 --bind-address=0.0.0.0 --character-set-server=utf8mb4 "$@"
if [ ! -d "$datadir/mysql" ]; then
  if [ -z "$password" ]; then
    echo 'docker-entrypoint.sh: MYSQL_ROOT_PASSWORD (or MARIADB_ROOT_PASSWORD) must be set' >&2
    exit 1
  fi
  # The accounts are made by the server itself, from a file only the mysql user can read, during
  # initialisation (MySQL) or before the first start opens its port (MariaDB).
  init=$rundir/init.sql
  umask 077
  literal=$(printf '%s' "$password" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")
  cat >"$init" <<SQL
ALTER USER 'root'@'localhost' IDENTIFIED BY '$literal';
CREATE USER 'root'@'%' IDENTIFIED BY '$literal';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
SQL
  if [ "$server" = "${mariadbd:-}" ]; then
    mariadb-install-db --no-defaults --datadir="$datadir" --auth-root-authentication-method=normal \
      --skip-test-db >/dev/null
    set -- --init-file="$init" "$@"
  else
    "$server" --no-defaults --datadir="$datadir" --initialize-insecure --init-file="$init"
    rm -f "$init"
  fi
  echo 'docker-entrypoint.sh: MySQL init process done. Ready for start up.'
fi

exec "$server" --no-defaults "$@"
