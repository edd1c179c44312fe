# Attaches a rotation function of the rotation-lambdas stack (deployed with `sam deploy`) to an
# existing secret: a rotation every 30 days, the first one when Terraform creates the resource.
#
#   terraform init && terraform apply -var secret_id=arn:aws:secretsmanager:...

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

variable "secret_id" {
  description = "Name or ARN of the secret to rotate; its JSON is described in the project's README."
  type        = string
}

variable "rotation_stack_name" {
  description = "Name of the stack that `sam deploy` created."
  type        = string
  default     = "rotation-lambdas"
}

variable "rotation_function_output" {
  description = "The stack output that names the function for the secret's engine and strategy, e.g. MysqlAlternatingUsersFunctionArn."
  type        = string
  default     = "PostgresqlSingleUserFunctionArn"
}

# The stack exports every function ARN as <stack name>-<output name>.
data "aws_cloudformation_export" "rotation_function" {
  name = "${var.rotation_stack_name}-${var.rotation_function_output}"
}

resource "aws_secretsmanager_secret_rotation" "this" {
  secret_id           = var.secret_id
  rotation_lambda_arn = data.aws_cloudformation_export.rotation_function.value

  rotation_rules {
    schedule_expression = "rate(30 days)"
  }
}

output "rotation_lambda_arn" {
  description = "The function that now rotates the secret."
  value       = aws_secretsmanager_secret_rotation.this.rotation_lambda_arn
}
