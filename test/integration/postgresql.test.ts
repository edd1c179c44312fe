import { join } from 'node:path';
import { escapeIdentifier as id, escapeLiteral as lit } from 'pg';
import { type PostgresServer, readEnvironment } from '../helpers/environment';
import { setHandlerEnvironment } from '../helpers/handler-env';
import {
  canLogIn,
  createMasterAndBase,
  failureCode,
  runAs,
  superuser,
  uniqueName,
} from '../helpers/postgres-client';
import { loadBundle, RotationService } from '../helpers/rotation-service';

const env = readEnvironment();
const service = new RotationService(
  env.secretsManagerEndpoint,
  join(env.runDir, 'captured-logs', `postgresql-${process.pid}.log`),
);
const singleUser = loadBundle('postgresql-single-user');
const alternatingUsers = loadBundle('postgresql-alternating-users');

const saved = { ...process.env };
const handlerEnv = (server: PostgresServer, extra: Record<string, string> = {}) =>
  setHandlerEnvironment(env, server.caFile, extra);

afterAll(() => {
  process.env = saved;
});

describe.each(env.postgres.map((s) => [s.name, s] as const))('%s', (_name, server) => {
  const admin = superuser(server);
  const secretFor = (username: string, password: string, extra: Record<string, unknown> = {}) => ({
    engine: 'postgres',
    host: server.host,
    port: server.port,
    username,
    password,
    dbname: 'postgres',
    ...extra,
  });

  beforeEach(() => handlerEnv(server));

  describe('single-user', () => {
    async function newUser(password = 'Initial-password-1') {
      const username = uniqueName('su');
      await runAs(server, admin, `CREATE ROLE ${id(username)} LOGIN PASSWORD ${lit(password)}`);
      const arn = await service.createSecret(uniqueName('secret'), secretFor(username, password));
      return { username, password, arn };
    }

    it('rotates: the new password logs in over verified TLS, the old one is refused, AWSPREVIOUS holds it', async () => {
      const user = await newUser();
      const token = await service.rotate(singleUser, user.arn);

      const current = await service.value(user.arn, 'AWSCURRENT');
      expect(current.password).not.toBe(user.password);
      expect(
        await canLogIn(server, { username: user.username, password: String(current.password) }),
      ).toBe(true);
      expect(await canLogIn(server, user)).toBe(false);
      expect((await service.value(user.arn, 'AWSPREVIOUS')).password).toBe(user.password);
      const labels = await service.labels(user.arn);
      expect(labels.AWSCURRENT).toBe(token);
      expect(labels.AWSPENDING).toBeUndefined();
      const [[row]] = (await runAs(
        server,
        admin,
        `SELECT rolpassword FROM pg_authid WHERE rolname = ${lit(user.username)}`,
      )) as [[{ rolpassword: string }]];
      expect(row.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
    });

    it('gives the same result when every step is invoked twice in a row', async () => {
      const user = await newUser();
      const token = await service.rotate(singleUser, user.arn, { twice: true });
      const current = await service.value(user.arn, 'AWSCURRENT');
      expect(
        await canLogIn(server, { username: user.username, password: String(current.password) }),
      ).toBe(true);
      expect(await service.labels(user.arn)).toEqual({
        AWSCURRENT: token,
        AWSPREVIOUS: expect.any(String),
      });
    });

    it('works with every printable character in the password and a hostile username', async () => {
      handlerEnv(server, { EXCLUDE_CHARACTERS: '', PASSWORD_LENGTH: '128' });
      const username = `we"ird 'us\\er; DROP ROLE x;--`;
      const start = `p'"\\$$1;--`;
      await runAs(
        server,
        admin,
        `DROP ROLE IF EXISTS ${id(username)}`,
        `CREATE ROLE ${id(username)} LOGIN PASSWORD ${lit(start)}`,
      );
      const arn = await service.createSecret(uniqueName('secret'), secretFor(username, start));
      for (let i = 0; i < 3; i++) {
        await service.rotate(singleUser, arn);
        const current = await service.value(arn, 'AWSCURRENT');
        expect(await canLogIn(server, { username, password: String(current.password) })).toBe(true);
      }
    });

    it('rotates in plain text when the secret says "ssl": false', async () => {
      const user = await newUser();
      const arn = await service.createSecret(
        uniqueName('secret'),
        secretFor(user.username, user.password, { ssl: false }),
      );
      await service.rotate(singleUser, arn);
      const current = await service.value(arn, 'AWSCURRENT');
      expect(
        await canLogIn(server, {
          username: user.username,
          password: String(current.password),
          tls: false,
        }),
      ).toBe(true);
    });

    it('refuses a server certificate it cannot verify, and changes nothing', async () => {
      const user = await newUser();
      handlerEnv(server);
      delete process.env.NODE_EXTRA_CA_CERTS; // the test CA is no longer trusted
      const token = await service.startRotation(user.arn);
      await service.invoke(singleUser, 'createSecret', user.arn, token);
      await expect(service.invoke(singleUser, 'setSecret', user.arn, token)).rejects.toMatchObject({
        name: 'DatabaseUnreachableError',
        message: expect.stringMatching(/certificate/i),
      });
      expect(await canLogIn(server, user)).toBe(true);

      // The AWS-compatible fallback is opt-in, and says so when it drops TLS.
      handlerEnv(server, { TLS_MODE: 'fallback' });
      delete process.env.NODE_EXTRA_CA_CERTS;
      await service.invoke(singleUser, 'setSecret', user.arn, token);
      await service.invoke(singleUser, 'testSecret', user.arn, token);
      await service.invoke(singleUser, 'finishSecret', user.arn, token);
      const current = await service.value(user.arn, 'AWSCURRENT');
      expect(
        await canLogIn(server, { username: user.username, password: String(current.password) }),
      ).toBe(true);
    });

    it('runs testSecret alone (RotateImmediately=false) without changing anything', async () => {
      const user = await newUser();
      await service.testOnly(singleUser, user.arn);
      expect(await canLogIn(server, user)).toBe(true);
      expect(Object.keys(await service.labels(user.arn))).toEqual(['AWSCURRENT']);
    });

    it('says the password was changed outside rotation when no version logs in', async () => {
      const user = await newUser();
      await runAs(server, admin, `ALTER ROLE ${id(user.username)} PASSWORD 'set-by-hand-123'`);
      const token = await service.startRotation(user.arn);
      await service.invoke(singleUser, 'createSecret', user.arn, token);
      await expect(service.invoke(singleUser, 'setSecret', user.arn, token)).rejects.toMatchObject({
        name: 'NoWorkingCredentialsError',
        message: expect.stringContaining('changed outside rotation'),
      });
      expect(await canLogIn(server, { username: user.username, password: 'set-by-hand-123' })).toBe(
        true,
      );
    });
  });

  describe('alternating-users', () => {
    /** A master with CREATEROLE but not superuser, and a base user it may manage. */
    async function setUp(options: { adminOption?: boolean } = {}) {
      const { master, base, major } = await createMasterAndBase(server, options);
      await runAs(
        server,
        admin,
        `CREATE TABLE ${id(`${base.username}_granted`)} (v int)`,
        `INSERT INTO ${id(`${base.username}_granted`)} VALUES (42)`,
        `GRANT SELECT ON ${id(`${base.username}_granted`)} TO ${id(base.username)}`,
        `CREATE TABLE ${id(`${base.username}_private`)} (v int)`,
        `GRANT CREATE ON SCHEMA public TO ${id(base.username)}`,
      );
      const masterArn = await service.createSecret(
        uniqueName('master'),
        secretFor(master.username, master.password),
      );
      const arn = await service.createSecret(
        uniqueName('secret'),
        secretFor(base.username, base.password, { masterarn: masterArn }),
      );
      return { master, base, arn, major };
    }

    const login = (value: Record<string, unknown>) => ({
      username: String(value.username),
      password: String(value.password),
    });

    it('flips user → clone → user; AWSPREVIOUS keeps logging in; the clone can do what the user can and no more', async () => {
      const { base, arn } = await setUp();
      const clone = `${base.username}_clone`;

      await service.rotate(alternatingUsers, arn, { twice: true });
      const first = await service.value(arn, 'AWSCURRENT');
      expect(first.username).toBe(clone);
      expect(await canLogIn(server, login(first))).toBe(true);
      expect(await canLogIn(server, login(await service.value(arn, 'AWSPREVIOUS')))).toBe(true);
      expect((await service.labels(arn)).AWSPENDING).toBeUndefined();

      // The clone acts as the base user: reads what it was granted, not what it was not.
      expect(
        await failureCode(server, login(first), `SELECT * FROM ${id(`${base.username}_granted`)}`),
      ).toBeUndefined();
      expect(
        await failureCode(server, login(first), `SELECT * FROM ${id(`${base.username}_private`)}`),
      ).toBe('42501');
      // What the clone creates belongs to the base user, so the base can use it after the flip.
      await runAs(
        server,
        login(first),
        `CREATE TABLE ${id(`${base.username}_made_by_clone`)} (v int)`,
      );
      // A grant made to the base user after the clone exists reaches the clone.
      await runAs(
        server,
        admin,
        `GRANT SELECT ON ${id(`${base.username}_private`)} TO ${id(base.username)}`,
      );
      expect(
        await failureCode(server, login(first), `SELECT * FROM ${id(`${base.username}_private`)}`),
      ).toBeUndefined();

      await service.rotate(alternatingUsers, arn);
      const second = await service.value(arn, 'AWSCURRENT');
      expect(second.username).toBe(base.username);
      expect(second.password).not.toBe(base.password);
      expect(await canLogIn(server, login(second))).toBe(true);
      expect(await canLogIn(server, { username: base.username, password: base.password })).toBe(
        false,
      );
      expect(await canLogIn(server, login(await service.value(arn, 'AWSPREVIOUS')))).toBe(true);
      expect(
        await failureCode(
          server,
          login(second),
          `SELECT * FROM ${id(`${base.username}_made_by_clone`)}`,
        ),
      ).toBeUndefined();

      await service.rotate(alternatingUsers, arn);
      const third = await service.value(arn, 'AWSCURRENT');
      expect(third.username).toBe(clone);
      expect(await canLogIn(server, login(third))).toBe(true);
      expect(await canLogIn(server, login(first))).toBe(false);
    });

    it('repairs the clone on every rotation, not only when it is created', async () => {
      const { base, arn } = await setUp();
      const clone = `${base.username}_clone`;
      await service.rotate(alternatingUsers, arn);
      // Drift: someone takes the clone out of the base role and drops its default role.
      await runAs(
        server,
        admin,
        `REVOKE ${id(base.username)} FROM ${id(clone)}`,
        `ALTER ROLE ${id(clone)} RESET role`,
      );
      await service.rotate(alternatingUsers, arn);
      await service.rotate(alternatingUsers, arn);
      const current = await service.value(arn, 'AWSCURRENT');
      expect(current.username).toBe(clone);
      expect(
        await failureCode(
          server,
          login(current),
          `SELECT * FROM ${id(`${base.username}_granted`)}`,
        ),
      ).toBeUndefined();
    });

    it('on PostgreSQL 16 and later, names the missing ADMIN OPTION and changes nothing', async () => {
      const { base, arn, major } = await setUp({ adminOption: false });
      const token = await service.startRotation(arn);
      await service.invoke(alternatingUsers, 'createSecret', arn, token);
      if (major < 16) {
        // Before 16, CREATEROLE alone lets the master manage the base user.
        await service.invoke(alternatingUsers, 'setSecret', arn, token);
        return;
      }
      await expect(service.invoke(alternatingUsers, 'setSecret', arn, token)).rejects.toMatchObject(
        {
          name: 'DatabaseStatementError',
          message: expect.stringContaining('ADMIN OPTION'),
        },
      );
      const [rows] = await runAs(
        server,
        admin,
        `SELECT 1 FROM pg_roles WHERE rolname = ${lit(`${base.username}_clone`)}`,
      );
      expect(rows).toHaveLength(0);
    });

    it('refuses a master secret for another host before sending it the master password', async () => {
      const { base, arn } = await setUp();
      const current = await service.value(arn, 'AWSCURRENT');
      const masterArn = await service.createSecret(uniqueName('master'), {
        ...secretFor('someone', 'Other-password-1'),
        host: 'other-host.invalid',
      });
      const moved = await service.createSecret(uniqueName('secret'), {
        ...current,
        masterarn: masterArn,
      });
      const token = await service.startRotation(moved);
      await service.invoke(alternatingUsers, 'createSecret', moved, token);
      await expect(
        service.invoke(alternatingUsers, 'setSecret', moved, token),
      ).rejects.toMatchObject({
        name: 'MasterSecretError',
        message: expect.stringContaining('same server'),
      });
      const [rows] = await runAs(
        server,
        admin,
        `SELECT 1 FROM pg_roles WHERE rolname = ${lit(`${base.username}_clone`)}`,
      );
      expect(rows).toHaveLength(0);
    });

    it('runs testSecret alone (RotateImmediately=false)', async () => {
      const { base, arn } = await setUp();
      await service.testOnly(alternatingUsers, arn);
      expect(await canLogIn(server, base)).toBe(true);
    });
  });
});
