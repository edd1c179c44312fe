import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderTemplate } from '../../scripts/template';
import { readTemplate } from '../helpers/cloudformation';

const root = join(__dirname, '..', '..');
const template = readTemplate(join(root, 'template.yaml'));
const resources = template.Resources;
const globals = template.Globals?.Function ?? {};

/** The folders under functions/, each one function. */
const folders = readdirSync(join(root, 'functions'))
  .filter((name) => statSync(join(root, 'functions', name)).isDirectory())
  .sort();

/** The logical-ID stem of a function folder: postgresql-single-user → PostgresqlSingleUser. */
const stem = (folder: string) =>
  folder
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

const ref = (name: string) => ({ Ref: name });
const getAtt = (id: string, attribute: string) => ({ 'Fn::GetAtt': [id, attribute] });
const noValue = ref('AWS::NoValue');
const prefix = {
  Prefix: { 'Fn::If': ['HasFunctionNamePrefix', ref('FunctionNamePrefix'), ref('AWS::StackName')] },
};
// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub syntax
const viaSecretsManager = { 'Fn::Sub': 'secretsmanager.${AWS::Region}.${AWS::URLSuffix}' };

/** The esbuild options of `npm run build`, read by Node itself (jest here cannot import ESM). */
function buildOptions(): Record<string, unknown> {
  const url = pathToFileURL(join(root, 'scripts', 'build-options.mjs')).href;
  const script = `const { buildOptions } = await import(${JSON.stringify(url)});
process.stdout.write(JSON.stringify(buildOptions));`;
  return JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
  );
}

function resource(id: string, type: string) {
  const found = resources[id];
  if (found?.Type !== type) throw new Error(`template.yaml has no ${type} named ${id}`);
  return { ...found, Properties: found.Properties ?? {} };
}

/** The folder a function resource bundles, read from its esbuild entry point. */
function folderOf(id: string): string {
  const entryPoints = (resources[id]?.Metadata?.BuildProperties as { EntryPoints?: string[] })
    ?.EntryPoints;
  const match = /^functions\/([^/]+)\/index\.ts$/.exec(entryPoints?.[0] ?? '');
  if (!match?.[1] || entryPoints?.length !== 1) {
    throw new Error(`${id}: EntryPoints must be [functions/<name>/index.ts]`);
  }
  return match[1];
}

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** A statement and the template conditions under which it exists (`!X` for an Fn::If's else). */
interface Grant {
  statement: Statement;
  when: string[];
}

/** Resolves Fn::If wrappers, recording their conditions, and drops AWS::NoValue. */
function unwrap(value: unknown, when: string[] = []): { value: unknown; when: string[] }[] {
  if (value && typeof value === 'object' && 'Fn::If' in value) {
    const [condition, yes, no] = (value as { 'Fn::If': [string, unknown, unknown] })['Fn::If'];
    return [...unwrap(yes, [...when, condition]), ...unwrap(no, [...when, `!${condition}`])];
  }
  if (JSON.stringify(value) === JSON.stringify(noValue)) return [];
  return [{ value, when }];
}

function statementsOf(document: unknown, when: string[]): Grant[] {
  const statements = (document as { Statement: unknown[] }).Statement;
  return statements.flatMap((item) =>
    unwrap(item, when).map(({ value, when }) => ({
      statement: value as Statement,
      when: [...new Set(when)],
    })),
  );
}

/** Every statement the template attaches to a role: inline, managed and separate policies. */
function grantsOf(roleId: string): Grant[] {
  const role = resource(roleId, 'AWS::IAM::Role').Properties;
  const inline = ((role.Policies ?? []) as { PolicyDocument: unknown }[]).flatMap((policy) =>
    statementsOf(policy.PolicyDocument, []),
  );
  const managed = ((role.ManagedPolicyArns ?? []) as unknown[]).flatMap((arn) =>
    unwrap(arn).flatMap(({ value, when }) => {
      const id = (value as { Ref?: string }).Ref;
      if (!id)
        throw new Error(
          `${roleId}: managed policy ${JSON.stringify(value)} is not in the template`,
        );
      const policy = resource(id, 'AWS::IAM::ManagedPolicy');
      const condition = policy.Condition ? [policy.Condition] : [];
      return statementsOf(policy.Properties.PolicyDocument, [...when, ...condition]);
    }),
  );
  const isRole = (x: unknown) => (x as { Ref?: string })?.Ref === roleId;
  const separate = Object.values(resources)
    .filter(
      (r) =>
        (['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'].includes(r.Type) &&
          ((r.Properties?.Roles ?? []) as unknown[]).some(isRole)) ||
        (r.Type === 'AWS::IAM::RolePolicy' && isRole(r.Properties?.RoleName)),
    )
    .flatMap((r) => statementsOf(r.Properties?.PolicyDocument, r.Condition ? [r.Condition] : []));
  return [...inline, ...managed, ...separate];
}

const bySid = (grants: Grant[]) =>
  [...grants].sort((a, b) => (a.statement.Sid ?? '').localeCompare(b.statement.Sid ?? ''));

const actionsOf = (statement: Statement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];

const functionIds = Object.keys(resources).filter(
  (id) => resources[id]?.Type === 'AWS::Serverless::Function',
);

describe('template.yaml functions', () => {
  it('has a function resource for every folder under functions/, and a folder for every function resource', () => {
    expect(functionIds.map(folderOf).sort()).toEqual(folders);
    for (const id of functionIds) expect(id).toBe(`${stem(folderOf(id))}Function`);
  });

  it('builds every function with esbuild and exactly the settings of `npm run build` (scripts/build-options.mjs)', () => {
    const { bundle, platform, ...configurable } = buildOptions();
    // SAM always bundles for Node and does not let a template change either.
    expect({ bundle, platform }).toEqual({ bundle: true, platform: 'node' });
    const expected = Object.fromEntries(
      Object.entries(configurable).map(([key, value]) => [
        key.charAt(0).toUpperCase() + key.slice(1),
        value,
      ]),
    );
    for (const id of functionIds) {
      const { BuildMethod, BuildProperties } = resources[id]?.Metadata ?? {};
      expect({ id, BuildMethod, BuildProperties }).toEqual({
        id,
        BuildMethod: 'esbuild',
        BuildProperties: { EntryPoints: [`functions/${folderOf(id)}/index.ts`], ...expected },
      });
      expect(resource(id, 'AWS::Serverless::Function').Properties).toMatchObject({ CodeUri: './' });
      expect(resources[id]?.Properties).not.toHaveProperty('Handler');
    }
    // esbuild writes the one entry point as index.js at the artifact root.
    expect(globals.Handler).toBe('index.handler');
  });

  it('runs on nodejs24.x by default, nodejs22.x allowed (no nodejs20.x), with a bundle target both can run', () => {
    expect(globals.Runtime).toEqual(ref('Runtime'));
    const runtime = template.Parameters?.Runtime;
    expect(runtime?.Default).toBe('nodejs24.x');
    expect(runtime?.AllowedValues).toEqual(['nodejs24.x', 'nodejs22.x']);
    const majors = ((runtime?.AllowedValues ?? []) as string[]).map((r) =>
      Number(/^nodejs(\d+)\.x$/.exec(r)?.[1]),
    );
    const oldest = Math.min(...majors);
    expect(buildOptions().target).toBe(`node${oldest}`);
  });

  it('sets architecture, memory, a timeout sized for a step, structured logs, and source maps only when asked', () => {
    expect(globals.Architectures).toEqual([ref('Architecture')]);
    expect(template.Parameters?.Architecture).toMatchObject({
      Default: 'arm64',
      AllowedValues: ['arm64', 'x86_64'],
    });
    expect(globals.MemorySize).toBeGreaterThanOrEqual(128);
    expect(globals.Timeout).toBeGreaterThanOrEqual(30);
    expect(globals.Timeout).toBeLessThanOrEqual(900);
    expect(globals.LoggingConfig).toEqual({
      LogFormat: 'JSON',
      ApplicationLogLevel: ref('LogLevel'),
    });
    const variables = (globals.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables.NODE_OPTIONS).toEqual({
      'Fn::If': ['HasSourceMaps', '--enable-source-maps', noValue],
    });
    expect(template.Parameters?.SourceMaps).toMatchObject({
      Default: 'false',
      AllowedValues: ['true', 'false'],
    });
    expect(template.Conditions?.HasSourceMaps).toEqual({
      'Fn::Equals': [ref('SourceMaps'), 'true'],
    });
    expect(variables).toMatchObject({
      EXCLUDE_CHARACTERS: ref('ExcludeCharacters'),
      TLS_MODE: ref('TlsMode'),
      DB_STATEMENT_TIMEOUT_SECONDS: ref('StatementTimeoutSeconds'),
    });
    // Below the function timeout, so a stuck statement fails the step, not the invocation.
    expect(template.Parameters?.StatementTimeoutSeconds?.MaxValue).toBeLessThan(
      Number(globals.Timeout),
    );
    expect(globals.VpcConfig).toEqual({
      'Fn::If': [
        'HasVpc',
        { SubnetIds: ref('VpcSubnetIds'), SecurityGroupIds: ref('VpcSecurityGroupIds') },
        noValue,
      ],
    });
  });

  it('has the parameters of HostedRotationLambda where one exists, optional ones empty by default', () => {
    const optional = [
      'VpcSubnetIds',
      'VpcSecurityGroupIds',
      'KmsKeyArn',
      'PostgresqlMasterSecretArns',
      'MysqlMasterSecretArns',
      'MariadbMasterSecretArns',
      'MongodbMasterSecretArns',
      'MasterSecretKmsKeyArn',
      'PermissionsBoundary',
      'FunctionNamePrefix',
    ];
    for (const name of optional)
      expect({ name, default: template.Parameters?.[name]?.Default }).toEqual({
        name,
        default: '',
      });
    for (const name of ['ExcludeCharacters', 'LogLevel', 'LogRetentionInDays', 'TlsMode']) {
      expect(template.Parameters).toHaveProperty(name);
    }
  });
});

describe.each(folders.map((folder) => [folder]))('%s', (folder) => {
  const id = stem(folder);
  const alternating = folder.endsWith('-alternating-users');
  const functionArn = getAtt(`${id}Function`, 'Arn');

  it('sets RETAIN_CURRENT_PASSWORD only where dual passwords exist (mysql-single-user), off by default', () => {
    const fn = resource(`${id}Function`, 'AWS::Serverless::Function').Properties;
    const own = (fn.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables;
    if (folder === 'mysql-single-user') {
      expect(own).toEqual({ RETAIN_CURRENT_PASSWORD: ref('MysqlRetainCurrentPassword') });
      expect(template.Parameters?.MysqlRetainCurrentPassword?.Default).toBe('false');
    } else {
      expect(own?.RETAIN_CURRENT_PASSWORD).toBeUndefined();
    }
  });

  it('is named <prefix>-<folder> and logs to its own log group, with retention', () => {
    const fn = resource(`${id}Function`, 'AWS::Serverless::Function').Properties;
    expect(fn.FunctionName).toEqual({ 'Fn::Sub': [`\${Prefix}-${folder}`, prefix] });
    expect(fn.LoggingConfig).toEqual({ LogGroup: ref(`${id}LogGroup`) });
    expect(resource(`${id}LogGroup`, 'AWS::Logs::LogGroup').Properties).toEqual({
      LogGroupName: { 'Fn::Sub': [`/aws/lambda/\${Prefix}-${folder}`, prefix] },
      RetentionInDays: ref('LogRetentionInDays'),
    });
  });

  it('runs as its own role, assumable by Lambda only, with the optional permissions boundary', () => {
    const fn = resource(`${id}Function`, 'AWS::Serverless::Function').Properties;
    expect(fn.Role).toEqual(getAtt(`${id}Role`, 'Arn'));
    // SAM would add AWSLambdaBasicExecutionRole (logs on "*") to a role it makes itself.
    expect(fn).not.toHaveProperty('Policies');
    const role = resource(`${id}Role`, 'AWS::IAM::Role').Properties;
    expect(role.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'lambda.amazonaws.com' },
          Action: 'sts:AssumeRole',
        },
      ],
    });
    expect(role.PermissionsBoundary).toEqual({
      'Fn::If': ['HasPermissionsBoundary', ref('PermissionsBoundary'), noValue],
    });
    const others = functionIds.filter((other) => other !== `${id}Function`);
    for (const other of others) expect(resources[other]?.Properties?.Role).not.toEqual(fn.Role);
  });

  it('may rotate only secrets whose rotation function is this function', () => {
    const grants = grantsOf(`${id}Role`).filter(({ statement }) =>
      actionsOf(statement).some((a) => a.startsWith('secretsmanager:')),
    );
    const rotate = {
      statement: {
        Sid: 'RotateOnlySecretsThatNameThisFunction',
        Effect: 'Allow',
        Action: [
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue',
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecretVersionStage',
        ],
        Resource: '*',
        Condition: {
          StringEquals: { 'secretsmanager:resource/AllowRotationLambdaArn': functionArn },
        },
      },
      when: [],
    };
    // Each alternating-users function reads only its own engine's master secrets.
    const engine = stem(folder.split('-')[0] as string);
    const readMasters = {
      statement: {
        Sid: 'ReadNamedMasterSecrets',
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
        Resource: ref(`${engine}MasterSecretArns`),
      },
      when: [`Has${engine}MasterSecrets`],
    };
    expect(bySid(grants)).toEqual(alternating ? [readMasters, rotate] : [rotate]);
  });

  it('may describe RDS databases only as alternating users given master secrets, in this account and region', () => {
    const grants = grantsOf(`${id}Role`).filter(({ statement }) =>
      actionsOf(statement).some((a) => a.startsWith('rds:')),
    );
    const engine = stem(folder.split('-')[0] as string);
    const arnOf = (kind: string) => ({
      'Fn::Sub': `arn:\${AWS::Partition}:rds:\${AWS::Region}:\${AWS::AccountId}:${kind}:*`,
    });
    const describe = {
      statement: {
        Sid: 'FindTheDatabaseOfAnRdsManagedMasterSecret',
        Effect: 'Allow',
        Action: ['rds:DescribeDBInstances', 'rds:DescribeDBClusters'],
        Resource: [arnOf('db'), arnOf('cluster')],
      },
      when: [`Has${engine}MasterSecrets`],
    };
    expect(grants).toEqual(alternating ? [describe] : []);
  });

  it('may use KMS keys only when given, and only through Secrets Manager', () => {
    const grants = grantsOf(`${id}Role`).filter(({ statement }) =>
      actionsOf(statement).some((a) => a.startsWith('kms:')),
    );
    const through = (key: string, actions: string | string[], when: string[]) => ({
      statement: expect.objectContaining({
        Effect: 'Allow',
        Action: actions,
        Resource: ref(key),
        Condition: { StringEquals: { 'kms:ViaService': viaSecretsManager } },
      }),
      when,
    });
    const secretsKey = through('KmsKeyArn', ['kms:Decrypt', 'kms:GenerateDataKey'], ['HasKmsKey']);
    const masterKey = through('MasterSecretKmsKeyArn', 'kms:Decrypt', ['HasMasterSecretKmsKey']);
    expect(bySid(grants)).toEqual(alternating ? [masterKey, secretsKey] : [secretsKey]);
  });

  it('may manage network interfaces only when the functions run in a VPC', () => {
    const grants = grantsOf(`${id}Role`).filter(({ statement }) =>
      actionsOf(statement).some((a) => a.startsWith('ec2:')),
    );
    expect(grants.length).toBeGreaterThan(0);
    for (const { when } of grants) expect(when).toEqual(['HasVpc']);
  });

  it('may write only to its own log group, and do nothing else', () => {
    const grants = grantsOf(`${id}Role`);
    const logs = grants.filter(({ statement }) =>
      actionsOf(statement).some((a) => a.startsWith('logs:')),
    );
    expect(logs).toEqual([
      {
        statement: {
          Sid: 'WriteOwnLogs',
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: getAtt(`${id}LogGroup`, 'Arn'),
        },
        when: [],
      },
    ]);
    const services = new Set(
      grants.flatMap(({ statement }) => actionsOf(statement).map((a) => a.split(':')[0])),
    );
    expect([...services].sort()).toEqual(
      alternating
        ? ['ec2', 'kms', 'logs', 'rds', 'secretsmanager']
        : ['ec2', 'kms', 'logs', 'secretsmanager'],
    );
  });

  it('may be invoked by Secrets Manager of this account only', () => {
    const permissions = Object.values(resources).filter(
      (r) =>
        r.Type === 'AWS::Lambda::Permission' &&
        JSON.stringify(r.Properties?.FunctionName) === JSON.stringify(functionArn),
    );
    expect(permissions.map((p) => p.Properties)).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: functionArn,
        Principal: 'secretsmanager.amazonaws.com',
        SourceAccount: ref('AWS::AccountId'),
      },
    ]);
  });

  it('exports its ARN', () => {
    expect(template.Outputs?.[`${id}FunctionArn`]).toMatchObject({
      Value: functionArn,
      Export: { Name: { 'Fn::Sub': `\${AWS::StackName}-${id}FunctionArn` } },
    });
  });
});

describe('template.yaml, all resources', () => {
  const documents = Object.entries(resources).flatMap(([id, r]) => {
    const properties = r.Properties ?? {};
    if (r.Type === 'AWS::IAM::Role') {
      return ((properties.Policies ?? []) as { PolicyDocument: unknown }[]).map((p) => ({
        id,
        document: p.PolicyDocument,
      }));
    }
    if (['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy', 'AWS::IAM::RolePolicy'].includes(r.Type)) {
      return [{ id, document: properties.PolicyDocument }];
    }
    return [];
  });
  const grants = documents.flatMap(({ id, document }) =>
    statementsOf(document, []).map(({ statement }) => ({ id, statement })),
  );

  it('has IAM statements that only allow, and name every action without wildcards', () => {
    expect(grants.length).toBeGreaterThan(0);
    for (const { id, statement } of grants) {
      expect({ id, effect: statement.Effect }).toEqual({ id, effect: 'Allow' });
      for (const action of actionsOf(statement))
        expect({ id, action }).toEqual({
          id,
          action: expect.stringMatching(/^[a-z0-9-]+:[A-Za-z]+$/),
        });
    }
  });

  it('narrows every "*" resource of an IAM statement with a condition', () => {
    for (const { id, statement } of grants) {
      const resourcesOf = Array.isArray(statement.Resource)
        ? statement.Resource
        : [statement.Resource];
      if (resourcesOf.includes('*'))
        expect({ id, sid: statement.Sid, condition: statement.Condition }).toEqual({
          id,
          sid: statement.Sid,
          condition: expect.any(Object),
        });
    }
  });

  it('outputs a function ARN for every function and nothing else', () => {
    expect(Object.keys(template.Outputs ?? {}).sort()).toEqual(
      folders.map((f) => `${stem(f)}FunctionArn`).sort(),
    );
  });

  it('gives a written reason for every checkov check it skips', () => {
    for (const [id, r] of Object.entries(resources)) {
      const skips =
        (r.Metadata?.checkov as { skip?: { id: string; comment?: string }[] })?.skip ?? [];
      for (const skip of skips) {
        expect({ id, check: skip.id, comment: skip.comment }).toEqual({
          id,
          check: expect.stringMatching(/^CKV_/),
          comment: expect.stringMatching(/\w{3,}.*\w{3,}/),
        });
      }
    }
  });
});

describe('template.yaml, generated from one definition per function', () => {
  it('is exactly what scripts/template.ts writes (run `npm run template` after a change)', () => {
    expect(readFileSync(join(root, 'template.yaml'), 'utf8')).toBe(renderTemplate(buildOptions()));
  });

  it('keeps every logical ID, function name, output and export, so existing stacks update in place', () => {
    const ids = Object.keys(resources).sort();
    const perFunction = folders.flatMap((f) =>
      ['LogGroup', 'Role', 'Function', 'SecretsPolicy', 'InvokePermission'].map(
        (kind) => `${stem(f)}${kind}`,
      ),
    );
    const shared = [
      'SecretsKeyPolicy',
      'MasterSecretsKeyPolicy',
      'NetworkInterfacesPolicy',
      ...['Postgresql', 'Mysql', 'Mariadb', 'Mongodb'].map((e) => `${e}MasterSecretsPolicy`),
    ];
    expect(ids).toEqual([...perFunction, ...shared].sort());
    expect(folders).toEqual([
      'mariadb-alternating-users',
      'mariadb-single-user',
      'mongodb-alternating-users',
      'mongodb-single-user',
      'mysql-alternating-users',
      'mysql-single-user',
      'postgresql-alternating-users',
      'postgresql-single-user',
    ]);
    for (const folder of folders) {
      const fn = resources[`${stem(folder)}Function`]?.Properties as Record<string, unknown>;
      expect(fn.FunctionName).toEqual({ 'Fn::Sub': [`\${Prefix}-${folder}`, prefix] });
      expect(template.Outputs?.[`${stem(folder)}FunctionArn`]).toMatchObject({
        Value: getAtt(`${stem(folder)}Function`, 'Arn'),
        Export: { Name: { 'Fn::Sub': `\${AWS::StackName}-${stem(folder)}FunctionArn` } },
      });
    }
  });
});
