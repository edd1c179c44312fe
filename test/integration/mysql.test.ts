import { join } from 'node:path';
import { type MysqlServer, readEnvironment } from '../helpers/environment';
import { setHandlerEnvironment } from '../helpers/handler-env';
import {
  ident,
  lit,
  type MysqlLogin,
  mysqlCanLogIn,
  mysqlFailure,
  mysqlRoot,
  mysqlRun,
} from '../helpers/mysql-client';
import { uniqueName } from '../helpers/postgres-client';
import { loadBundle, RotationService } from '../helpers/rotation-service';

const env = readEnvironment();
const service = new RotationService(
  env.secretsManagerEndpoint,
  join(env.runDir, 'captured-logs', `mysql-${process.pid}.log`),
);
const saved = { ...process.env };
afterAll(() => {
  process.env = saved;
});

/** The functions each server can serve: MariaDB speaks for both families, MySQL only for mysql-*. */
const cases = env.mysql.flatMap((server) =>
  (server.flavor === 'mariadb' ? ['mysql', 'mariadb'] : ['mysql']).map(
    (family) => [`${family}-* on ${server.name}`, family, server] as const,
  ),
);

const ER_ACCESS_DENIED_TABLE = 1142;

describe.each(cases)('%s', (_name, family, server: MysqlServer) => {
  const root = mysqlRoot(server);
  const singleUser = loadBundle(`${family}-single-user`);
  const alternatingUsers = loadBundle(`${family}-alternating-users`);
  const secretFor = (username: string, password: string, extra: Record<string, unknown> = {}) => ({
    engine: family,
    host: server.host,
    port: server.port,
    username,
    password,
    ...extra,
  });
  const login = (value: Record<string, unknown>): MysqlLogin => ({
    username: String(value.username),
    password: String(value.password),
  });
  const db = `rot_${family}_${server.port}`;

  beforeAll(async () => {
    await mysqlRun(server, root, `CREATE DATABASE IF NOT EXISTS ${ident(db)}`);
  });
  beforeEach(() => setHandlerEnvironment(env, server.caFile));

  async function newUser(options: { username?: string; host?: string; password?: string } = {}) {
    const username = options.username ?? uniqueName('su');
    const host = options.host ?? '%';
    const password = options.password ?? 'Initial-password-1';
    await mysqlRun(
      server,
      root,
      `CREATE USER ${lit(username)}@${lit(host)} IDENTIFIED BY ${lit(password)}`,
    );
    const arn = await service.createSecret(uniqueName('secret'), secretFor(username, password));
    return { username, password, host, arn };
  }

  describe('single-user', () => {
    it('rotates: the new password logs in over TLS, the old one is refused, AWSPREVIOUS holds it', async () => {
      const user = await newUser();
      const token = await service.rotate(singleUser, user.arn, { twice: true });
      const current = await service.value(user.arn, 'AWSCURRENT');
      expect(await mysqlCanLogIn(server, login(current))).toBe(true);
      expect(await mysqlCanLogIn(server, user)).toBe(false);
      expect((await service.value(user.arn, 'AWSPREVIOUS')).password).toBe(user.password);
      expect(await service.labels(user.arn)).toEqual({
        AWSCURRENT: token,
        AWSPREVIOUS: expect.any(String),
      });
    });

    it('rotates a hostile username with every printable character in the password', async () => {
      setHandlerEnvironment(env, server.caFile, { EXCLUDE_CHARACTERS: '', PASSWORD_LENGTH: '64' });
      const user = await newUser({
        username: `o'b\`r\\i%e_n"${Math.random().toString(36).slice(2, 6)}`,
      });
      for (let i = 0; i < 2; i++) {
        await service.rotate(singleUser, user.arn);
        expect(
          await mysqlCanLogIn(server, login(await service.value(user.arn, 'AWSCURRENT'))),
        ).toBe(true);
      }
    });

    it("rotates a user defined at host 'localhost'", async () => {
      const user = await newUser({ host: 'localhost' });
      await service.rotate(singleUser, user.arn);
      expect(await mysqlCanLogIn(server, login(await service.value(user.arn, 'AWSCURRENT')))).toBe(
        true,
      );
      expect(await mysqlCanLogIn(server, user)).toBe(false);
    });

    it('never falls back to plain text: "ssl": false on a server that requires TLS fails and says why', async () => {
      const user = await newUser();
      const arn = await service.createSecret(
        uniqueName('secret'),
        secretFor(user.username, user.password, { ssl: false }),
      );
      if (!server.requireSecureTransport) {
        await service.rotate(singleUser, arn);
        expect(
          await mysqlCanLogIn(server, {
            ...login(await service.value(arn, 'AWSCURRENT')),
            tls: false,
          }),
        ).toBe(true);
        return;
      }
      const token = await service.startRotation(arn);
      await service.invoke(singleUser, 'createSecret', arn, token);
      // MySQL says the server requires TLS; MariaDB answers "access denied", so the error says
      // the logins were in plain text. Either way nothing changes.
      await expect(service.invoke(singleUser, 'setSecret', arn, token)).rejects.toMatchObject({
        message: expect.stringMatching(server.flavor === 'mysql' ? /requires TLS/ : /without TLS/),
      });
      expect(await mysqlCanLogIn(server, user)).toBe(true);
    });

    it('runs testSecret alone (RotateImmediately=false) without changing anything', async () => {
      const user = await newUser();
      await service.testOnly(singleUser, user.arn);
      expect(await mysqlCanLogIn(server, user)).toBe(true);
    });
  });

  describe('alternating-users', () => {
    async function setUp(options: { host?: string } = {}) {
      const host = options.host ?? '%';
      const master = { username: uniqueName('rotator'), password: 'Master-password-1' };
      const base = { username: uniqueName('app'), password: 'Base-password-1' };
      const table = (suffix: string) => `${ident(db)}.${ident(`${base.username}_${suffix}`)}`;
      await mysqlRun(
        server,
        root,
        `CREATE USER ${lit(master.username)}@'%' IDENTIFIED BY ${lit(master.password)}`,
        `GRANT ALL PRIVILEGES ON *.* TO ${lit(master.username)}@'%' WITH GRANT OPTION`,
        `CREATE USER ${lit(base.username)}@${lit(host)} IDENTIFIED BY ${lit(base.password)}`,
        `CREATE TABLE ${table('granted')} (v int)`,
        `CREATE TABLE ${table('private')} (v int)`,
        `CREATE TABLE ${table('later')} (v int)`,
        `GRANT SELECT ON ${table('granted')} TO ${lit(base.username)}@${lit(host)}`,
      );
      const masterArn = await service.createSecret(
        uniqueName('master'),
        secretFor(master.username, master.password),
      );
      const arn = await service.createSecret(
        uniqueName('secret'),
        secretFor(base.username, base.password, { masterarn: masterArn }),
      );
      return { base, host, arn, table, masterName: master.username };
    }

    it('flips user → clone → user; AWSPREVIOUS keeps logging in; the clone gets exactly the grants', async () => {
      const { base, host, arn, table } = await setUp();
      const clone = `${base.username}_clone`;
      await service.rotate(alternatingUsers, arn, { twice: true });
      const first = await service.value(arn, 'AWSCURRENT');
      expect(first.username).toBe(clone);
      expect(await mysqlCanLogIn(server, login(first))).toBe(true);
      expect(await mysqlCanLogIn(server, login(await service.value(arn, 'AWSPREVIOUS')))).toBe(
        true,
      );
      expect(
        await mysqlFailure(server, login(first), `SELECT * FROM ${table('granted')}`),
      ).toBeUndefined();
      expect(await mysqlFailure(server, login(first), `SELECT * FROM ${table('private')}`)).toBe(
        ER_ACCESS_DENIED_TABLE,
      );

      // Between rotations the base user gains a grant, a WITH GRANT OPTION, and loses nothing.
      await mysqlRun(
        server,
        root,
        `GRANT SELECT ON ${table('later')} TO ${lit(base.username)}@${lit(host)}`,
        `GRANT INSERT ON ${table('granted')} TO ${lit(base.username)}@${lit(host)} WITH GRANT OPTION`,
      );
      await service.rotate(alternatingUsers, arn);
      const second = await service.value(arn, 'AWSCURRENT');
      expect(second.username).toBe(base.username);
      expect(await mysqlCanLogIn(server, login(second))).toBe(true);
      expect(
        await mysqlCanLogIn(server, { username: base.username, password: base.password }),
      ).toBe(false);
      expect(await mysqlCanLogIn(server, login(await service.value(arn, 'AWSPREVIOUS')))).toBe(
        true,
      );
      // The clone (now AWSPREVIOUS) was brought level in that same rotation.
      expect(
        await mysqlFailure(server, login(first), `SELECT * FROM ${table('later')}`),
      ).toBeUndefined();
      const [grants] = (await mysqlRun(
        server,
        root,
        `SHOW GRANTS FOR ${lit(clone)}@${lit(host)}`,
      )) as [Record<string, string>[]];
      const lines = grants.map((row) => Object.values(row)[0]);
      expect(lines.find((l) => l?.includes('INSERT') && l.includes('_granted'))).toMatch(
        /WITH GRANT OPTION/,
      );

      await service.rotate(alternatingUsers, arn);
      const third = await service.value(arn, 'AWSCURRENT');
      expect(third.username).toBe(clone);
      expect(await mysqlCanLogIn(server, login(third))).toBe(true);
      expect(await mysqlCanLogIn(server, login(first))).toBe(false);
    });

    it('revokes what the clone holds beyond the base user, and copies REQUIRE SSL', async () => {
      const { base, host, arn, table } = await setUp();
      const clone = `${base.username}_clone`;
      await service.rotate(alternatingUsers, arn);
      await mysqlRun(
        server,
        root,
        `GRANT SELECT ON ${table('private')} TO ${lit(clone)}@${lit(host)}`,
        `ALTER USER ${lit(base.username)}@${lit(host)} REQUIRE SSL`,
      );
      await service.rotate(alternatingUsers, arn);
      const current = await service.value(arn, 'AWSPREVIOUS');
      expect(current.username).toBe(clone);
      expect(await mysqlFailure(server, login(current), `SELECT * FROM ${table('private')}`)).toBe(
        ER_ACCESS_DENIED_TABLE,
      );
      const [rows] = (await mysqlRun(
        server,
        root,
        `SELECT ssl_type FROM mysql.user WHERE User = ${lit(clone)} AND Host = ${lit(host)}`,
      )) as [Record<string, unknown>[]];
      expect(String(rows[0]?.ssl_type)).toBe('ANY');
    });

    it("gives the clone the base user's roles and default role", async () => {
      const { base, host, arn, table, masterName } = await setUp();
      const role = uniqueName('reader');
      await mysqlRun(
        server,
        root,
        `CREATE ROLE ${ident(role)}`,
        `GRANT SELECT ON ${table('private')} TO ${ident(role)}`,
        `GRANT ${ident(role)} TO ${lit(base.username)}@${lit(host)}`,
        // To give the role to the clone, the master needs ADMIN OPTION on it.
        `GRANT ${ident(role)} TO ${lit(`${masterName}`)}@'%' WITH ADMIN OPTION`,
        server.flavor === 'mariadb'
          ? `SET DEFAULT ROLE ${ident(role)} FOR ${lit(base.username)}@${lit(host)}`
          : `SET DEFAULT ROLE ${ident(role)} TO ${lit(base.username)}@${lit(host)}`,
      );
      await service.rotate(alternatingUsers, arn);
      const current = await service.value(arn, 'AWSCURRENT');
      // Readable without SET ROLE: the default role came along.
      expect(
        await mysqlFailure(server, login(current), `SELECT * FROM ${table('private')}`),
      ).toBeUndefined();
    });

    it("creates the clone at the base user's host ('localhost', not '%')", async () => {
      const { base, arn } = await setUp({ host: 'localhost' });
      await service.rotate(alternatingUsers, arn);
      const [rows] = (await mysqlRun(
        server,
        root,
        `SELECT Host AS host FROM mysql.user WHERE User = ${lit(`${base.username}_clone`)}`,
      )) as [Record<string, unknown>[]];
      expect(rows.map((r) => String(r.host))).toEqual(['localhost']);
      expect(await mysqlCanLogIn(server, login(await service.value(arn, 'AWSCURRENT')))).toBe(true);
    });

    it('finishes the clone on retry after setSecret failed half-way (MySQL cannot roll back DDL)', async () => {
      const master = { username: uniqueName('weak'), password: 'Weak-master-1' };
      const base = { username: uniqueName('app'), password: 'Base-password-1' };
      const table = `${ident(db)}.${ident(`${base.username}_t`)}`;
      // The master may create users but not yet pass on SELECT on the table.
      await mysqlRun(
        server,
        root,
        `CREATE USER ${lit(master.username)}@'%' IDENTIFIED BY ${lit(master.password)}`,
        `GRANT CREATE USER ON *.* TO ${lit(master.username)}@'%'`,
        `GRANT SELECT ON mysql.* TO ${lit(master.username)}@'%'`,
        `CREATE USER ${lit(base.username)}@'%' IDENTIFIED BY ${lit(base.password)}`,
        `CREATE TABLE ${table} (v int)`,
        `GRANT SELECT ON ${table} TO ${lit(base.username)}@'%'`,
      );
      const masterArn = await service.createSecret(
        uniqueName('master'),
        secretFor(master.username, master.password),
      );
      const arn = await service.createSecret(
        uniqueName('secret'),
        secretFor(base.username, base.password, { masterarn: masterArn }),
      );
      const token = await service.startRotation(arn);
      await service.invoke(alternatingUsers, 'createSecret', arn, token);
      await expect(service.invoke(alternatingUsers, 'setSecret', arn, token)).rejects.toMatchObject(
        {
          name: 'DatabaseStatementError',
          message: expect.stringContaining('WITH GRANT OPTION'),
        },
      );
      const pending = await service.value(arn, 'AWSPENDING');
      // The half-made clone does not take the pending password, so a retry cannot mistake it for done.
      expect(await mysqlCanLogIn(server, login(pending))).toBe(false);

      await mysqlRun(
        server,
        root,
        `GRANT SELECT ON ${table} TO ${lit(master.username)}@'%' WITH GRANT OPTION`,
      );
      for (const step of ['setSecret', 'testSecret', 'finishSecret'])
        await service.invoke(alternatingUsers, step, arn, token);
      const current = await service.value(arn, 'AWSCURRENT');
      expect(current.username).toBe(`${base.username}_clone`);
      expect(await mysqlFailure(server, login(current), `SELECT * FROM ${table}`)).toBeUndefined();
      expect(await mysqlCanLogIn(server, base)).toBe(true);
    });

    it('refuses, before writing anything, a username whose clone would not fit', async () => {
      const limit = family === 'mysql' ? 32 : 80;
      const username = `u${'x'.repeat(limit - 6)}`; // one character too many once _clone is added
      await mysqlRun(
        server,
        root,
        `CREATE USER ${lit(username)}@'%' IDENTIFIED BY 'Long-name-pass-1'`,
      );
      const arn = await service.createSecret(
        uniqueName('secret'),
        secretFor(username, 'Long-name-pass-1', {
          masterarn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:m',
        }),
      );
      const token = await service.startRotation(arn);
      await expect(
        service.invoke(alternatingUsers, 'createSecret', arn, token),
      ).rejects.toMatchObject({
        name: 'UsernameTooLongError',
        message: expect.stringContaining(`${limit}-character limit`),
      });
      expect((await service.stages(arn))[token]).toEqual(['AWSPENDING']);
      await expect(service.value(arn, 'AWSPENDING')).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
      });
    });

    it('runs testSecret alone (RotateImmediately=false)', async () => {
      const { base, arn } = await setUp();
      await service.testOnly(alternatingUsers, arn);
      expect(await mysqlCanLogIn(server, base)).toBe(true);
    });
  });
});
