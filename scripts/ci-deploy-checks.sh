#!/usr/bin/env bash
# The deployment checks, run by .ci/run after `npm test` (which built dist/):
#   template.yaml: sam validate --lint, cfn-lint and checkov report nothing;
#   sam build: its artifacts equal dist/ and pass the unit and integration suites on Node 22
#   (nodejs22.x, the oldest runtime the template allows; npm test ran them on Node 24);
#   examples/: scripts/check-examples.sh.
# Tools are pinned and installed once per machine by scripts/ci-tools.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/ci-tools.sh
source scripts/ci-tools.sh

steps=0
step() {
  steps=$((steps + 1))
  echo "== $*"
}

step "deployment tools"
install_ci_tools
print_ci_tool_versions
"$SHELLCHECK" -x scripts/ci-tools.sh scripts/ci-deploy-checks.sh scripts/check-examples.sh

step "sam validate --lint"
"$SAM" validate --lint

step "samconfig.toml: every environment validates and overrides only parameters the template has"
environments=$("$CI_TOOLS_DIR/sam/bin/python" -c 'import tomllib
print(*(k for k, v in tomllib.load(open("samconfig.toml", "rb")).items() if isinstance(v, dict)))')
for env in $environments; do
  "$SAM" validate --config-env "$env"
done
"$CI_TOOLS_DIR/sam/bin/python" - <<'PY'
import re, shlex, tomllib
from samcli.yamlhelper import yaml_parse

parameters = yaml_parse(open("template.yaml").read())["Parameters"]
for env, sections in tomllib.load(open("samconfig.toml", "rb")).items():
    if not isinstance(sections, dict):
        continue  # version
    overrides = sections.get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
    for pair in shlex.split(overrides):
        name, value = pair.split("=", 1)
        spec = parameters[name]  # KeyError: the template has no such parameter
        assert value in map(str, spec.get("AllowedValues", [value])), f"{env}: {pair}"
        assert re.fullmatch(spec.get("AllowedPattern", ".*"), value), f"{env}: {pair}"
    print(f"samconfig.toml [{env}]: parameter_overrides {overrides or '(none)'}: valid")
PY

step "cfn-lint template.yaml"
"$CFN_LINT" template.yaml
echo "cfn-lint: no findings"

step "checkov template.yaml (skips carry their reasons in the template)"
"$CHECKOV" --file template.yaml --framework cloudformation --compact --quiet --skip-download |
  grep -v '^$' || true
"$CHECKOV" --file template.yaml --framework cloudformation --skip-download --output json |
  python3 -c 'import json, sys; s = json.load(sys.stdin)["summary"]; print("checkov: {passed} passed, {failed} failed, {skipped} skipped, {parsing_errors} parsing errors".format(**s)); sys.exit(1 if s["failed"] or s["parsing_errors"] else 0)'

step "sam build, as users run it (no container; esbuild is a dependency, so SAM's install has it)"
rm -rf .aws-sam/build
"$SAM" build

step "sam build's artifacts on Node 22: identical to dist/, then the unit and integration suites"
# The fault matrix and the generative rights suites are left out here: the artifacts are byte for
# byte dist/, on which they ran in npm test (Node 24).
"$NODE22" scripts/test-sam-artifacts.mjs --testPathIgnorePatterns 'integration/(faults/|rights-generative)'


step "examples"
bash scripts/check-examples.sh

# Every step above stops the run when it fails: reaching here, all of them passed.
echo "deployment checks: $steps passed, 0 failed"
