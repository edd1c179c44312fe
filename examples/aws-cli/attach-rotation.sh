#!/usr/bin/env bash
# Attaches a rotation function of the rotation-lambdas stack (deployed with `sam deploy`) to a
# secret with the AWS CLI: a rotation every 30 days, the first one right away.
#
# Usage: attach-rotation.sh SECRET_ID [OUTPUT_KEY] [STACK_NAME]
#   SECRET_ID   name or ARN of the secret to rotate
#   OUTPUT_KEY  the stack output naming the function (default PostgresqlSingleUserFunctionArn)
#   STACK_NAME  the stack that `sam deploy` created (default rotation-lambdas)
set -euo pipefail

secret_id=${1:?usage: $0 SECRET_ID [OUTPUT_KEY] [STACK_NAME]}
output_key=${2:-PostgresqlSingleUserFunctionArn}
stack_name=${3:-rotation-lambdas}

function_arn=$(aws cloudformation describe-stacks --stack-name "$stack_name" \
  --query "Stacks[0].Outputs[?OutputKey=='$output_key'].OutputValue" --output text)
if [[ -z $function_arn || $function_arn == None ]]; then
  echo "stack $stack_name has no output $output_key" >&2
  exit 1
fi

# Add --no-rotate-immediately to only test the function (its testSecret step) now.
aws secretsmanager rotate-secret \
  --secret-id "$secret_id" \
  --rotation-lambda-arn "$function_arn" \
  --rotation-rules '{"ScheduleExpression": "rate(30 days)"}'

aws secretsmanager describe-secret --secret-id "$secret_id" \
  --query '{Secret: Name, RotationEnabled: RotationEnabled, RotationLambdaARN: RotationLambdaARN, RotationRules: RotationRules}'
