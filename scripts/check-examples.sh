#!/usr/bin/env bash
# Checks the examples under examples/ with the tools there are here (scripts/ci-tools.sh):
#   cloudformation/  cfn-lint
#   cdk/             npm ci; tsc --noEmit (strict); synth; cfn-lint of the synthesized template
#   terraform/       terraform fmt -check; init from the machine's provider mirror; validate; apply
#                    against moto (python-hcl2 only parses it where terraform is absent)
#   aws-cli/         bash -n; shellcheck; runs against moto (attach, and the migration guide's switch)
# moto stands in for AWS: a stand-in function, and a stand-in rotation-lambdas stack that exports
# its ARN as PostgresqlSingleUserFunctionArn, as the real stack does.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/ci-tools.sh
source scripts/ci-tools.sh
install_ci_tools

work=$(mktemp -d)
moto_pid=
cleanup() {
  if [ -n "$moto_pid" ]; then kill "$moto_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "-- cloudformation/rotation-schedule.yaml: cfn-lint"
"$CFN_LINT" examples/cloudformation/rotation-schedule.yaml
echo "cfn-lint: no findings"

echo "-- cdk/app.ts: npm ci, tsc --noEmit, synth, cfn-lint"
(
  cd examples/cdk
  npm ci --no-audit --no-fund --loglevel=error
  node_modules/.bin/tsc --noEmit
  node_modules/.bin/tsc
  CDK_OUTDIR="$work/cdk.out" \
    CDK_CONTEXT_JSON='{"secretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-db-AbCdEf"}' \
    node build/app.js
)
synthesized=$work/cdk.out/SecretRotation.template.json
"$CFN_LINT" "$synthesized"
python3 - "$synthesized" <<'PY'
import json, sys
resources = json.load(open(sys.argv[1]))["Resources"].values()
[rotation] = [r for r in resources if r["Type"] == "AWS::SecretsManager::RotationSchedule"]
assert rotation["Properties"]["RotationLambdaARN"] == {
    "Fn::ImportValue": "rotation-lambdas-PostgresqlSingleUserFunctionArn"
}, rotation
print("synthesized: one RotationSchedule importing rotation-lambdas-PostgresqlSingleUserFunctionArn; cfn-lint: no findings")
PY

echo "-- moto as AWS: a stand-in function and rotation-lambdas stack"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# moto as scripts/provision.sh installed it: for python3, or in a venv of ours when python3 lacks it.
python=${XDG_CACHE_HOME:-$HOME/.cache}/rotation-lambdas/moto-venv/bin/python3
[ -x "$python" ] || python=python3
"$python" -m moto.server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
moto=http://127.0.0.1:$port
for _ in $(seq 100); do
  if curl -sf "$moto/moto-api/config" >/dev/null; then break; fi
  sleep 0.2
done
# moto's Lambda without Docker: an invocation answers at once and runs nothing. RotateSecret
# invokes the function, so the secret's rotation gets configured without a real function.
curl -sf -X POST -H 'Content-Type: application/json' -d '{"lambda": {"use_docker": false}}' \
  "$moto/moto-api/config" >/dev/null
export AWS_ENDPOINT_URL=$moto AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
role=$("$AWS" iam create-role --role-name stand-in --query Role.Arn --output text \
  --assume-role-policy-document '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}')
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1], "w").writestr("index.js", "exports.handler = async () => {};")' "$work/stand-in.zip"
function_arn=$("$AWS" lambda create-function --function-name rotation-lambdas-postgresql-single-user \
  --runtime nodejs24.x --handler index.handler --role "$role" --zip-file "fileb://$work/stand-in.zip" \
  --query FunctionArn --output text)
cat >"$work/stand-in.yaml" <<'YAML'
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  FunctionArn:
    Type: String
Resources:
  Placeholder:
    Type: AWS::CloudFormation::WaitConditionHandle
Outputs:
  PostgresqlSingleUserFunctionArn:
    Value: !Ref FunctionArn
    Export:
      Name: !Sub ${AWS::StackName}-PostgresqlSingleUserFunctionArn
YAML
"$AWS" cloudformation create-stack --stack-name rotation-lambdas --template-body "file://$work/stand-in.yaml" \
  --parameters "ParameterKey=FunctionArn,ParameterValue=$function_arn" >/dev/null
echo "stand-in function $function_arn"

# expect_rotation SECRET: the secret's rotation function must be the stand-in function.
expect_rotation() {
  local attached
  attached=$("$AWS" secretsmanager describe-secret --secret-id "$1" --query RotationLambdaARN --output text)
  if [ "$attached" != "$function_arn" ]; then
    echo "secret $1 rotates with '$attached', not $function_arn" >&2
    exit 1
  fi
  echo "secret $1 now rotates with the stand-in function"
}

echo "-- aws-cli/attach-rotation.sh: bash -n, shellcheck, a run against moto"
bash -n examples/aws-cli/attach-rotation.sh
"$SHELLCHECK" examples/aws-cli/attach-rotation.sh
"$AWS" secretsmanager create-secret --name cli-example --secret-string '{"engine": "postgres"}' >/dev/null
PATH="$(dirname "$AWS"):$PATH" bash examples/aws-cli/attach-rotation.sh cli-example
expect_rotation cli-example

echo "-- README, \"Attach a function to a secret\": its commands as written, against moto"
# The first shell block after that heading, run with `aws` on PATH; test/unit/readme-commands.test.ts
# lists every README command and where CI runs it.
readme_attach=$(awk '/^### Attach a function to a secret/ { found = 1 } found && /^```sh/ { inside = 1; next }
  inside && /^```/ { exit } inside' README.md)
[ -n "$readme_attach" ] || { echo "no shell block under 'Attach a function to a secret' in README.md" >&2; exit 1; }
"$AWS" secretsmanager create-secret --name app-db --secret-string '{"engine": "postgres"}' >/dev/null
PATH="$(dirname "$AWS"):$PATH" bash -euo pipefail -c "$readme_attach"
expect_rotation app-db

echo "-- aws-cli/switch-from-aws-template.sh (the README's migration guide): shellcheck, runs against moto"
bash -n examples/aws-cli/switch-from-aws-template.sh
"$SHELLCHECK" examples/aws-cli/switch-from-aws-template.sh
# A secret rotated every 7 days by a stand-in for AWS's SAR function moves over, schedule and all
# (moto keeps AutomaticallyAfterDays, not ScheduleExpression).
aws_function=$("$AWS" lambda create-function --function-name SecretsManagerRDSPostgreSQLRotationSingleUser \
  --runtime python3.12 --handler lambda_function.lambda_handler --role "$role" \
  --zip-file "fileb://$work/stand-in.zip" --query FunctionArn --output text)
"$AWS" secretsmanager create-secret --name switch-example --secret-string '{"engine": "postgres"}' >/dev/null
"$AWS" secretsmanager rotate-secret --secret-id switch-example --rotation-lambda-arn "$aws_function" \
  --rotation-rules '{"AutomaticallyAfterDays": 7}' --no-rotate-immediately >/dev/null
# Secrets Manager removes the AWSPENDING version its configuration test made; moto leaves it.
clear_test_version() {
  local version
  version=$("$AWS" secretsmanager list-secret-version-ids --secret-id "$1" --output text \
    --query "Versions[?contains(VersionStages, 'AWSPENDING') && !contains(VersionStages, 'AWSCURRENT')].VersionId | [0]")
  if [ -n "$version" ] && [ "$version" != None ]; then
    "$AWS" secretsmanager update-secret-version-stage --secret-id "$1" --version-stage AWSPENDING \
      --remove-from-version-id "$version" >/dev/null
  fi
}
clear_test_version switch-example
PATH="$(dirname "$AWS"):$PATH" bash examples/aws-cli/switch-from-aws-template.sh switch-example \
  PostgresqlSingleUserFunctionArn
expect_rotation switch-example
schedule=$("$AWS" secretsmanager describe-secret --secret-id switch-example \
  --query RotationRules.AutomaticallyAfterDays --output text)
[ "$schedule" = "7" ] || { echo "the schedule became '$schedule' days" >&2; exit 1; }
echo "switch-example kept its schedule: $schedule"
# With a rotation in progress it refuses and changes nothing.
"$AWS" secretsmanager create-secret --name switch-busy --secret-string '{"engine": "postgres"}' >/dev/null
"$AWS" secretsmanager rotate-secret --secret-id switch-busy --rotation-lambda-arn "$aws_function" \
  --rotation-rules '{"ScheduleExpression": "rate(7 days)"}' --no-rotate-immediately >/dev/null
"$AWS" secretsmanager put-secret-value --secret-id switch-busy --secret-string '{"engine": "postgres"}' \
  --version-stages AWSPENDING >/dev/null
if PATH="$(dirname "$AWS"):$PATH" bash examples/aws-cli/switch-from-aws-template.sh switch-busy \
  PostgresqlSingleUserFunctionArn 2>"$work/switch-busy.err"; then
  echo "switch-from-aws-template.sh switched a secret with a rotation in progress" >&2
  exit 1
fi
grep -q 'rotation in progress' "$work/switch-busy.err"
attached=$("$AWS" secretsmanager describe-secret --secret-id switch-busy --query RotationLambdaARN --output text)
[ "$attached" = "$aws_function" ] || { echo "switch-busy changed to $attached" >&2; exit 1; }
echo "switch-busy: refused (rotation in progress), still rotated by $attached"

echo "-- terraform/main.tf"
export TF_IN_AUTOMATION=1 TF_CLI_CONFIG_FILE=$work/terraformrc
mirror=${TF_PROVIDER_MIRROR:-/opt/tf-plugins}
cat >"$TF_CLI_CONFIG_FILE" <<HCL
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
}
HCL
if [ -z "$TERRAFORM" ]; then
  "$CI_TOOLS_DIR/hcl2/bin/python" -c 'import hcl2, sys; hcl2.load(open(sys.argv[1]))' examples/terraform/main.tf
  echo "terraform is not on this machine: python-hcl2 parsed the example; fmt, validate and apply SKIPPED"
  exit 0
fi
"$TERRAFORM" fmt -check -diff examples/terraform
echo "terraform fmt -check: formatted"
if [ ! -d "$mirror/registry.terraform.io/hashicorp/aws" ]; then
  echo "no hashicorp/aws provider in $mirror (its registry is out of reach): validate and apply SKIPPED"
  exit 0
fi
tf=$work/terraform
mkdir "$tf"
cp examples/terraform/*.tf "$tf"
# Terraform merges *_override.tf into the example's provider block: here, moto's endpoints.
cat >"$tf/moto_override.tf" <<HCL
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    cloudformation = "$moto"
    secretsmanager = "$moto"
    sts            = "$moto"
  }
}
HCL
"$TERRAFORM" -chdir="$tf" init -backend=false -input=false -no-color >/dev/null
"$TERRAFORM" -chdir="$tf" validate -no-color
"$AWS" secretsmanager create-secret --name terraform-example --secret-string '{"engine": "postgres"}' >/dev/null
"$TERRAFORM" -chdir="$tf" apply -auto-approve -input=false -no-color -var secret_id=terraform-example | tail -n 4
expect_rotation terraform-example
