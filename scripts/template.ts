/**
 * Writes template.yaml from template/stack.yaml and one definition per function: the list of
 * functions (cli/functions.ts, every engine adapter with every strategy) and the esbuild settings
 * (scripts/build-options.mjs). Each `# @generate <part>` line of the stack is replaced by that part
 * for every engine or function; a new engine adapter gets its parameter, policy, function, role,
 * log group and output without a line of YAML.
 *
 *   npm run template            writes template.yaml
 *   npm run template -- --check fails when template.yaml is not what this writes
 *
 * test/unit/template.test.ts fails when the checked-in template.yaml is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FUNCTIONS, type FunctionSpec } from '../cli/functions';

/** Run from the repository's root (npm scripts and jest do). */
const ROOT = process.cwd();

/** scripts/build-options.mjs's settings (an ES module, so the caller loads it). */
export type BuildOptions = Record<string, unknown>;

/** How the template names an engine in prose. */
const ENGINE_TITLES: Record<string, { title: string; secrets: string }> = {
  postgresql: { title: 'PostgreSQL', secrets: 'PostgreSQL' },
  mysql: { title: 'MySQL', secrets: 'MySQL' },
  mariadb: { title: 'MariaDB', secrets: 'MariaDB' },
  mongodb: { title: 'MongoDB or Amazon DocumentDB', secrets: 'MongoDB' },
};

/** Environment variables only one function has, from a parameter. */
const FUNCTION_ENVIRONMENT: Record<string, Record<string, string>> = {
  'mysql-single-user': { RETAIN_CURRENT_PASSWORD: '!Ref MysqlRetainCurrentPassword' },
};

const pascal = (name: string) =>
  name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

function engineOf(spec: FunctionSpec) {
  const titles = ENGINE_TITLES[spec.engine.name];
  if (!titles) throw new Error(`scripts/template.ts: no title for engine ${spec.engine.name}`);
  return { id: pascal(spec.engine.name), name: spec.engine.name, ...titles };
}

const specs = [...FUNCTIONS.values()];
const engines = [...new Map(specs.map((s) => [s.engine.name, engineOf(s)])).values()];
const alternating = (spec: FunctionSpec) => spec.strategy.name === 'alternating-users';

function engineParameter(engine: ReturnType<typeof engineOf>): string {
  return `  ${engine.id}MasterSecretArns:
    Type: CommaDelimitedList
    Default: ""
    Description: >-
      Full ARNs (with their 6-character suffix, or ending in -??????) of the master secrets
      ${engine.name}-alternating-users may read: the secrets named by "masterarn" on ${engine.secrets} secrets.
      Empty: it can read no master secret. Each function reads only its own engine's list.`;
}

function engineCondition(engine: ReturnType<typeof engineOf>): string {
  return `  Has${engine.id}MasterSecrets: !Not [!Equals [!Join ["", !Ref ${engine.id}MasterSecretArns], ""]]`;
}

function enginePolicy(engine: ReturnType<typeof engineOf>): string {
  return `  ${engine.id}MasterSecretsPolicy:
    Type: AWS::IAM::ManagedPolicy
    Condition: Has${engine.id}MasterSecrets
    Properties:
      Description: Lets ${engine.name}-alternating-users read the named master secrets (and find the database of one RDS manages), and no other function.
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Sid: ReadNamedMasterSecrets
            Effect: Allow
            # DescribeSecret reads the tags of a master secret that RDS manages.
            Action: [secretsmanager:GetSecretValue, secretsmanager:DescribeSecret]
            Resource: !Ref ${engine.id}MasterSecretArns
          - Sid: FindTheDatabaseOfAnRdsManagedMasterSecret
            Effect: Allow
            # DocumentDB answers under rds: too.
            Action: [rds:DescribeDBInstances, rds:DescribeDBClusters]
            Resource:
              - !Sub arn:\${AWS::Partition}:rds:\${AWS::Region}:\${AWS::AccountId}:db:*
              - !Sub arn:\${AWS::Partition}:rds:\${AWS::Region}:\${AWS::AccountId}:cluster:*`;
}

/** The Metadata block `sam build` reads: scripts/build-options.mjs, in SAM's spelling. */
function buildProperties(o: BuildOptions, entry: string): string {
  const external = (o.external as string[])
    .map((name) => `          - ${name.startsWith('@') ? `"${name}"` : name}`)
    .join('\n');
  return `      BuildMethod: esbuild
      BuildProperties:
        EntryPoints: [${entry}]
        Target: ${o.target}
        Format: ${o.format}
        Minify: ${o.minify}
        KeepNames: ${o.keepNames}
        Sourcemap: ${o.sourcemap}
        External:
${external}
        LegalComments: ${o.legalComments}`;
}

function functionResources(spec: FunctionSpec, options: BuildOptions): string {
  const id = pascal(spec.name);
  const engine = engineOf(spec);
  const heading = `  # ${spec.name} `;
  const policies = [
    '!If [HasKmsKey, !Ref SecretsKeyPolicy, !Ref AWS::NoValue]',
    ...(alternating(spec)
      ? [
          `!If [Has${engine.id}MasterSecrets, !Ref ${engine.id}MasterSecretsPolicy, !Ref AWS::NoValue]`,
          '!If [HasMasterSecretKmsKey, !Ref MasterSecretsKeyPolicy, !Ref AWS::NoValue]',
        ]
      : []),
    '!If [HasVpc, !Ref NetworkInterfacesPolicy, !Ref AWS::NoValue]',
  ];
  const description = alternating(spec)
    ? `Alternates a ${engine.title} user and its clone, as a master user (alternating-users).`
    : `Rotates a ${engine.title} user's own password (single-user).`;
  const variables = Object.entries(FUNCTION_ENVIRONMENT[spec.name] ?? {});
  const environment =
    variables.length > 0
      ? `
      Environment:
        Variables:
${variables.map(([key, value]) => `          ${key}: ${value}`).join('\n')}`
      : '';
  return `${heading}${'-'.repeat(Math.max(3, 96 - heading.length))}

  ${id}LogGroup:
    Type: AWS::Logs::LogGroup
    Metadata:
      checkov:
        skip:
          - id: CKV_AWS_158
            comment: No secret is ever logged; a customer key would need a key policy for CloudWatch Logs.
    Properties:
      LogGroupName: !Sub
        - /aws/lambda/\${Prefix}-${spec.name}
        - Prefix: !If [HasFunctionNamePrefix, !Ref FunctionNamePrefix, !Ref AWS::StackName]
      RetentionInDays: !Ref LogRetentionInDays

  ${id}Role:
    Type: AWS::IAM::Role
    Properties:
      Description: Execution role of the ${spec.name} rotation function.
      PermissionsBoundary: !If [HasPermissionsBoundary, !Ref PermissionsBoundary, !Ref AWS::NoValue]
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              Service: lambda.amazonaws.com
            Action: sts:AssumeRole
      ManagedPolicyArns:
${policies.map((p) => `        - ${p}`).join('\n')}
      Policies:
        - PolicyName: write-own-logs
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Sid: WriteOwnLogs
                Effect: Allow
                Action: [logs:CreateLogStream, logs:PutLogEvents]
                Resource: !GetAtt ${id}LogGroup.Arn

  ${id}Function:
    Type: AWS::Serverless::Function
    Metadata:
${buildProperties(options, `functions/${spec.name}/index.ts`)}
      checkov:
        skip:
          - id: CKV_AWS_115
            comment: Reserved concurrency comes out of the account's pool; where the quota is low, deploying fails.
          - id: CKV_AWS_116
            comment: Secrets Manager invokes synchronously and records failures; a DLQ gets only async events.
          - id: CKV_AWS_173
            comment: The variables hold settings, no secret; Lambda encrypts them at rest with its own key.
    Properties:
      FunctionName: !Sub
        - \${Prefix}-${spec.name}
        - Prefix: !If [HasFunctionNamePrefix, !Ref FunctionNamePrefix, !Ref AWS::StackName]
      Description: ${description}
      CodeUri: ./
      Role: !GetAtt ${id}Role.Arn${environment}
      LoggingConfig:
        LogGroup: !Ref ${id}LogGroup

  # A separate policy, because the role cannot name the function that is created after it.
  ${id}SecretsPolicy:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: rotate-secrets-that-name-this-function
      Roles: [!Ref ${id}Role]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Sid: RotateOnlySecretsThatNameThisFunction
            Effect: Allow
            Action:
              - secretsmanager:DescribeSecret
              - secretsmanager:GetSecretValue
              - secretsmanager:PutSecretValue
              - secretsmanager:UpdateSecretVersionStage
            Resource: "*"
            Condition:
              StringEquals:
                secretsmanager:resource/AllowRotationLambdaArn: !GetAtt ${id}Function.Arn

  ${id}InvokePermission:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !GetAtt ${id}Function.Arn
      Principal: secretsmanager.amazonaws.com
      SourceAccount: !Ref AWS::AccountId
`;
}

function output(spec: FunctionSpec): string {
  const id = pascal(spec.name);
  return `  ${id}FunctionArn:
    Description: The ${spec.name} function's ARN, to set as a secret's rotation function.
    Value: !GetAtt ${id}Function.Arn
    Export:
      Name: !Sub \${AWS::StackName}-${id}FunctionArn`;
}

function parts(options: BuildOptions): Record<string, () => string> {
  return {
    'engine-parameters': () => engines.map(engineParameter).join('\n'),
    'engine-conditions': () => engines.map(engineCondition).join('\n'),
    'engine-policies': () => engines.map(enginePolicy).join('\n\n'),
    functions: () => specs.map((spec) => functionResources(spec, options)).join('\n'),
    outputs: () => specs.map(output).join('\n'),
  };
}

export const HEADER =
  '# Generated by scripts/template.ts from template/stack.yaml and the list of functions:\n' +
  '# edit those, then run `npm run template`. A unit test fails when this file is out of date.\n';

/** template.yaml as the generator writes it. */
export function renderTemplate(options: BuildOptions): string {
  const PARTS = parts(options);
  const stack = readFileSync(join(ROOT, 'template', 'stack.yaml'), 'utf8');
  const body = stack.replace(/^ *# @generate ([a-z-]+)$/gm, (_line, part: string) => {
    const render = PARTS[part];
    if (!render) throw new Error(`template/stack.yaml: unknown part "${part}"`);
    return render();
  });
  return `${HEADER}${body}`;
}

async function main(): Promise<void> {
  const { buildOptions } = (await import('./build-options.mjs')) as { buildOptions: BuildOptions };
  const path = join(ROOT, 'template.yaml');
  const rendered = renderTemplate(buildOptions);
  if (process.argv.includes('--check')) {
    if (readFileSync(path, 'utf8') !== rendered) {
      process.stderr.write('template.yaml is out of date: run `npm run template`\n');
      process.exit(1);
    }
    process.stdout.write('template.yaml is up to date\n');
  } else {
    writeFileSync(path, rendered);
    process.stdout.write(`wrote ${path}\n`);
  }
}

if (require.main === module) void main();
