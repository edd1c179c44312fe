// Attaches a rotation function of the rotation-lambdas stack (deployed with `sam deploy`) to an
// existing secret with the AWS CDK: a rotation every 30 days, the first one on deployment.
//
//   npm install && npx aws-cdk deploy -c secretArn=arn:aws:secretsmanager:...
//
// Context: secretArn (required), the secret's complete ARN; rotationStack (default
// rotation-lambdas), the stack `sam deploy` created; rotationFunction (default
// PostgresqlSingleUserFunctionArn), that stack's output for the secret's engine and strategy.
import { App, Duration, Fn, Stack } from 'aws-cdk-lib';
import { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { RotationSchedule, Secret } from 'aws-cdk-lib/aws-secretsmanager';

const app = new App();
const context = (key: string, fallback?: string): string => {
  const value = app.node.tryGetContext(key) ?? fallback;
  if (typeof value !== 'string' || value === '')
    throw new Error(`set the context value ${key} (-c ${key}=…)`);
  return value;
};

const stack = new Stack(app, 'SecretRotation');
const secret = Secret.fromSecretCompleteArn(stack, 'Secret', context('secretArn'));
// The stack exports every function ARN as <stack name>-<output name>.
const functionArn = Fn.importValue(
  `${context('rotationStack', 'rotation-lambdas')}-${context('rotationFunction', 'PostgresqlSingleUserFunctionArn')}`,
);
const rotationFunction = LambdaFunction.fromFunctionAttributes(stack, 'RotationFunction', {
  functionArn,
  // The rotation-lambdas stack already lets Secrets Manager invoke its functions, and their roles
  // already reach every secret that names them.
  skipPermissions: true,
});

new RotationSchedule(stack, 'Rotation', {
  secret,
  rotationLambda: rotationFunction,
  automaticallyAfter: Duration.days(30),
});

app.synth();
