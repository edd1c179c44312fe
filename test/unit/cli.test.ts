import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { applyEnvironment, parseCommandLine } from '../../cli';
import { FUNCTIONS, functionSpec, inferFunction, UsageError } from '../../cli/functions';
import { sortOutput } from '../../cli/handler-output';
import { type Check, comparePasswordRules, formatReport } from '../../cli/preflight';
import { formatLabels, type RotateOptions, RunnerError, rotate } from '../../cli/rotate';
import type { PasswordPolicy } from '../../shared/config';
import { parseGrants } from '../../shared/engines/mysql/grants';
import { ungrantable } from '../../shared/engines/mysql/inspect';
import { createRotationHandler, createRotationStarter } from '../../shared/rotation/handler';
import { singleUser } from '../../shared/strategies/single-user';
import { FakeDatabase } from '../helpers/fake-engine';
import { FakeSecretsManager } from '../helpers/fake-secrets-manager';

describe('function catalog', () => {
  it('has exactly the folders under functions/', () => {
    const root = join(__dirname, '..', '..', 'functions');
    const folders = readdirSync(root).filter((n) => statSync(join(root, n)).isDirectory());
    expect([...FUNCTIONS.keys()].sort()).toEqual(folders.sort());
  });

  it('infers the function from the secret', () => {
    expect(inferFunction('postgres', false)?.name).toBe('postgresql-single-user');
    expect(inferFunction('aurora-postgresql', true)?.name).toBe('postgresql-alternating-users');
    expect(inferFunction('aurora-mysql', false)?.name).toBe('mysql-single-user');
    expect(inferFunction('mariadb', true)?.name).toBe('mariadb-alternating-users');
    expect(inferFunction('docdb', false)?.name).toBe('mongodb-single-user');
    expect(inferFunction('oracle', false)).toBeUndefined();
    expect(() => functionSpec('postgres')).toThrow(UsageError);
  });
});

describe('command line', () => {
  it('parses a command and its options', () => {
    const { command, values } = parseCommandLine([
      'rotate',
      '--secret-id',
      'app',
      '--function',
      'postgresql-single-user',
      '--env',
      'TLS_MODE=verify-ca',
      '--env',
      'PASSWORD_LENGTH=40',
      '--resume',
    ]);
    expect(command).toBe('rotate');
    expect(values).toMatchObject({ 'secret-id': 'app', resume: true });
    expect(values.env).toEqual(['TLS_MODE=verify-ca', 'PASSWORD_LENGTH=40']);
  });

  it('refuses unknown options and extra arguments', () => {
    expect(() => parseCommandLine(['rotate', '--secretid', 'x'])).toThrow(UsageError);
    expect(() => parseCommandLine(['rotate', 'preflight'])).toThrow(/Unexpected argument/);
    expect(parseCommandLine([]).command).toBe('help');
    expect(parseCommandLine(['rotate', '-h']).command).toBe('help');
  });

  it('gives the function its environment as Lambda would', () => {
    const env: NodeJS.ProcessEnv = {};
    const { values } = parseCommandLine([
      'rotate',
      '--endpoint',
      'http://127.0.0.1:5000',
      '--ca-file',
      'ca.pem',
      '--env',
      'EXCLUDE_CHARACTERS=a=b',
    ]);
    applyEnvironment(values, env);
    expect(env).toMatchObject({
      SECRETS_MANAGER_ENDPOINT: 'http://127.0.0.1:5000',
      AWS_REGION: 'us-east-1',
      NODE_EXTRA_CA_CERTS: join(process.cwd(), 'ca.pem'),
      EXCLUDE_CHARACTERS: 'a=b',
      POWERTOOLS_LOG_LEVEL: 'INFO',
    });
    const explicit: NodeJS.ProcessEnv = { AWS_REGION: 'eu-west-1' };
    applyEnvironment(parseCommandLine(['rotate', '--endpoint', 'http://x']).values, explicit);
    expect(explicit.AWS_REGION).toBe('eu-west-1');
    expect(() =>
      applyEnvironment(parseCommandLine(['rotate', '--env', 'NOEQUALS']).values, {}),
    ).toThrow(UsageError);
  });
});

describe('handler output', () => {
  it('reads the outcome and the warnings from the Powertools lines', () => {
    const output = sortOutput(
      [
        '{"level":"WARN","message":"TLS failed and TLS_MODE=fallback allows plain text","host":"db","step":"setSecret"}',
        'not json',
        '{"level":"INFO","message":"Rotation step succeeded","outcome":"password-set","durationMs":3}',
      ].join('\n'),
    );
    expect(output.outcome).toBe('password-set');
    expect(output.warnings).toEqual([
      'TLS failed and TLS_MODE=fallback allows plain text (host: db)',
    ]);
    expect(output.lines).toHaveLength(3);
  });
});

describe('rotate (the runner) with the core handler on the fakes', () => {
  let sm: FakeSecretsManager;
  let db: FakeDatabase;
  let arn: string;
  let lines: string[];
  let delays: number[];

  beforeEach(() => {
    process.env.AWS_REGION = 'us-east-1';
    for (const key of ['PASSWORD_LENGTH', 'EXCLUDE_CHARACTERS', 'TLS_MODE'])
      delete process.env[key];
    sm = new FakeSecretsManager();
    db = new FakeDatabase();
    db.users.set('app', 'old-password-1');
    arn = sm.create('app', {
      engine: 'fake',
      host: 'db.example',
      username: 'app',
      password: 'old-password-1',
    });
    lines = [];
    delays = [];
  });

  afterEach(() => sm.mock.restore());

  const options = (extra: Partial<RotateOptions> = {}): RotateOptions => ({
    secretId: 'app',
    handler: createRotationHandler({
      engine: db.engine,
      strategy: singleUser,
    }) as RotateOptions['handler'],
    startRotation: createRotationStarter({ engine: db.engine, strategy: singleUser }),
    client: new SecretsManagerClient({ region: 'us-east-1' }),
    mode: 'start',
    retries: 3,
    retryDelayMs: 1000,
    print: (line) => lines.push(line),
    sleep: async (ms) => {
      delays.push(ms);
    },
    ...extra,
  });

  it('starts a rotation and runs the four steps; the new version ends up AWSCURRENT', async () => {
    const report = await rotate(options());
    expect(report.ok).toBe(true);
    expect(report.steps.map((s) => [s.step, s.attempts.length, s.attempts[0]?.outcome])).toEqual([
      ['createSecret', 1, 'pending-created'],
      ['setSecret', 1, 'password-set'],
      ['testSecret', 1, 'pending-tested'],
      ['finishSecret', 1, 'current-moved'],
    ]);
    expect(report.labelsAfter.AWSCURRENT).toBe(report.token);
    expect(report.labelsAfter.AWSPREVIOUS).toBe(report.labelsBefore.AWSCURRENT);
    expect(db.users.get('app')).toBe(sm.value(arn, 'AWSCURRENT')?.password);
    expect(lines.join('\n')).toMatch(/\[2\/4\] setSecret +ok +password-set/);
    expect(lines.join('\n')).not.toContain(String(sm.value(arn, 'AWSCURRENT')?.password));
  });

  it('retries a failed step with doubling delays, showing each attempt', async () => {
    db.reachable = false;
    const handler = createRotationHandler({ engine: db.engine, strategy: singleUser });
    let calls = 0;
    const report = await rotate(
      options({
        handler: async (event) => {
          if ((event as { Step: string }).Step === 'setSecret' && ++calls === 3)
            db.reachable = true;
          return handler(event);
        },
      }),
    );
    expect(report.ok).toBe(true);
    expect(report.steps[1]?.attempts.map((a) => a.ok)).toEqual([false, false, true]);
    expect(report.steps[1]?.attempts[0]?.error?.name).toBe('DatabaseUnreachableError');
    expect(delays).toEqual([1000, 2000]);
    expect(lines.filter((l) => /attempt \d failed/.test(l))).toHaveLength(2);
    expect(lines.join('\n')).toMatch(/setSecret +ok +password-set \(\d+ ms, attempt 3\)/);
  });

  it('gives up after the retries, and says how to finish or cancel the rotation', async () => {
    db.reachable = false;
    const report = await rotate(options({ retries: 1 }));
    expect(report.ok).toBe(false);
    expect(report.steps).toHaveLength(2);
    expect(report.steps[1]?.attempts).toHaveLength(2);
    expect(report.failure).toMatch(/^setSecret failed after 2 attempts: DatabaseUnreachableError/);
    expect(report.labelsAfter.AWSPENDING).toBe(report.token);
    expect(lines.join('\n')).toContain('rotate --resume');
    expect(lines.join('\n')).toContain(`--remove-from-version-id ${report.token}`);

    expect(lines.join('\n')).not.toContain('Do not remove');

    // --resume finishes that very rotation once the cause is fixed.
    db.reachable = true;
    lines = [];
    const resumed = await rotate(options({ mode: 'resume' }));
    expect(resumed.ok).toBe(true);
    expect(resumed.token).toBe(report.token);
    expect(resumed.steps[0]?.attempts[0]?.outcome).toBe('pending-exists');
  });

  it('when testSecret fails after setSecret, says to finish the rotation and never to cancel it', async () => {
    let calls = 0;
    const handler = createRotationHandler({ engine: db.engine, strategy: singleUser });
    const report = await rotate(
      options({
        retries: 0,
        handler: async (event) => {
          if ((event as { Step: string }).Step === 'testSecret' && ++calls === 1)
            db.reachable = false;
          return handler(event);
        },
      }),
    );
    expect(report.ok).toBe(false);
    expect(report.failure).toMatch(/^testSecret failed/);
    const printed = lines.join('\n');
    expect(printed).toContain('Do not remove its AWSPENDING label');
    expect(printed).not.toContain('--remove-from-version-id');
  });

  it('does not retry what a repeat cannot fix, such as another rotation in progress', async () => {
    sm.startRotation(arn, 'other-rotation-token-0000000000000000');
    const report = await rotate(options());
    expect(report.ok).toBe(false);
    expect(report.steps[0]?.attempts).toHaveLength(1);
    expect(report.steps[0]?.attempts[0]?.error?.name).toBe('RotationInProgressError');
    expect(report.failure).toContain('not retried');
    expect(delays).toEqual([]);
    expect(sm.stages(arn)['other-rotation-token-0000000000000000']).toEqual(['AWSPENDING']);
  });

  it('refuses to resume when nothing is pending', async () => {
    await expect(rotate(options({ mode: 'resume' }))).rejects.toThrow(RunnerError);
    await expect(rotate(options({ mode: 'resume' }))).rejects.toThrow(/Nothing to resume/);
  });
});

describe('preflight helpers', () => {
  const policy: PasswordPolicy = {
    length: 32,
    excludeCharacters: '/@"\'\\',
    excludeNumbers: false,
    excludePunctuation: false,
    excludeUppercase: false,
    excludeLowercase: false,
    requireEachIncludedType: true,
  };
  const compare = (p: PasswordPolicy, rules: Parameters<typeof comparePasswordRules>[1]) => {
    const checks: Check[] = [];
    comparePasswordRules(p, rules, (section, check, status, detail) =>
      checks.push({ section, check, status, detail }),
    );
    return checks;
  };
  const rules = {
    source: 'validate_password (policy MEDIUM)',
    minLength: 8,
    minLowercase: 1,
    minUppercase: 1,
    minDigits: 1,
    minSpecial: 1,
  };

  it('compares the server password rules with the function settings', () => {
    expect(compare(policy, undefined)).toEqual([]);
    expect(compare(policy, rules)[0]?.status).toBe('pass');
    expect(compare({ ...policy, excludePunctuation: true }, rules)[0]).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('special characters, but the settings exclude them'),
    });
    expect(compare({ ...policy, length: 12 }, { ...rules, minLength: 14 })[0]?.status).toBe('fail');
    expect(compare(policy, { ...rules, minDigits: 2 })[0]?.status).toBe('warn');
    expect(compare({ ...policy, requireEachIncludedType: false }, rules)[0]?.status).toBe('warn');
  });

  it('formats a report with a result line', () => {
    const text = formatReport({
      result: 'fail',
      secretId: 's',
      secretArn: 'arn:s',
      function: 'postgresql-single-user',
      server: undefined,
      tls: undefined,
      checks: [{ section: 'secret', check: 'labels', status: 'fail', detail: 'stuck' }],
      counts: { pass: 0, warn: 0, fail: 1, info: 0, unknown: 0 },
    });
    expect(text).toContain('FAIL  labels');
    expect(text).toMatch(/Result: FAIL \(0 passed, 1 failed/);
  });

  it('formats labels, rotation labels first', () => {
    expect(formatLabels({ custom: 'v3', AWSPREVIOUS: 'v1', AWSCURRENT: 'v2' })).toBe(
      'AWSCURRENT=v2  AWSPREVIOUS=v1  custom=v3',
    );
    expect(formatLabels({})).toBe('(none)');
  });
});

describe('MySQL: what the master cannot grant', () => {
  const grants = (...lines: string[]) => parseGrants(lines);

  it('is nothing when the master holds everything WITH GRANT OPTION on *.*', () => {
    const master = grants('GRANT ALL PRIVILEGES ON *.* TO `rot`@`%` WITH GRANT OPTION');
    const base = grants(
      'GRANT SELECT, INSERT ON `app`.* TO `app`@`%`',
      'GRANT SELECT (`c`) ON `app`.`t` TO `app`@`%`',
    );
    expect(ungrantable(base, master, master.privileges.get('*.*') ?? new Set())).toEqual([]);
  });

  it('accepts a database-level grant for a table privilege and lists the rest', () => {
    const master = grants(
      'GRANT CREATE USER ON *.* TO `rot`@`%`',
      'GRANT SELECT ON `app`.* TO `rot`@`%` WITH GRANT OPTION',
    );
    const base = grants(
      'GRANT SELECT ON `app`.`t` TO `app`@`%`',
      'GRANT SELECT, DELETE ON `app`.* TO `app`@`%`',
      'GRANT PROCESS ON *.* TO `app`@`%`',
      'GRANT `reader`@`%` TO `app`@`%`',
    );
    expect(ungrantable(base, master, master.privileges.get('*.*') ?? new Set())).toEqual([
      'DELETE ON `app`.*',
      'PROCESS ON *.*',
      'role `reader`@`%`',
    ]);
  });

  it('counts a role held WITH ADMIN OPTION', () => {
    const master = grants('GRANT `reader`@`%` TO `rot`@`%` WITH ADMIN OPTION');
    const base = grants('GRANT `reader`@`%` TO `app`@`%`');
    expect(ungrantable(base, master, new Set())).toEqual([]);
  });
});
