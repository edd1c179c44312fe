#!/usr/bin/env bash
# Moves a secret from AWS's rotation function (a HostedRotationLambda or a Serverless Application
# Repository app) to the matching rotation-lambdas function, safely:
#   1. refuses while a rotation is in progress (a version labelled AWSPENDING that is not AWSCURRENT),
#      since the new function would have to finish another function's rotation;
#   2. attaches the function, keeping the secret's schedule (or 30 days if it has none), and only
#      tests it now (its testSecret step): the next rotation runs on schedule, or at once with
#      `aws secretsmanager rotate-secret --secret-id SECRET_ID`.
# Run `rotation-lambdas preflight --secret-id SECRET_ID` first: it checks the same and the database.
#
# Usage: switch-from-aws-template.sh SECRET_ID OUTPUT_KEY [STACK_NAME]
#   OUTPUT_KEY  the stack output naming the function, e.g. PostgresqlAlternatingUsersFunctionArn
set -euo pipefail

secret_id=${1:?usage: $0 SECRET_ID OUTPUT_KEY [STACK_NAME]}
output_key=${2:?usage: $0 SECRET_ID OUTPUT_KEY [STACK_NAME]}
stack_name=${3:-rotation-lambdas}

in_progress=$(aws secretsmanager list-secret-version-ids --secret-id "$secret_id" --output text \
  --query "Versions[?contains(VersionStages, 'AWSPENDING') && !contains(VersionStages, 'AWSCURRENT')].VersionId | [0]")
if [[ -n $in_progress && $in_progress != None ]]; then
  echo "secret $secret_id has a rotation in progress (AWSPENDING on $in_progress): let it finish, or cancel it, before switching" >&2
  exit 1
fi

function_arn=$(aws cloudformation describe-stacks --stack-name "$stack_name" \
  --query "Stacks[0].Outputs[?OutputKey=='$output_key'].OutputValue" --output text)
if [[ -z $function_arn || $function_arn == None ]]; then
  echo "stack $stack_name has no output $output_key" >&2
  exit 1
fi

rule() {
  aws secretsmanager describe-secret --secret-id "$secret_id" --query "RotationRules.$1" --output text
}
schedule=$(rule ScheduleExpression)
days=$(rule AutomaticallyAfterDays)
duration=$(rule Duration)
if [[ -n $schedule && $schedule != None ]]; then
  rules="\"ScheduleExpression\": \"$schedule\""
elif [[ -n $days && $days != None && $days != 0 ]]; then
  rules="\"AutomaticallyAfterDays\": $days"
else
  rules='"ScheduleExpression": "rate(30 days)"'
fi
if [[ -n $duration && $duration != None ]]; then rules="$rules, \"Duration\": \"$duration\""; fi

aws secretsmanager rotate-secret \
  --secret-id "$secret_id" \
  --rotation-lambda-arn "$function_arn" \
  --rotation-rules "{$rules}" \
  --no-rotate-immediately

aws secretsmanager describe-secret --secret-id "$secret_id" \
  --query '{Secret: Name, RotationLambdaARN: RotationLambdaARN, RotationRules: RotationRules}'
