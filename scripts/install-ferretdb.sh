#!/usr/bin/env bash
# Builds FerretDB (a MongoDB-wire-protocol server on SQLite) from the Go module proxy into a cache
# directory, for the integration test environment (test/helpers/environment/local-ferretdb.ts).
# Prints the binary's path. Does nothing but print it when the cached binary already reports the
# pinned version.
#
# Usage: scripts/install-ferretdb.sh [binary path]
#   default path: ${XDG_CACHE_HOME:-$HOME/.cache}/rotation-lambdas/ferretdb-<version>/ferretdb
#   (the environment also looks there, or at $FERRETDB_BIN).
#
# Needs a `go` command (any version; Debian 12's golang-go 1.19 will do) and the Go module proxy.
# FerretDB needs Go >= 1.22: an older `go` fetches the Go 1.22.6 toolchain module from the proxy,
# as `GOTOOLCHAIN` would. `go install ...@version` does not work for FerretDB (the proxy refuses
# its version list, and the module needs a generated build/version/version.txt), so the module is
# downloaded and built by hand.
set -euo pipefail

VERSION=v1.24.0
MODULE=github.com/FerretDB/FerretDB
# FerretDB's go.mod: `go 1.22`, `toolchain go1.22.6`.
GO_MINIMUM=1.22
GO_TOOLCHAIN=go1.22.6

binary=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/rotation-lambdas/ferretdb-$VERSION/ferretdb}

# `ferretdb --version` prints `version: v1.24.0`, then commit, branch and other lines.
# (Captured first: with pipefail, `grep -q` closing the pipe early could fail the pipeline.)
has_version() {
  local output
  [ -x "$1" ] && output=$("$1" --version 2>/dev/null) && grep -qx "version: $VERSION" <<<"$output"
}

if has_version "$binary"; then
  echo "$binary"
  exit 0
fi

command -v go >/dev/null || {
  echo "install-ferretdb.sh: no go command: apt-get install golang-go (any version will do)" >&2
  exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/ferretdb-build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# download MODULE@VERSION: prints the module's directory in the (read-only) module cache.
# Run from the empty work directory (outside any module), `go mod download` only fills the module
# cache. With -json, errors are reported in the JSON on stdout.
download() {
  local json dir
  if ! json=$(cd "$work" && "$go" mod download -json "$1"); then
    echo "install-ferretdb.sh: go mod download $1 failed:" >&2
    echo "$json" >&2
    return 1
  fi
  dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    echo "install-ferretdb.sh: go mod download $1 reported no directory:" >&2
    echo "$json" >&2
    return 1
  fi
  echo "$dir"
}

go=go
go_version=$(go env GOVERSION 2>/dev/null || go version | awk '{print $3}')
go_version=${go_version#go}
if [ "$(printf '%s\n' "$GO_MINIMUM" "$go_version" | sort -V | head -n 1)" != "$GO_MINIMUM" ]; then
  case "$(uname -m)" in
    x86_64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) arch=$(uname -m) ;;
  esac
  echo "install-ferretdb.sh: go $go_version is older than $GO_MINIMUM: fetching $GO_TOOLCHAIN" >&2
  toolchain=$(download "golang.org/toolchain@v0.0.1-$GO_TOOLCHAIN.linux-$arch")
  # Module zips record no file modes: set the execute bits, tools before bin/go, as the go
  # command does for the toolchains it downloads itself.
  find "$toolchain/pkg/tool" -type f -exec chmod a+x {} +
  find "$toolchain/bin" -type f -exec chmod a+x {} +
  go=$toolchain/bin/go
  export GOROOT=$toolchain
fi

echo "install-ferretdb.sh: building FerretDB $VERSION into $binary with $("$go" version)" >&2
module_dir=$(download "$MODULE@$VERSION")
cp -r "$module_dir" "$work/src"
chmod -R u+w "$work/src"
echo "$VERSION" >"$work/src/build/version/version.txt"
echo "rotation-lambdas-test" >"$work/src/build/version/package.txt"
# GOTOOLCHAIN=local: build with the go chosen above, never switch silently.
(cd "$work/src" && GOTOOLCHAIN=local "$go" build -trimpath -buildvcs=false -o "$work/ferretdb" ./cmd/ferretdb)

has_version "$work/ferretdb" || {
  echo "install-ferretdb.sh: the built binary does not report version $VERSION:" >&2
  "$work/ferretdb" --version >&2 || true
  exit 1
}
mkdir -p "$(dirname "$binary")"
# Through a temporary name in the target directory, so a concurrent run never sees half a binary.
cp "$work/ferretdb" "$binary.tmp.$$"
mv -f "$binary.tmp.$$" "$binary"
echo "$binary"
