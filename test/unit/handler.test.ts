import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { createRotationHandler } from '../../shared/rotation/handler';
import { alternatingUsers } from '../../shared/strategies/alternating-users';
import { singleUser } from '../../shared/strategies/single-user';
import { captureOutput } from '../helpers/capture-output';
import { FakeDatabase } from '../helpers/fake-engine';
import { FakeSecretsManager } from '../helpers/fake-secrets-manager';

const TOKEN = '11111111-2222-3333-4444-555555555555';
const ENV_KEYS = [
  'PASSWORD_LENGTH',
  'EXCLUDE_CHARACTERS',
  'EXCLUDE_NUMBERS',
  'TLS_MODE',
  'EXCLUDE_LOWERCASE',
  'EXCLUDE_UPPERCASE',
  'EXCLUDE_PUNCTUATION',
  'RETAIN_CURRENT_PASSWORD',
];

let sm: FakeSecretsManager;
let db: FakeDatabase;

beforeEach(() => {
  for (const key of ENV_KEYS) delete process.env[key];
  process.env.AWS_REGION = 'us-east-1';
  sm = new FakeSecretsManager();
  db = new FakeDatabase();
});

afterEach(() => sm.mock.restore());

function userSecret(extra: Record<string, unknown> = {}) {
  db.users.set('app', 'old-password-1');
  return sm.create('app', {
    engine: 'fake',
    host: 'db.example',
    username: 'app',
    password: 'old-password-1',
    ...extra,
  });
}

/** A master secret whose user exists in the fake database. */
function masterSecret(host = 'db.example'): string {
  db.users.set('admin', 'master-password-1');
  return sm.create('master', {
    engine: 'fake',
    host,
    username: 'admin',
    password: 'master-password-1',
  });
}

async function step(
  strategy: typeof singleUser,
  Step: string,
  SecretId: string,
  token = TOKEN,
  extra = {},
) {
  const handler = createRotationHandler({ engine: db.engine, strategy });
  const run = await captureOutput(() =>
    handler({ Step, SecretId, ClientRequestToken: token, ...extra }),
  );
  if (run.error) throw run.error;
  return run.output;
}

async function rotate(strategy: typeof singleUser, arn: string, token = TOKEN) {
  sm.startRotation(arn, token);
  for (const s of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'])
    await step(strategy, s, arn, token);
}

/**
 * Starts a rotation and runs createSecret, then expects setSecret to refuse the master secret
 * with a MasterSecretError whose message matches `message`, without logging in as the master.
 */
async function expectMasterRefused(arn: string, message: RegExp | string = /./) {
  sm.startRotation(arn, TOKEN);
  await step(alternatingUsers, 'createSecret', arn);
  await expect(step(alternatingUsers, 'setSecret', arn)).rejects.toMatchObject({
    name: 'MasterSecretError',
    message:
      typeof message === 'string'
        ? expect.stringContaining(message)
        : expect.stringMatching(message),
  });
  expect(db.logins.some((l) => l.username === 'admin')).toBe(false);
}

describe('stage checks before every step', () => {
  it('refuses a secret whose rotation is explicitly disabled, naming it', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    sm.setRotationEnabled(arn, false);
    await expect(step(singleUser, 'createSecret', arn)).rejects.toMatchObject({
      name: 'RotationDisabledError',
      message: expect.stringContaining(arn),
    });
    expect(sm.value(arn, 'AWSPENDING')).toBeUndefined();
  });

  it('runs when RotationEnabled is absent (only an explicit false stops it)', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    sm.setRotationEnabled(arn, undefined);
    await step(singleUser, 'createSecret', arn);
    expect(sm.value(arn, 'AWSPENDING')).toMatchObject({ username: 'app' });
  });

  it('refuses a token that is not a version of the secret', async () => {
    const arn = userSecret();
    await expect(
      step(singleUser, 'setSecret', arn, 'no-such-version-token-000000000000'),
    ).rejects.toMatchObject({
      name: 'VersionNotFoundError',
      message: expect.stringContaining('no-such-version-token-000000000000'),
    });
  });

  it('refuses a version that is not AWSPENDING', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    // Take the AWSPENDING label off the token's version, as a cancelled rotation would.
    sm.updateStage(arn, 'AWSPENDING', { removeFrom: TOKEN });
    await expect(step(singleUser, 'setSecret', arn)).rejects.toMatchObject({
      name: 'VersionNotPendingError',
    });
  });

  it.each(['createSecret', 'setSecret', 'testSecret', 'finishSecret'])(
    'returns without doing anything when the token is already AWSCURRENT (%s)',
    async (s) => {
      const arn = userSecret();
      await rotate(singleUser, arn);
      const before = sm.stages(arn);
      const password = db.users.get('app');
      db.reachable = false; // any database work would now fail
      const output = await step(singleUser, s, arn);
      expect(sm.stages(arn)).toEqual(before);
      expect(db.users.get('app')).toBe(password);
      expect(output).toContain('already-current');
    },
  );

  it('rejects an unknown step before calling Secrets Manager', async () => {
    const arn = userSecret();
    await expect(step(singleUser, 'deleteSecret', arn)).rejects.toMatchObject({
      name: 'UnknownStepError',
    });
    expect(sm.mock.calls()).toHaveLength(0);
  });

  it.each([
    [null, 'InvalidEventError'],
    [{ Step: 'createSecret', ClientRequestToken: TOKEN }, 'InvalidEventError'],
    [{ Step: 'createSecret', SecretId: 'x' }, 'InvalidEventError'],
    [{ Step: 7, SecretId: 'x', ClientRequestToken: TOKEN }, 'InvalidEventError'],
    [
      { Step: 'createSecret', SecretId: 'x', ClientRequestToken: TOKEN, RotationToken: 5 },
      'InvalidEventError',
    ],
  ])('rejects a malformed event %j', async (event, name) => {
    const handler = createRotationHandler({ engine: db.engine, strategy: singleUser });
    const run = await captureOutput(() => handler(event));
    expect(run.error).toMatchObject({ name });
    expect(sm.mock.calls()).toHaveLength(0);
  });

  it('fails on an impossible password setting before calling Secrets Manager', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    process.env.PASSWORD_LENGTH = '4';
    await expect(step(singleUser, 'createSecret', arn)).rejects.toMatchObject({
      name: 'ConfigurationError',
      message: expect.stringContaining('PASSWORD_LENGTH'),
    });
    expect(sm.mock.calls()).toHaveLength(0);
  });
});

describe('createSecret', () => {
  it('stores a new password under the token, labelled AWSPENDING, copying every other key', async () => {
    const arn = userSecret({ port: 1234, dbname: 'main', custom: { nested: true } });
    sm.startRotation(arn, TOKEN);
    await step(singleUser, 'createSecret', arn);
    const pending = sm.value(arn, 'AWSPENDING');
    const current = sm.value(arn, 'AWSCURRENT');
    expect(pending).toEqual({ ...current, password: expect.any(String) });
    expect(pending?.password).not.toBe(current?.password);
    expect(String(pending?.password)).toHaveLength(32);
    expect(sm.stages(arn)[TOKEN]).toEqual(['AWSPENDING']);
  });

  it('does nothing when the pending version already has a value (a retried step)', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    await step(singleUser, 'createSecret', arn);
    const first = sm.value(arn, 'AWSPENDING');
    const output = await step(singleUser, 'createSecret', arn);
    expect(sm.value(arn, 'AWSPENDING')).toEqual(first);
    expect(output).toContain('pending-exists');
  });

  it('passes the RotationToken to PutSecretValue when the event has one', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    await step(singleUser, 'createSecret', arn, TOKEN, { RotationToken: 'rot-token-123' });
    const { PutSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
    expect(sm.mock.commandCalls(PutSecretValueCommand)[0]?.args[0].input).toMatchObject({
      RotationToken: 'rot-token-123',
      ClientRequestToken: TOKEN,
      VersionStages: ['AWSPENDING'],
    });
  });

  it('honours the password settings', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    process.env.PASSWORD_LENGTH = '12';
    process.env.EXCLUDE_PUNCTUATION = 'true';
    process.env.EXCLUDE_CHARACTERS = 'abc';
    await step(singleUser, 'createSecret', arn);
    expect(String(sm.value(arn, 'AWSPENDING')?.password)).toMatch(/^[d-zA-Z0-9]{12}$/);
  });

  it('refuses a current secret for another engine, naming the key', async () => {
    const arn = sm.create('other', { engine: 'mysql', host: 'h', username: 'u', password: 'p' });
    sm.startRotation(arn, TOKEN);
    await expect(step(singleUser, 'createSecret', arn)).rejects.toMatchObject({
      name: 'SecretValueError',
      message: expect.stringContaining('"engine"'),
    });
    expect(sm.value(arn, 'AWSPENDING')).toBeUndefined();
  });

  it('refuses a secret with no AWSCURRENT value', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    const { GetSecretValueCommand, ResourceNotFoundException } = await import(
      '@aws-sdk/client-secrets-manager'
    );
    sm.mock
      .on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' })
      .rejects(new ResourceNotFoundException({ message: 'gone', $metadata: {} }));
    await expect(step(singleUser, 'createSecret', arn)).rejects.toMatchObject({
      name: 'SecretVersionMissingError',
    });
  });
});

describe('single-user setSecret', () => {
  async function created() {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    await step(singleUser, 'createSecret', arn);
    return { arn, pending: String(sm.value(arn, 'AWSPENDING')?.password) };
  }

  it('logs in with AWSCURRENT and changes the password to the pending one', async () => {
    const { arn, pending } = await created();
    await step(singleUser, 'setSecret', arn);
    expect(db.users.get('app')).toBe(pending);
  });

  it('does nothing when the pending password already logs in (a retried step)', async () => {
    const { arn, pending } = await created();
    await step(singleUser, 'setSecret', arn);
    db.refuseStatements = false;
    const output = await step(singleUser, 'setSecret', arn);
    expect(output).toContain('pending-already-logs-in');
    expect(db.users.get('app')).toBe(pending);
  });

  it('falls back to AWSPREVIOUS when AWSCURRENT no longer logs in', async () => {
    const arn = userSecret();
    await rotate(singleUser, arn, 'aaaaaaaa-0000-0000-0000-000000000001');
    const previous = String(sm.value(arn, 'AWSPREVIOUS')?.password);
    db.users.set('app', previous); // someone restored the old password
    sm.startRotation(arn, TOKEN);
    await step(singleUser, 'createSecret', arn);
    await step(singleUser, 'setSecret', arn);
    expect(db.users.get('app')).toBe(sm.value(arn, 'AWSPENDING')?.password);
  });

  it('says which versions it tried when none logs in, and changes nothing', async () => {
    const { arn } = await created();
    db.users.set('app', 'changed-outside-rotation');
    await expect(step(singleUser, 'setSecret', arn)).rejects.toMatchObject({
      name: 'NoWorkingCredentialsError',
      message: expect.stringMatching(/tried AWSCURRENT, AWSPENDING/),
    });
    expect(db.users.get('app')).toBe('changed-outside-rotation');
  });

  describe('never tries a password the database cannot have yet (FAILED_LOGIN_ATTEMPTS 1)', () => {
    const steps = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

    it.each([
      ['one password', false],
      ['dual passwords (RETAIN_CURRENT_PASSWORD)', true],
    ])('%s: every step run twice, no failed login, the account never locks', async (_n, dual) => {
      if (dual) process.env.RETAIN_CURRENT_PASSWORD = 'true';
      db.checksReplace = true;
      db.lockAfter = 1;
      const arn = userSecret();
      sm.startRotation(arn, TOKEN);
      for (const s of steps) {
        await step(singleUser, s, arn);
        await step(singleUser, s, arn);
        expect(db.failedLogins.get('app') ?? 0).toBe(0);
      }
      const current = String(sm.value(arn, 'AWSCURRENT')?.password);
      const previous = String(sm.value(arn, 'AWSPREVIOUS')?.password);
      expect(db.users.get('app')).toBe(current);
      // Dual passwords: AWSPREVIOUS still logs in; one password: only AWSCURRENT does.
      expect(db.secondary.get('app')).toBe(dual ? previous : undefined);
      expect(sm.stages(arn)[TOKEN]).toEqual(['AWSCURRENT']);
    });

    it('records that the password is set, and a retry logs in with AWSPENDING first', async () => {
      const { arn, pending } = await created();
      await step(singleUser, 'setSecret', arn);
      expect(sm.stages(arn)[TOKEN]).toContain('ROTATION_PASSWORD_SET');
      db.logins.length = 0;
      await step(singleUser, 'setSecret', arn);
      expect(db.logins.map((l) => l.password)).toEqual([pending]);
    });

    it('after a crash before the record, AWSCURRENT fails once and AWSPENDING is found set', async () => {
      const { arn, pending } = await created();
      db.users.set('app', pending); // the password changed; the step died before recording it
      const output = await step(singleUser, 'setSecret', arn);
      expect(output).toContain('pending-already-logs-in');
      expect(db.failedLogins.get('app')).toBe(0); // reset by the successful login
      expect(sm.stages(arn)[TOKEN]).toContain('ROTATION_PASSWORD_SET');
    });

    it('dual passwords, after a crash before the record: AWSCURRENT (now secondary) logs in, REPLACE finds it is not the primary, and nothing is discarded', async () => {
      process.env.RETAIN_CURRENT_PASSWORD = 'true';
      db.checksReplace = true;
      db.lockAfter = 1;
      const { arn, pending } = await created();
      await step(singleUser, 'setSecret', arn);
      sm.updateStage(arn, 'ROTATION_PASSWORD_SET', { removeFrom: TOKEN }); // as if never recorded
      const output = await step(singleUser, 'setSecret', arn);
      expect(output).toContain('pending-already-logs-in');
      expect(db.users.get('app')).toBe(pending);
      expect(db.secondary.get('app')).toBe('old-password-1'); // not the pending password
      expect(db.failedLogins.get('app') ?? 0).toBe(0);
    });

    it('stops at a locked account after one login, and says how to unlock it', async () => {
      const { arn } = await created();
      db.lockAfter = 0;
      db.logins.length = 0;
      await expect(step(singleUser, 'setSecret', arn)).rejects.toMatchObject({
        name: 'AccountLockedError',
      });
      expect(db.logins).toHaveLength(1);
    });
  });

  it('refuses a pending version that names another user', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    sm.putPending(arn, TOKEN, {
      engine: 'fake',
      host: 'db.example',
      username: 'admin',
      password: 'x-new-password',
    });
    await expect(step(singleUser, 'setSecret', arn)).rejects.toMatchObject({
      name: 'CredentialsMismatchError',
    });
    expect(db.users.get('admin')).toBeUndefined();
  });

  it('reports an unreachable database as unreachable, not as a wrong password', async () => {
    const { arn } = await created();
    db.reachable = false;
    await expect(step(singleUser, 'setSecret', arn)).rejects.toMatchObject({
      name: 'DatabaseUnreachableError',
    });
  });

  it('fails setSecret when createSecret has not run', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    await expect(step(singleUser, 'setSecret', arn)).rejects.toMatchObject({
      name: 'SecretVersionMissingError',
    });
  });
});

describe('testSecret', () => {
  it('logs in with the pending credentials', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    await step(singleUser, 'createSecret', arn);
    await step(singleUser, 'setSecret', arn);
    expect(await step(singleUser, 'testSecret', arn)).toContain('pending-tested');
  });

  it('fails, naming the version, when the pending credentials are rejected', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    await step(singleUser, 'createSecret', arn);
    await expect(step(singleUser, 'testSecret', arn)).rejects.toMatchObject({
      name: 'PendingCredentialsError',
      message: expect.stringContaining(TOKEN),
    });
  });

  it('tests the current credentials when called alone with an empty pending version', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    expect(await step(singleUser, 'testSecret', arn)).toContain('current-tested');
    db.users.set('app', 'something-else');
    await expect(step(singleUser, 'testSecret', arn)).rejects.toMatchObject({
      name: 'CredentialsRejectedError',
    });
  });
});

describe('finishSecret', () => {
  it('moves AWSCURRENT to the token, the old version to AWSPREVIOUS, and leaves no AWSPENDING', async () => {
    const arn = userSecret();
    await rotate(singleUser, arn);
    expect(sm.stages(arn)).toEqual({ 'initial-app': ['AWSPREVIOUS'], [TOKEN]: ['AWSCURRENT'] });
  });

  it.each([
    ['single-user', false],
    ['alternating-users', true],
  ])(
    '%s: refuses to promote a recorded pending version that does not log in, and changes nothing',
    async (_n, alternating) => {
      const arn = alternating ? userSecret({ masterarn: masterSecret() }) : userSecret();
      const strategy = alternating ? alternatingUsers : singleUser;
      sm.startRotation(arn, TOKEN);
      await step(strategy, 'createSecret', arn);
      sm.updateStage(arn, 'ROTATION_PASSWORD_SET', { moveTo: TOKEN });
      const before = sm.stages(arn);
      await expect(step(strategy, 'finishSecret', arn)).rejects.toMatchObject({
        name: 'PendingCredentialsError',
        message: expect.stringContaining('finishSecret refuses to promote'),
      });
      expect(sm.stages(arn)).toEqual(before);
    },
  );

  it.each([
    ['single-user', 'testSecret', false],
    ['single-user', 'finishSecret', false],
    ['alternating-users', 'testSecret', true],
    ['alternating-users', 'finishSecret', true],
  ])(
    '%s: %s tries no login with a pending password setSecret has not recorded',
    async (_n, Step, alternating) => {
      const arn = alternating ? userSecret({ masterarn: masterSecret() }) : userSecret();
      const strategy = alternating ? alternatingUsers : singleUser;
      sm.startRotation(arn, TOKEN);
      await step(strategy, 'createSecret', arn);
      const before = sm.stages(arn);
      const pending = String(sm.value(arn, 'AWSPENDING')?.password);
      await expect(step(strategy, Step, arn)).rejects.toMatchObject({
        name: 'PendingCredentialsError',
        message: expect.stringContaining('setSecret has not recorded'),
      });
      // Each such login could only fail, and count against an account with a failed-login limit.
      expect(db.logins.filter((l) => l.password === pending)).toEqual([]);
      expect(sm.stages(arn)).toEqual(before);
    },
  );

  it('a finishSecret retried after AWSCURRENT moved needs no login', async () => {
    const arn = userSecret();
    await rotate(singleUser, arn);
    db.reachable = false;
    expect(await step(singleUser, 'finishSecret', arn)).toContain('already-current');
  });

  it('completes a finishSecret interrupted between its two label moves', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    for (const s of ['createSecret', 'setSecret', 'testSecret']) await step(singleUser, s, arn);
    sm.updateStage(arn, 'AWSCURRENT', { moveTo: TOKEN, removeFrom: 'initial-app' });
    expect(sm.stages(arn)[TOKEN]).toEqual(['AWSPENDING', 'ROTATION_PASSWORD_SET', 'AWSCURRENT']);
    await step(singleUser, 'finishSecret', arn);
    expect(sm.stages(arn)[TOKEN]).toEqual(['AWSCURRENT']);
  });

  it('runs each step twice in a row with the same result as once', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    for (const s of ['createSecret', 'setSecret', 'testSecret', 'finishSecret']) {
      await step(singleUser, s, arn);
      await step(singleUser, s, arn);
    }
    expect(sm.stages(arn)).toEqual({ 'initial-app': ['AWSPREVIOUS'], [TOKEN]: ['AWSCURRENT'] });
    expect(db.users.get('app')).toBe(sm.value(arn, 'AWSCURRENT')?.password);
  });
});

describe('alternating-users', () => {
  function secrets(extra: Record<string, unknown> = {}) {
    const master = masterSecret();
    return { master, arn: userSecret({ masterarn: master, ...extra }) };
  }

  it('flips user → clone → user, keeping AWSPREVIOUS able to log in', async () => {
    const { arn } = secrets();
    await rotate(alternatingUsers, arn, 'aaaaaaaa-0000-0000-0000-000000000001');
    expect(sm.value(arn, 'AWSCURRENT')).toMatchObject({ username: 'app_clone' });
    expect(db.users.get('app_clone')).toBe(sm.value(arn, 'AWSCURRENT')?.password);
    expect(db.users.get('app')).toBe(sm.value(arn, 'AWSPREVIOUS')?.password);
    await rotate(alternatingUsers, arn, 'aaaaaaaa-0000-0000-0000-000000000002');
    expect(sm.value(arn, 'AWSCURRENT')).toMatchObject({ username: 'app' });
    expect(db.users.get('app')).toBe(sm.value(arn, 'AWSCURRENT')?.password);
    expect(db.users.get('app_clone')).toBe(sm.value(arn, 'AWSPREVIOUS')?.password);
  });

  it('refuses, before writing anything, a secret without masterarn', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    await expect(step(alternatingUsers, 'createSecret', arn)).rejects.toMatchObject({
      name: 'SecretValueError',
      message: expect.stringContaining('masterarn'),
    });
    expect(sm.value(arn, 'AWSPENDING')).toBeUndefined();
  });

  it('refuses a username whose clone would not fit the engine limit', async () => {
    db.users.set('a_very_long_username', 'pw-123456789');
    const arn = sm.create('long', {
      engine: 'fake',
      host: 'h',
      username: 'a_very_long_username',
      password: 'pw-123456789',
      masterarn: 'm',
    });
    sm.startRotation(arn, TOKEN);
    await expect(step(alternatingUsers, 'createSecret', arn)).rejects.toMatchObject({
      name: 'UsernameTooLongError',
    });
    expect(sm.value(arn, 'AWSPENDING')).toBeUndefined();
  });

  it('honours USERNAME_CHARACTER_LIMIT on the clone name, before writing anything', async () => {
    const make = (username: string) => {
      db.users.set(username, 'pw-123456789');
      return sm.create(username, {
        engine: 'fake',
        host: 'h',
        username,
        password: 'pw-123456789',
        masterarn: 'm',
      });
    };
    process.env.USERNAME_CHARACTER_LIMIT = '16';
    try {
      // app_ten_ch + _clone is 16 characters: allowed; one more is refused, naming the setting.
      const fits = make('app_ten_ch');
      sm.startRotation(fits, TOKEN);
      await step(alternatingUsers, 'createSecret', fits);
      expect(sm.value(fits, 'AWSPENDING')?.username).toBe('app_ten_ch_clone');
      const long = make('app_eleven1');
      sm.startRotation(long, TOKEN);
      await expect(step(alternatingUsers, 'createSecret', long)).rejects.toMatchObject({
        name: 'UsernameTooLongError',
        message: expect.stringContaining('USERNAME_CHARACTER_LIMIT (16)'),
      });
      expect(sm.value(long, 'AWSPENDING')).toBeUndefined();
      // Going back from the clone to the base name is never refused.
      const clone = make('app_eleven1_clone');
      sm.startRotation(clone, TOKEN);
      await step(alternatingUsers, 'createSecret', clone);
      expect(sm.value(clone, 'AWSPENDING')?.username).toBe('app_eleven1');
    } finally {
      delete process.env.USERNAME_CHARACTER_LIMIT;
    }
  });

  it('requires AWSCURRENT to log in before the master acts', async () => {
    const { arn } = secrets();
    sm.startRotation(arn, TOKEN);
    await step(alternatingUsers, 'createSecret', arn);
    db.users.set('app', 'changed');
    await expect(step(alternatingUsers, 'setSecret', arn)).rejects.toMatchObject({
      name: 'NoWorkingCredentialsError',
    });
    expect(db.users.has('app_clone')).toBe(false);
  });

  it('refuses a master secret for another host', async () => {
    const master = masterSecret('other.example');
    const arn = userSecret({ masterarn: master });
    await expectMasterRefused(arn, 'same server');
  });

  it('takes a custom name for the server (DATABASE_HOST_ALIASES) as the endpoint it names, and nothing else', async () => {
    const master = masterSecret('prod.abc.rds.example');
    const arn = userSecret({ masterarn: master, host: 'db.example' });
    process.env.DATABASE_HOST_ALIASES = 'other.example=prod.abc.rds.example';
    try {
      sm.startRotation(arn, TOKEN);
      await step(alternatingUsers, 'createSecret', arn);
      await expect(step(alternatingUsers, 'setSecret', arn)).rejects.toMatchObject({
        name: 'MasterSecretError',
        message: expect.stringContaining('same server'),
      });
      process.env.DATABASE_HOST_ALIASES = 'DB.example=prod.abc.rds.example';
      for (const s of ['setSecret', 'testSecret', 'finishSecret']) {
        await step(alternatingUsers, s, arn);
      }
      expect(db.users.get('app_clone')).toBe(sm.value(arn, 'AWSCURRENT')?.password);
    } finally {
      delete process.env.DATABASE_HOST_ALIASES;
    }
  });

  it('refuses a missing master secret and a master that cannot log in', async () => {
    const arn = userSecret({
      masterarn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:nope',
    });
    sm.startRotation(arn, TOKEN);
    await step(alternatingUsers, 'createSecret', arn);
    await expect(step(alternatingUsers, 'setSecret', arn)).rejects.toMatchObject({
      name: 'MasterSecretError',
    });

    const { arn: arn2 } = secrets();
    db.users.set('admin', 'rotated-elsewhere');
    sm.startRotation(arn2, TOKEN);
    await step(alternatingUsers, 'createSecret', arn2);
    await expect(step(alternatingUsers, 'setSecret', arn2)).rejects.toMatchObject({
      name: 'MasterSecretError',
      message: expect.stringContaining('rejected'),
    });
  });
});

describe('TLS', () => {
  it('never falls back to plain text unless TLS_MODE=fallback, and warns when it does', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    await step(singleUser, 'createSecret', arn);
    db.tlsBroken = true;
    await expect(step(singleUser, 'setSecret', arn)).rejects.toMatchObject({
      name: 'DatabaseUnreachableError',
    });
    expect(db.logins.every((l) => l.tls === 'verify-full')).toBe(true);
    process.env.TLS_MODE = 'fallback';
    const output = await step(singleUser, 'setSecret', arn);
    expect(output).toMatch(/"level":"WARN".*WITHOUT encryption/);
  });

  it('connects in plain text when the secret says ssl=false', async () => {
    const arn = userSecret({ ssl: false });
    sm.startRotation(arn, TOKEN);
    await step(singleUser, 'createSecret', arn);
    await step(singleUser, 'setSecret', arn);
    expect(db.logins.every((l) => l.tls === 'disable')).toBe(true);
  });
});

describe('logs', () => {
  it('carry secret, step, token, engine, strategy, outcome and duration, and no password', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    const outputs: string[] = [];
    for (const s of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'])
      outputs.push(await step(singleUser, s, arn));
    const lines = outputs
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.at(-1)).toMatchObject({
      secretArn: arn,
      step: 'finishSecret',
      token: TOKEN,
      engine: 'fake',
      strategy: 'single-user',
      outcome: 'current-moved',
      durationMs: expect.any(Number),
    });
    const text = outputs.join('');
    for (const password of ['old-password-1', String(sm.value(arn, 'AWSCURRENT')?.password)]) {
      expect(text).not.toContain(password);
    }
  });

  it('scrub a password a driver echoes back in an error', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    await step(singleUser, 'createSecret', arn);
    const pending = String(sm.value(arn, 'AWSPENDING')?.password);
    db.engine.connect = async () => {
      throw new Error(`driver says: bad password ${pending}`);
    };
    const handler = createRotationHandler({ engine: db.engine, strategy: singleUser });
    const run = await captureOutput(() =>
      handler({ Step: 'setSecret', SecretId: arn, ClientRequestToken: TOKEN }),
    );
    expect(String((run.error as Error).message)).toContain('[REDACTED]');
    expect(String((run.error as Error).message)).not.toContain(pending);
    expect(run.output).not.toContain(pending);
  });
});

describe('edge cases', () => {
  it('ignores a malformed AWSPREVIOUS and still reports which versions it tried', async () => {
    const arn = userSecret();
    await rotate(singleUser, arn, 'aaaaaaaa-0000-0000-0000-000000000001');
    const { GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
    sm.mock
      .on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' })
      .resolves({ SecretString: 'not json' });
    db.users.set('app', 'changed-outside-rotation');
    sm.startRotation(arn, TOKEN);
    await step(singleUser, 'createSecret', arn);
    await expect(step(singleUser, 'setSecret', arn)).rejects.toMatchObject({
      name: 'NoWorkingCredentialsError',
      message: expect.stringContaining('tried AWSCURRENT, AWSPENDING)'),
    });
  });

  it('refuses a binary secret, naming it', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    const { GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
    sm.mock.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2, 3]) });
    await expect(step(singleUser, 'createSecret', arn)).rejects.toMatchObject({
      name: 'SecretValueError',
      message: expect.stringContaining('binary'),
    });
  });

  describe('a master secret that RDS manages (only username and password)', () => {
    const INSTANCE = 'arn:aws:rds:us-east-1:123456789012:db:prod';
    const CLUSTER = 'arn:aws:rds:us-east-1:123456789012:cluster:prod';
    const rds = mockClient(RDSClient);
    afterEach(() => rds.reset());
    afterAll(() => rds.restore());

    function managedMaster(tag: string, arn: string): string {
      db.users.set('admin', 'master-password-1');
      return sm.create(
        'managed',
        { username: 'admin', password: 'master-password-1' },
        { tags: { [tag]: arn } },
      );
    }
    const instance = (host: string, Engine = 'fake', Port = 1234) =>
      rds
        .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: INSTANCE })
        .resolves({ DBInstances: [{ Endpoint: { Address: host, Port }, Engine }] });

    it('finds the server through its RDS tag and RDS (instance), and rotates', async () => {
      instance('db.example');
      const master = managedMaster('aws:rds:primaryDBInstanceArn', INSTANCE);
      const arn = userSecret({ masterarn: master });
      await rotate(alternatingUsers, arn);
      expect(db.users.get('app_clone')).toBe(sm.value(arn, 'AWSCURRENT')?.password);
      expect(db.logins.some((l) => l.username === 'admin')).toBe(true);
    });

    /** A managed master whose instance has the read replica replica.example; a user secret on it. */
    function onReplica(): string {
      rds
        .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: INSTANCE })
        .resolves({
          DBInstances: [
            {
              Endpoint: { Address: 'db.example', Port: 1234 },
              Engine: 'fake',
              ReadReplicaDBInstanceIdentifiers: ['prod-replica'],
            },
          ],
        })
        .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'prod-replica' })
        .resolves({ DBInstances: [{ Endpoint: { Address: 'replica.example', Port: 1234 } }] });
      const master = managedMaster('aws:rds:primaryDBInstanceArn', INSTANCE);
      return userSecret({ masterarn: master, host: 'replica.example' });
    }

    it('skips a cross-Region read replica (RDS names it by ARN) instead of failing every rotation', async () => {
      const crossRegion = 'arn:aws:rds:eu-west-1:123456789012:db:prod-replica-dr';
      rds
        .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: INSTANCE })
        .resolves({
          DBInstances: [
            {
              Endpoint: { Address: 'db.example', Port: 1234 },
              Engine: 'fake',
              ReadReplicaDBInstanceIdentifiers: [crossRegion],
            },
          ],
        })
        .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: crossRegion })
        .rejects(
          Object.assign(new Error(`DBInstance ${crossRegion} not found`), {
            name: 'DBInstanceNotFoundFault',
          }),
        );
      const master = managedMaster('aws:rds:primaryDBInstanceArn', INSTANCE);
      const arn = userSecret({ masterarn: master });
      await rotate(alternatingUsers, arn);
      expect(db.users.get('app_clone')).toBe(sm.value(arn, 'AWSCURRENT')?.password);
      expect(
        rds.commandCalls(DescribeDBInstancesCommand, { DBInstanceIdentifier: crossRegion }),
      ).toHaveLength(0);
    });

    it('accepts a user secret on a read replica of the master instance; the master works on the writer', async () => {
      const arn = onReplica();
      await rotate(alternatingUsers, arn);
      expect(db.users.get('app_clone')).toBe(sm.value(arn, 'AWSCURRENT')?.password);
    });

    it.each([
      [2, 'passes once the replica catches up (two refusals, three logins)', undefined],
      [
        3,
        'fails without promoting when it is still behind after three logins',
        'PendingCredentialsError',
      ],
    ])(
      'on a lagging replica, testSecret %s: %s',
      async (refusals, _, error) => {
        const arn = onReplica();
        sm.startRotation(arn, TOKEN);
        await step(alternatingUsers, 'createSecret', arn);
        await step(alternatingUsers, 'setSecret', arn);
        db.lagOn = { host: 'replica.example', logins: refusals };
        const test = step(alternatingUsers, 'testSecret', arn);
        if (error) await expect(test).rejects.toMatchObject({ name: error });
        else await test;
        expect(db.lagOn.logins).toBe(0);
      },
      15_000,
    );

    it.each([
      ['accepts', 'prod.abc123.us-east-1.rds.amazonaws.com', undefined],
      ['refuses', 'elsewhere.abc123.us-east-1.rds.amazonaws.com', /same server/],
    ])(
      '%s a replica of a master that names its own RDS endpoint, as RDS answers for that endpoint (%s)',
      async (_, answered, refusal) => {
        const writer = 'prod.abc123.us-east-1.rds.amazonaws.com';
        rds
          .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'prod' })
          .resolves({
            DBInstances: [
              {
                Endpoint: { Address: answered, Port: 1234 },
                ReadReplicaDBInstanceIdentifiers: ['prod-replica'],
              },
            ],
          })
          .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'prod-replica' })
          .resolves({
            DBInstances: [
              {
                Endpoint: {
                  Address: 'prod-replica.abc123.us-east-1.rds.amazonaws.com',
                  Port: 1234,
                },
              },
            ],
          });
        const master = masterSecret(writer);
        const arn = userSecret({
          masterarn: master,
          host: 'prod-replica.abc123.us-east-1.rds.amazonaws.com',
        });
        if (!refusal) {
          await rotate(alternatingUsers, arn);
          expect(db.users.get('app_clone')).toBe(sm.value(arn, 'AWSCURRENT')?.password);
          return;
        }
        await expectMasterRefused(arn, refusal);
      },
    );

    it("takes a cluster's writer endpoint (Aurora, DocumentDB)", async () => {
      rds
        .on(DescribeDBClustersCommand, { DBClusterIdentifier: CLUSTER })
        .resolves({ DBClusters: [{ Endpoint: 'db.example', Port: 1234, Engine: 'fake-aurora' }] });
      const master = managedMaster('aws:rds:primaryDBClusterArn', CLUSTER);
      const arn = userSecret({ masterarn: master });
      await rotate(alternatingUsers, arn);
      expect(db.users.get('app_clone')).toBe(sm.value(arn, 'AWSCURRENT')?.password);
    });

    it.each([
      ['on another server', () => instance('other.example'), /same server/],
      ['of another engine family', () => instance('db.example', 'mysql'), /"mysql" database/],
      [
        'whose database RDS will not describe',
        () => {
          rds
            .on(DescribeDBInstancesCommand)
            .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }));
        },
        /rds:DescribeDBInstances on it failed: AccessDenied/,
      ],
      [
        'whose RDS API does not answer (a VPC without a route to it)',
        () => {
          rds.on(DescribeDBInstancesCommand).rejects(
            Object.assign(new Error('Connection timed out after 3000 ms'), {
              name: 'TimeoutError',
            }),
          );
        },
        /TimeoutError.*route to the RDS API, an interface VPC endpoint for com\.amazonaws\.<region>\.rds/,
      ],
    ])('refuses a managed master %s, and never logs in as it', async (_, setUp, message) => {
      setUp();
      const master = managedMaster('aws:rds:primaryDBInstanceArn', INSTANCE);
      const arn = userSecret({ masterarn: master });
      await expectMasterRefused(arn, message);
    });

    it('refuses a master secret with no host that RDS does not manage, saying what to add', async () => {
      db.users.set('admin', 'master-password-1');
      const master = sm.create('hostless', { username: 'admin', password: 'master-password-1' });
      const arn = userSecret({ masterarn: master });
      sm.startRotation(arn, TOKEN);
      await step(alternatingUsers, 'createSecret', arn);
      await expect(step(alternatingUsers, 'setSecret', arn)).rejects.toMatchObject({
        name: 'MasterSecretError',
        message: expect.stringContaining('has no "host", and RDS does not manage it'),
      });
      expect(rds.calls()).toHaveLength(0);
    });
  });

  it('turns an unreadable master secret into a MasterSecretError naming it', async () => {
    const master = masterSecret();
    const arn = userSecret({ masterarn: master });
    sm.startRotation(arn, TOKEN);
    await step(alternatingUsers, 'createSecret', arn);
    const { GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
    const denied = Object.assign(new Error('User is not authorized'), {
      name: 'AccessDeniedException',
    });
    sm.mock.on(GetSecretValueCommand, { SecretId: master }).rejects(denied);
    await expect(step(alternatingUsers, 'setSecret', arn)).rejects.toMatchObject({
      name: 'MasterSecretError',
      message: expect.stringMatching(/Cannot read the master secret .*AccessDeniedException/),
    });
  });

  it('refuses a pending version for another host', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    sm.putPending(arn, TOKEN, {
      engine: 'fake',
      host: 'evil.example',
      username: 'app',
      password: 'x-new-password',
    });
    await expect(step(singleUser, 'setSecret', arn)).rejects.toMatchObject({
      name: 'CredentialsMismatchError',
      message: expect.stringContaining('evil.example'),
    });
  });

  it('levels the pair again on every retried setSecret, the record notwithstanding', async () => {
    const master = masterSecret();
    const arn = userSecret({ masterarn: master });
    sm.startRotation(arn, TOKEN);
    await step(alternatingUsers, 'createSecret', arn);
    await step(alternatingUsers, 'setSecret', arn);
    expect(sm.stages(arn)[TOKEN]).toContain('ROTATION_PASSWORD_SET');
    // A grant a DBA made since the first run is healed only if the master levels again.
    expect(await step(alternatingUsers, 'setSecret', arn)).toContain('password-set');
    expect(db.applied.map((c) => c.target)).toEqual(['app_clone', 'app_clone']);
  });

  it('testSecret refuses a pending user whose rights differ, naming each difference, and finishSecret is not reached', async () => {
    const master = masterSecret();
    const arn = userSecret({ masterarn: master });
    sm.startRotation(arn, TOKEN);
    await step(alternatingUsers, 'createSecret', arn);
    await step(alternatingUsers, 'setSecret', arn);
    db.drift = ['"app_clone"@"%" lacks SELECT ON `shop`.* ("app"@"%" has it)'];
    await expect(step(alternatingUsers, 'testSecret', arn)).rejects.toMatchObject({
      name: 'PrivilegeDriftError',
      message: expect.stringContaining('lacks SELECT ON `shop`.*'),
    });
    expect(sm.stages(arn)[TOKEN]).toEqual(['AWSPENDING', 'ROTATION_PASSWORD_SET']);
    db.drift = [];
    expect(await step(alternatingUsers, 'testSecret', arn)).toContain('pending-tested');
  });

  it('testSecret alone with AWSPENDING a copy of AWSCURRENT (RotateImmediately=false) tests it without a record', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    sm.putPending(arn, TOKEN, sm.value(arn, 'AWSCURRENT'));
    expect(await step(singleUser, 'testSecret', arn)).toContain('pending-tested');
  });

  it('testSecret alone (no pending value) checks the current pair the same way', async () => {
    const master = masterSecret();
    const arn = userSecret({ masterarn: master });
    db.drift = ['"app_clone"@"%" has DROP ON `shop`.* ("app"@"%" does not)'];
    sm.startRotation(arn, TOKEN);
    await expect(step(alternatingUsers, 'testSecret', arn)).rejects.toMatchObject({
      name: 'PrivilegeDriftError',
      message: expect.stringContaining('the two users'),
    });
  });

  describe('the pair is bound to the secret', () => {
    /** A secret whose AWSCURRENT names the clone, as after one rotation (or as an attacker writes it). */
    function cloneCurrent(previous?: { username: string; password: string }) {
      const master = masterSecret();
      db.users.set('app', 'victim-password-1');
      db.users.set('app_clone', 'attacker-password-1');
      const arn = sm.create('theirs', {
        engine: 'fake',
        host: 'db.example',
        username: 'app_clone',
        password: 'attacker-password-1',
        masterarn: master,
      });
      if (previous) {
        sm.putVersion(arn, 'older', { engine: 'fake', host: 'db.example', ...previous }, [
          'AWSPREVIOUS',
        ]);
      }
      // A clone its writer made is not level with the base (it is not a member of it, say).
      db.drift = ['"app_clone" is not a member of "app", so it cannot act as it'];
      return arn;
    }

    it('refuses to set the base user’s password for a secret that holds only the clone (takeover)', async () => {
      const arn = cloneCurrent();
      sm.startRotation(arn, TOKEN);
      await step(alternatingUsers, 'createSecret', arn);
      await expect(step(alternatingUsers, 'setSecret', arn)).rejects.toMatchObject({
        name: 'UnboundPairError',
        message: expect.stringContaining(
          'They are not level ("app_clone" is not a member of "app", so it cannot act as it), and AWSPREVIOUS does not name "app"',
        ),
      });
      expect(db.applied).toEqual([]);
      expect(db.users.get('app')).toBe('victim-password-1');
      expect(sm.stages(arn)[TOKEN]).toEqual(['AWSPENDING']);
    });

    it('refuses to level and set the password of an existing clone for a secret that holds only a base its writer made (takeover of "report_clone")', async () => {
      const master = masterSecret();
      db.users.set('app_clone', 'victim-password-1');
      db.users.set('app', 'attacker-password-1');
      const arn = sm.create('theirs-base', {
        engine: 'fake',
        host: 'db.example',
        username: 'app',
        password: 'attacker-password-1',
        masterarn: master,
      });
      db.drift = ['"app_clone" is not a member of "app", so it cannot act as it'];
      sm.startRotation(arn, TOKEN);
      await step(alternatingUsers, 'createSecret', arn);
      await expect(step(alternatingUsers, 'setSecret', arn)).rejects.toMatchObject({
        name: 'UnboundPairError',
        message: expect.stringContaining('AWSPREVIOUS does not name "app_clone"'),
      });
      expect(db.applied).toEqual([]);
      expect(db.users.get('app_clone')).toBe('victim-password-1');
    });

    it('tries one binding login at most: a failed-login allowance cannot be spent through it', async () => {
      const arn = cloneCurrent({ username: 'app', password: 'guessed-password-1' });
      sm.startRotation(arn, TOKEN);
      await step(alternatingUsers, 'createSecret', arn);
      await expect(step(alternatingUsers, 'setSecret', arn)).rejects.toMatchObject({
        name: 'UnboundPairError',
      });
      expect(db.logins.filter((l) => l.username === 'app')).toHaveLength(1);
    });

    it('binds a level pair without any login as the base (its password may be in no labelled version after a repair by hand)', async () => {
      const arn = cloneCurrent();
      db.drift = [];
      sm.startRotation(arn, TOKEN);
      await step(alternatingUsers, 'createSecret', arn);
      expect(await step(alternatingUsers, 'setSecret', arn)).toContain('password-set');
      expect(db.logins.filter((l) => l.username === 'app')).toEqual([]);
      expect(db.users.get('app')).toBe(sm.value(arn, 'AWSPENDING')?.password);
    });

    it('refuses when AWSPREVIOUS names the base with a password that does not log in', async () => {
      const arn = cloneCurrent({ username: 'app', password: 'guessed-password-1' });
      sm.startRotation(arn, TOKEN);
      await step(alternatingUsers, 'createSecret', arn);
      await expect(step(alternatingUsers, 'setSecret', arn)).rejects.toMatchObject({
        name: 'UnboundPairError',
        message: expect.stringContaining('the AWSPREVIOUS password of "app" does not log in'),
      });
      expect(db.applied).toEqual([]);
      expect(db.users.get('app')).toBe('victim-password-1');
    });

    it('adopts a pair whose AWSPREVIOUS holds the base’s working password (AWS’s multi-user rotations leave it so)', async () => {
      const arn = cloneCurrent({ username: 'app', password: 'victim-password-1' });
      await rotate(alternatingUsers, arn);
      expect(sm.value(arn, 'AWSCURRENT')).toMatchObject({ username: 'app' });
      expect(db.users.get('app')).toBe(sm.value(arn, 'AWSCURRENT')?.password);
      expect(db.users.get('app_clone')).toBe('attacker-password-1');
    });

    it('finishes a run that set the base’s password but stopped before its record', async () => {
      const arn = cloneCurrent({ username: 'app', password: 'victim-password-1' });
      sm.startRotation(arn, TOKEN);
      await step(alternatingUsers, 'createSecret', arn);
      // The cut-off run levelled the pair before it set the password, as every adapter does.
      db.drift = [];
      db.users.set('app', String(sm.value(arn, 'AWSPENDING')?.password));
      expect(await step(alternatingUsers, 'setSecret', arn)).toContain('password-set');
      // One binding login at most, and none for a level pair.
      expect(db.logins.filter((l) => l.username === 'app')).toEqual([]);
      expect(sm.stages(arn)[TOKEN]).toContain('ROTATION_PASSWORD_SET');
    });

    it.each([
      ['the base', 'app'],
      ['the clone', 'app_clone'],
    ])('refuses a master whose own user is %s of the pair', async (_n, masterUser) => {
      db.users.set(masterUser, 'master-password-1');
      const master = sm.create('self', {
        engine: 'fake',
        host: 'db.example',
        username: masterUser,
        password: 'master-password-1',
      });
      const arn = userSecret({ masterarn: master });
      db.users.set('app', 'old-password-1');
      sm.startRotation(arn, TOKEN);
      await step(alternatingUsers, 'createSecret', arn);
      await expect(step(alternatingUsers, 'setSecret', arn)).rejects.toMatchObject({
        name: 'UnboundPairError',
        message: expect.stringContaining('the master never rotates or levels its own user'),
      });
      expect(db.applied).toEqual([]);
    });
  });

  it('refuses an event whose fields are too long', async () => {
    const handler = createRotationHandler({ engine: db.engine, strategy: singleUser });
    const run = await captureOutput(() =>
      handler({ Step: 'createSecret', SecretId: 'x', ClientRequestToken: 't'.repeat(65) }),
    );
    expect(run.error).toMatchObject({
      name: 'InvalidEventError',
      message: expect.stringContaining('ClientRequestToken'),
    });
  });
});

describe('a SecretId that names no secret', () => {
  it('fails with SecretNotFoundError naming it', async () => {
    await expect(
      step(singleUser, 'createSecret', 'arn:aws:secretsmanager:us-east-1:1:secret:gone'),
    ).rejects.toMatchObject({
      name: 'SecretNotFoundError',
      message: expect.stringContaining(
        "arn:aws:secretsmanager:us-east-1:1:secret:gone (the event's SecretId)",
      ),
    });
  });
});

describe('finishSecret when Secrets Manager already cleared AWSPENDING', () => {
  it('treats the label as removed', async () => {
    const arn = userSecret();
    sm.startRotation(arn, TOKEN);
    for (const s of ['createSecret', 'setSecret', 'testSecret']) await step(singleUser, s, arn);
    const { UpdateSecretVersionStageCommand } = await import('@aws-sdk/client-secrets-manager');
    // The service takes AWSPENDING off the version as AWSCURRENT moves onto it.
    sm.mock
      .on(UpdateSecretVersionStageCommand, { VersionStage: 'AWSCURRENT' })
      .callsFake(({ SecretId, MoveToVersionId, RemoveFromVersionId }) => {
        sm.updateStage(SecretId, 'AWSCURRENT', {
          moveTo: MoveToVersionId,
          removeFrom: RemoveFromVersionId,
        });
        sm.updateStage(SecretId, 'AWSPENDING', { removeFrom: MoveToVersionId });
        return {};
      });
    await step(singleUser, 'finishSecret', arn);
    expect(sm.stages(arn)).toEqual({ 'initial-app': ['AWSPREVIOUS'], [TOKEN]: ['AWSCURRENT'] });
  });
});
