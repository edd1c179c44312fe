import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { CancelRotateSecretCommand, CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { escapeIdentifier as id, escapeLiteral as lit } from 'pg';
import { FUNCTIONS } from '../../cli/functions';
import { readEnvironment } from '../helpers/environment';
import { setHandlerEnvironment } from '../helpers/handler-env';
import { canLogIn, runAs, superuser, uniqueName } from '../helpers/postgres-client';
import { type Handler, loadBundle, RotationService } from '../helpers/rotation-service';

/**
 * Bad events, secret values and settings. Each must fail with a named error that points at the
 * field or setting at fault, change nothing in the database or in the secret's labels, and never
 * carry a password in its message (the global leak scan also reads everything the functions log).
 */
const env = readEnvironment();
const server = env.postgres[env.postgres.length - 1];
if (!server) throw new Error('the bad-input suite needs a PostgreSQL server');
const service = new RotationService(
  env.secretsManagerEndpoint,
  join(env.runDir, 'captured-logs', `bad-input-${process.pid}.log`),
);
const saved = { ...process.env };
afterAll(() => {
  process.env = saved;
});

const PASSWORD = 'Good-password-1';
const MASTER_PASSWORD = 'Master-password-1';
type Fn = 'postgresql-single-user' | 'postgresql-alternating-users';
const handlers: Record<Fn, Handler> = {
  'postgresql-single-user': loadBundle('postgresql-single-user'),
  'postgresql-alternating-users': loadBundle('postgresql-alternating-users'),
};

interface Case {
  name: string;
  /** Default: postgresql-single-user. */
  fn?: Fn;
  /** The error class expected, and what its message must name. */
  error: string;
  names: string | RegExp;
  /** The AWSCURRENT value, given the valid one; a string is stored as is. */
  secret?: (valid: Record<string, unknown>, masters: Masters) => unknown;
  /** Store the value as SecretBinary instead of SecretString. */
  binary?: boolean;
  env?: Record<string, string>;
  /** Steps that must succeed first. */
  before?: string[];
  /** The step that fails; default createSecret. */
  step?: string;
  /** Replace the event; gets the real one. */
  event?: (event: { Step: string; SecretId: string; ClientRequestToken: string }) => unknown;
  /** Something to do to the secret after RotateSecret and before the failing step. */
  arrange?: (arn: string) => Promise<void>;
}

/** The master secrets cases point at. */
interface Masters {
  /** A working master for this server. */
  masterArn: string;
  /** A master secret for another host. */
  otherHostArn: string;
  /** A master secret whose value is not JSON. */
  notJsonArn: string;
}

const alternating = (c: Case) => c.fn === 'postgresql-alternating-users';
const pgSecret = (username: string) => ({
  engine: 'postgres',
  host: server.host,
  port: server.port,
  username,
  password: PASSWORD,
  dbname: 'postgres',
});

const cases: Case[] = [
  // Events
  { name: 'event is null', error: 'InvalidEventError', names: 'JSON object', event: () => null },
  {
    // The runner's old start mode, sent by any invoker: without the refusal it would store a new
    // AWSPENDING version, and finishSecret could then promote a password the database never got.
    name: 'StartRotation on createSecret with a new token',
    error: 'InvalidEventError',
    names: 'a deployed function never starts a rotation',
    event: (e) => ({ ...e, ClientRequestToken: randomUUID(), StartRotation: true }),
  },
  {
    name: 'StartRotation on finishSecret',
    error: 'InvalidEventError',
    names: 'StartRotation',
    before: ['createSecret'],
    step: 'finishSecret',
    event: (e) => ({ ...e, StartRotation: true }),
  },
  {
    name: 'event is an array',
    error: 'InvalidEventError',
    names: 'JSON object',
    event: (e) => [e],
  },
  {
    name: 'event is a string',
    error: 'InvalidEventError',
    names: 'JSON object',
    event: () => 'createSecret',
  },
  {
    name: 'SecretId missing',
    error: 'InvalidEventError',
    names: '"SecretId"',
    event: ({ SecretId: _, ...e }) => e,
  },
  {
    name: 'SecretId a number',
    error: 'InvalidEventError',
    names: '"SecretId"',
    event: (e) => ({ ...e, SecretId: 42 }),
  },
  {
    name: 'SecretId empty',
    error: 'InvalidEventError',
    names: '"SecretId"',
    event: (e) => ({ ...e, SecretId: '' }),
  },
  {
    name: 'SecretId names no secret',
    error: 'SecretNotFoundError',
    names: "event's SecretId",
    event: (e) => ({ ...e, SecretId: `${e.SecretId}-gone` }),
  },
  {
    name: 'ClientRequestToken missing',
    error: 'InvalidEventError',
    names: '"ClientRequestToken"',
    event: ({ ClientRequestToken: _, ...e }) => e,
  },
  {
    name: 'ClientRequestToken too long',
    error: 'InvalidEventError',
    names: '"ClientRequestToken"',
    event: (e) => ({ ...e, ClientRequestToken: 'x'.repeat(65) }),
  },
  {
    name: 'token is not a version',
    error: 'VersionNotFoundError',
    names: 'not a version',
    event: (e) => ({ ...e, ClientRequestToken: crypto.randomUUID() }),
  },
  {
    name: 'Step missing',
    error: 'InvalidEventError',
    names: '"Step"',
    event: ({ Step: _, ...e }) => e,
  },
  {
    name: 'Step unknown',
    error: 'UnknownStepError',
    names: 'deleteSecret',
    event: (e) => ({ ...e, Step: 'deleteSecret' }),
  },
  {
    name: 'Step in the wrong case',
    error: 'UnknownStepError',
    names: 'CreateSecret',
    event: (e) => ({ ...e, Step: 'CreateSecret' }),
  },
  {
    name: 'RotationToken a number',
    error: 'InvalidEventError',
    names: '"RotationToken"',
    event: (e) => ({ ...e, RotationToken: 7 }),
  },
  {
    name: 'rotation disabled',
    error: 'RotationDisabledError',
    names: 'not enabled for rotation',
    arrange: async (arn) => {
      await service.client.send(new CancelRotateSecretCommand({ SecretId: arn }));
    },
  },
  // Secret values
  {
    name: 'secret is not JSON',
    error: 'SecretValueError',
    names: 'not valid JSON',
    secret: () => 'engine=postgres',
  },
  {
    name: 'secret is a JSON array',
    error: 'SecretValueError',
    names: 'JSON object',
    secret: (v) => JSON.stringify([v]),
  },
  {
    name: 'secret is binary',
    error: 'SecretValueError',
    names: 'binary',
    secret: (v) => JSON.stringify(v),
    binary: true,
  },
  {
    name: 'engine missing',
    error: 'SecretValueError',
    names: '"engine" is missing',
    secret: ({ engine: _, ...v }) => v,
  },
  {
    name: 'engine unknown',
    error: 'SecretValueError',
    names: '"engine" must be',
    secret: (v) => ({ ...v, engine: 'oracle' }),
  },
  {
    name: 'engine of another function',
    error: 'SecretValueError',
    names: '"engine" must be',
    secret: (v) => ({ ...v, engine: 'mysql' }),
  },
  {
    name: 'engine a number',
    error: 'SecretValueError',
    names: '"engine" must be a string',
    secret: (v) => ({ ...v, engine: 5 }),
  },
  {
    name: 'host missing',
    error: 'SecretValueError',
    names: '"host" is missing',
    secret: ({ host: _, ...v }) => v,
  },
  {
    name: 'host empty',
    error: 'SecretValueError',
    names: '"host" is empty',
    secret: (v) => ({ ...v, host: '' }),
  },
  {
    name: 'host with a newline',
    error: 'SecretValueError',
    names: '"host" contains control',
    secret: (v) => ({ ...v, host: 'db\nevil' }),
  },
  {
    name: 'host oversized',
    error: 'SecretValueError',
    names: '"host" is longer',
    secret: (v) => ({ ...v, host: 'h'.repeat(300) }),
  },
  {
    name: 'username missing',
    error: 'SecretValueError',
    names: '"username" is missing',
    secret: ({ username: _, ...v }) => v,
  },
  {
    name: 'username an object',
    error: 'SecretValueError',
    names: '"username" must be a string',
    secret: (v) => ({ ...v, username: {} }),
  },
  {
    name: 'username with NUL',
    error: 'SecretValueError',
    names: '"username" contains control',
    secret: (v) => ({ ...v, username: 'app\u0000root' }),
  },
  {
    name: 'username oversized',
    error: 'SecretValueError',
    names: '"username" is longer',
    secret: (v) => ({ ...v, username: 'u'.repeat(2000) }),
  },
  {
    name: 'password missing',
    error: 'SecretValueError',
    names: '"password" is missing',
    secret: ({ password: _, ...v }) => v,
  },
  {
    name: 'password a number',
    error: 'SecretValueError',
    names: '"password" must be a string',
    secret: (v) => ({ ...v, password: 12345678 }),
  },
  {
    name: 'password with NUL',
    error: 'SecretValueError',
    names: '"password" contains a NUL',
    secret: (v) => ({ ...v, password: `${PASSWORD}\u0000` }),
  },
  {
    name: 'password oversized',
    error: 'SecretValueError',
    names: '"password" is longer',
    secret: (v) => ({ ...v, password: 'p'.repeat(5000) }),
  },
  {
    name: 'port a word',
    error: 'SecretValueError',
    names: '"port"',
    secret: (v) => ({ ...v, port: 'five-four-three-two' }),
  },
  {
    name: 'port out of range',
    error: 'SecretValueError',
    names: '"port"',
    secret: (v) => ({ ...v, port: 70000 }),
  },
  {
    name: 'port zero',
    error: 'SecretValueError',
    names: '"port"',
    secret: (v) => ({ ...v, port: 0 }),
  },
  {
    name: 'port a fraction',
    error: 'SecretValueError',
    names: '"port"',
    secret: (v) => ({ ...v, port: 5432.5 }),
  },
  {
    name: 'port negative string',
    error: 'SecretValueError',
    names: '"port"',
    secret: (v) => ({ ...v, port: '-5432' }),
  },
  {
    name: 'ssl neither true nor false',
    error: 'SecretValueError',
    names: '"ssl"',
    secret: (v) => ({ ...v, ssl: 'maybe' }),
  },
  {
    name: 'dbname an array',
    error: 'SecretValueError',
    names: '"dbname"',
    secret: (v) => ({ ...v, dbname: ['postgres'] }),
  },
  // Alternating users and the master secret
  {
    name: 'masterarn missing',
    fn: 'postgresql-alternating-users',
    error: 'SecretValueError',
    names: '"masterarn"',
    secret: ({ masterarn: _, ...v }) => v,
  },
  {
    name: 'masterarn a number',
    fn: 'postgresql-alternating-users',
    error: 'SecretValueError',
    names: '"masterarn" must be a string',
    secret: (v) => ({ ...v, masterarn: 1 }),
  },
  {
    name: 'masterarn names a missing secret',
    fn: 'postgresql-alternating-users',
    error: 'MasterSecretError',
    names: 'does not exist',
    secret: (v) => ({
      ...v,
      masterarn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:no-such-master',
    }),
    before: ['createSecret'],
    step: 'setSecret',
  },
  {
    name: 'masterarn names a secret for another host',
    fn: 'postgresql-alternating-users',
    error: 'MasterSecretError',
    names: 'same server',
    secret: (v, { otherHostArn }) => ({ ...v, masterarn: otherHostArn }),
    before: ['createSecret'],
    step: 'setSecret',
  },
  {
    name: 'masterarn names a secret that is not JSON',
    fn: 'postgresql-alternating-users',
    error: 'SecretValueError',
    names: /master|not valid JSON/,
    secret: (v, { notJsonArn }) => ({ ...v, masterarn: notJsonArn }),
    before: ['createSecret'],
    step: 'setSecret',
  },
  {
    name: 'username whose clone exceeds 63 bytes',
    fn: 'postgresql-alternating-users',
    error: 'UsernameTooLongError',
    names: '63-byte limit',
    secret: (v) => ({ ...v, username: 'a'.repeat(60) }),
  },
  // Settings
  {
    name: 'every character excluded',
    error: 'ConfigurationError',
    names: 'EXCLUDE_CHARACTERS',
    env: {
      EXCLUDE_NUMBERS: 'true',
      EXCLUDE_PUNCTUATION: 'true',
      EXCLUDE_CHARACTERS: 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
    },
  },
  {
    name: 'every class excluded',
    error: 'ConfigurationError',
    names: 'EXCLUDE_LOWERCASE',
    env: {
      EXCLUDE_NUMBERS: '1',
      EXCLUDE_PUNCTUATION: 'yes',
      EXCLUDE_UPPERCASE: 'y',
      EXCLUDE_LOWERCASE: 'true',
    },
  },
  {
    name: 'password length under 8',
    error: 'ConfigurationError',
    names: 'PASSWORD_LENGTH',
    env: { PASSWORD_LENGTH: '4' },
  },
  {
    name: 'password length a word',
    error: 'ConfigurationError',
    names: 'PASSWORD_LENGTH',
    env: { PASSWORD_LENGTH: 'long' },
  },
  {
    name: 'password length huge',
    error: 'ConfigurationError',
    names: 'PASSWORD_LENGTH',
    env: { PASSWORD_LENGTH: '100000' },
  },
  {
    name: 'boolean setting mistyped',
    error: 'ConfigurationError',
    names: 'EXCLUDE_NUMBERS',
    env: { EXCLUDE_NUMBERS: 'ture' },
  },
  {
    name: 'REQUIRE_EACH_INCLUDED_TYPE unreadable',
    error: 'ConfigurationError',
    names: 'REQUIRE_EACH_INCLUDED_TYPE',
    env: { REQUIRE_EACH_INCLUDED_TYPE: 'sometimes' },
  },
  {
    name: 'TLS_MODE unknown',
    error: 'ConfigurationError',
    names: 'TLS_MODE',
    env: { TLS_MODE: 'prefer' },
  },
  {
    name: 'connect timeout zero',
    error: 'ConfigurationError',
    names: 'DB_CONNECT_TIMEOUT_SECONDS',
    env: { DB_CONNECT_TIMEOUT_SECONDS: '0' },
  },
  {
    name: 'NODE_EXTRA_CA_CERTS names a missing file',
    error: 'ConfigurationError',
    names: 'NODE_EXTRA_CA_CERTS',
    env: { NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' },
    before: ['createSecret'],
    step: 'setSecret',
  },
];

describe(`bad input (${cases.length} cases, against ${server.name})`, () => {
  let masters: Masters;
  const master = { username: uniqueName('bad_master'), password: MASTER_PASSWORD };

  beforeAll(async () => {
    await runAs(
      server,
      superuser(server),
      `CREATE ROLE ${id(master.username)} LOGIN CREATEROLE PASSWORD ${lit(MASTER_PASSWORD)}`,
    );
    masters = {
      masterArn: await service.createSecret(uniqueName('bad_master'), pgSecret(master.username)),
      otherHostArn: await service.createSecret(uniqueName('bad_master'), {
        ...pgSecret(master.username),
        host: 'other-host.invalid',
      }),
      notJsonArn: (
        await service.client.send(
          new CreateSecretCommand({
            Name: uniqueName('bad_master'),
            SecretString: 'not json at all',
          }),
        )
      ).ARN as string,
    };
  });

  it('has at least 40 distinct cases', () => {
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    setHandlerEnvironment(env, server.caFile);
    const fn = c.fn ?? 'postgresql-single-user';
    const handler = handlers[fn];
    const username = uniqueName('bad');
    await runAs(
      server,
      superuser(server),
      `CREATE ROLE ${id(username)} LOGIN PASSWORD ${lit(PASSWORD)}`,
    );
    if (alternating(c)) {
      await runAs(
        server,
        superuser(server),
        `GRANT ${id(username)} TO ${id(master.username)} WITH ADMIN OPTION`,
      );
    }
    const good = {
      ...pgSecret(username),
      ...(alternating(c) ? { masterarn: masters.masterArn } : {}),
    };
    const value = c.secret ? c.secret(good, masters) : good;
    const name = uniqueName('bad_secret');
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    const created = await service.client.send(
      new CreateSecretCommand(
        c.binary
          ? { Name: name, SecretBinary: Buffer.from(text) }
          : { Name: name, SecretString: text },
      ),
    );
    const arn = created.ARN as string;
    const token = await service.startRotation(arn);
    for (const step of c.before ?? []) await service.invoke(handler, step, arn, token);
    await c.arrange?.(arn);
    const labelsBefore = await service.stages(arn);
    if (c.env) setHandlerEnvironment(env, server.caFile, c.env);

    const event = { Step: c.step ?? 'createSecret', SecretId: arn, ClientRequestToken: token };
    const error = await service.invokeEvent(handler, c.event ? c.event(event) : event).then(
      () => undefined,
      (e: unknown) => e as Error,
    );

    expect(error).toBeDefined();
    expect(error?.name).toBe(c.error);
    if (typeof c.names === 'string') expect(error?.message).toContain(c.names);
    else expect(error?.message).toMatch(c.names);
    for (const secret of [PASSWORD, MASTER_PASSWORD]) expect(error?.message).not.toContain(secret);
    // Nothing changed: labels as before, no pending value unless a step before made it, the
    // user's password as it was, no clone.
    expect(await service.stages(arn)).toEqual(labelsBefore);
    if (!c.before?.includes('createSecret')) {
      await expect(service.value(arn, 'AWSPENDING')).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
      });
    }
    setHandlerEnvironment(env, server.caFile);
    expect(await canLogIn(server, { username, password: PASSWORD })).toBe(true);
    const [clones] = await runAs(
      server,
      superuser(server),
      `SELECT 1 FROM pg_roles WHERE rolname = ${lit(`${username}_clone`)}`,
    );
    expect(clones).toHaveLength(0);
  });
});

describe('the handler each bundle exports', () => {
  it.each([...FUNCTIONS.keys()])(
    '%s: an async function of (event, context), the only shape nodejs24.x accepts',
    (name) => {
      const handler = loadBundle(name);
      expect(handler.constructor.name).toBe('AsyncFunction');
      expect(handler.length).toBeLessThanOrEqual(2);
    },
  );
});
