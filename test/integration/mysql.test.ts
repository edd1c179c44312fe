import { join } from 'node:path';
import { type MysqlServer, readEnvironment } from '../helpers/environment';
import { setHandlerEnvironment } from '../helpers/handler-env';
import {
  connectMysql,
  ident,
  lit,
  type MysqlLogin,
  mysqlCanLogIn,
  mysqlClientHost,
  mysqlFailure,
  mysqlOutcomes,
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
const ER_COLUMN_ACCESS_DENIED = 1143;
/** Also what a function call answers when EXECUTE is missing. */
const ER_PROCEDURE_ACCESS_DENIED = 1370;

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

    it("rotates a user defined at the client's own host (e.g. 'localhost'), not '%'", async () => {
      const user = await newUser({ host: await mysqlClientHost(server) });
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

    it('never locks an account that locks after one failed login, with every step run twice', async () => {
      const user = await newUser();
      // MySQL counts per account; MariaDB only has the server-wide max_password_errors, so it is
      // set for the length of this test (the integration files run one at a time).
      const lockAfterOne =
        server.flavor === 'mysql'
          ? [`ALTER USER ${lit(user.username)}@'%' FAILED_LOGIN_ATTEMPTS 1 PASSWORD_LOCK_TIME 1`]
          : ['SET GLOBAL max_password_errors = 1'];
      await mysqlRun(server, root, ...lockAfterOne);
      try {
        await service.rotate(singleUser, user.arn, { twice: true });
        await service.rotate(singleUser, user.arn, { twice: true });
        const current = login(await service.value(user.arn, 'AWSCURRENT'));
        // A login with the right password succeeds only if no rotation step failed one first.
        expect(await mysqlCanLogIn(server, current)).toBe(true);
        expect(Object.values(await service.stages(user.arn)).flat()).not.toContain(
          'ROTATION_PASSWORD_SET',
        );
      } finally {
        if (server.flavor === 'mariadb') {
          await mysqlRun(
            server,
            root,
            'SET GLOBAL max_password_errors = DEFAULT',
            'FLUSH PRIVILEGES',
          );
        }
      }
    });

    it('stops at a locked account after one login, naming the statement that unlocks it', async () => {
      const user = await newUser();
      await mysqlRun(server, root, `ALTER USER ${lit(user.username)}@'%' ACCOUNT LOCK`);
      const token = await service.startRotation(user.arn);
      await service.invoke(singleUser, 'createSecret', user.arn, token);
      await expect(service.invoke(singleUser, 'setSecret', user.arn, token)).rejects.toMatchObject({
        name: 'AccountLockedError',
        message: expect.stringContaining('ACCOUNT UNLOCK'),
      });
      await mysqlRun(server, root, `ALTER USER ${lit(user.username)}@'%' ACCOUNT UNLOCK`);
      expect(await mysqlCanLogIn(server, user)).toBe(true); // nothing changed
      for (const step of ['setSecret', 'testSecret', 'finishSecret']) {
        await service.invoke(singleUser, step, user.arn, token);
      }
      expect(await mysqlCanLogIn(server, login(await service.value(user.arn, 'AWSCURRENT')))).toBe(
        true,
      );
    });

    it('fails a step stuck behind a lock within DB_STATEMENT_TIMEOUT_SECONDS, changing nothing', async () => {
      const user = await newUser();
      const token = await service.startRotation(user.arn);
      await service.invoke(singleUser, 'createSecret', user.arn, token);
      const blocker = await connectMysql(server, root);
      try {
        await blocker.query('FLUSH TABLES WITH READ LOCK');
        setHandlerEnvironment(env, server.caFile, { DB_STATEMENT_TIMEOUT_SECONDS: '1' });
        await expect(
          service.invoke(singleUser, 'setSecret', user.arn, token),
        ).rejects.toMatchObject({
          name: 'DatabaseStatementError',
          // The statement it names is the one that waited: MariaDB users change their own
          // password with SET PASSWORD.
          message: expect.stringMatching(
            new RegExp(
              `gave up ${server.flavor === 'mysql' ? 'ALTER USER' : 'SET PASSWORD'} as user "[^"]+" after 1 s`,
            ),
          ),
        });
      } finally {
        await blocker.end();
      }
      expect(await mysqlCanLogIn(server, user)).toBe(true);
      for (const step of ['setSecret', 'testSecret', 'finishSecret']) {
        await service.invoke(singleUser, step, user.arn, token);
      }
      expect(await mysqlCanLogIn(server, login(await service.value(user.arn, 'AWSCURRENT')))).toBe(
        true,
      );
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

    it('gives the clone exactly the column and routine privileges of the base user', async () => {
      const { base, host, arn, table } = await setUp();
      const account = `${lit(base.username)}@${lit(host)}`;
      const routine = (name: string) => `${ident(db)}.${ident(`${base.username}_${name}`)}`;
      await mysqlRun(
        server,
        root,
        `CREATE TABLE ${table('columns')} (shown int, hidden int, edited int)`,
        `CREATE PROCEDURE ${routine('allowed')}() SELECT 1`,
        `CREATE PROCEDURE ${routine('denied')}() SELECT 1`,
        `CREATE FUNCTION ${routine('answer')}() RETURNS int DETERMINISTIC RETURN 42`,
        `GRANT SELECT (shown, edited), UPDATE (edited) ON ${table('columns')} TO ${account}`,
        `GRANT EXECUTE ON PROCEDURE ${routine('allowed')} TO ${account}`,
        `GRANT EXECUTE ON FUNCTION ${routine('answer')} TO ${account}`,
      );
      await service.rotate(alternatingUsers, arn);
      const clone = await service.value(arn, 'AWSCURRENT');
      expect(clone.username).toBe(`${base.username}_clone`);
      const probes = {
        [`SELECT shown, edited FROM ${table('columns')}`]: undefined,
        [`UPDATE ${table('columns')} SET edited = 1`]: undefined,
        [`CALL ${routine('allowed')}()`]: undefined,
        [`SELECT ${routine('answer')}()`]: undefined,
        [`SELECT hidden FROM ${table('columns')}`]: ER_COLUMN_ACCESS_DENIED,
        [`UPDATE ${table('columns')} SET shown = 1`]: ER_COLUMN_ACCESS_DENIED,
        [`CALL ${routine('denied')}()`]: ER_PROCEDURE_ACCESS_DENIED,
      };
      // Both users, as the application would meet them: each probe answers the same for the clone
      // as for the base user, and as the grants say it should.
      for (const user of [base, login(clone)]) {
        expect(await mysqlOutcomes(server, user, probes)).toEqual(probes);
      }
    });

    it("creates the clone at the base user's host (the client's own, e.g. 'localhost'; not '%')", async () => {
      const host = await mysqlClientHost(server);
      const { base, arn } = await setUp({ host });
      await service.rotate(alternatingUsers, arn);
      const [rows] = (await mysqlRun(
        server,
        root,
        `SELECT Host AS host FROM mysql.user WHERE User = ${lit(`${base.username}_clone`)}`,
      )) as [Record<string, unknown>[]];
      expect(rows.map((r) => String(r.host))).toEqual([host]);
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

/** MySQL's own servers (8.0 and later), where the checks below have no MariaDB counterpart. */
const mysqlServers = env.mysql.filter((server) => server.flavor === 'mysql');

describe('MySQL servers', () => {
  it('the environment has at least one MySQL server (these suites never skip)', () => {
    expect(mysqlServers.map((server) => server.name)).not.toEqual([]);
  });
});

describe.each(mysqlServers.map((server) => [server.name, server] as const))(
  'MySQL specifics on %s',
  (_name, server: MysqlServer) => {
    const root = mysqlRoot(server);
    const singleUser = loadBundle('mysql-single-user');
    const alternatingUsers = loadBundle('mysql-alternating-users');
    const db = `rot_mysql_specifics_${server.port}`;
    const secretFor = (
      username: string,
      password: string,
      extra: Record<string, unknown> = {},
    ) => ({
      engine: 'mysql',
      host: server.host,
      port: server.port,
      username,
      password,
      ...extra,
    });
    const login = (value: Record<string, unknown>, tls?: boolean): MysqlLogin => ({
      username: String(value.username),
      password: String(value.password),
      tls,
    });
    /** What the server reports for an account, with the account's own name taken out. */
    async function serverView(user: string, host: string) {
      const where = (userColumn: string, hostColumn: string) =>
        `WHERE ${userColumn} = ${lit(user)} AND ${hostColumn} = ${lit(host)}`;
      const [plugin, dynamic, roles, defaults] = (await mysqlRun(
        server,
        root,
        `SELECT plugin FROM mysql.user ${where('User', 'Host')}`,
        `SELECT PRIV, WITH_GRANT_OPTION FROM mysql.global_grants ${where('USER', 'HOST')} ORDER BY PRIV`,
        `SELECT FROM_USER, FROM_HOST, WITH_ADMIN_OPTION FROM mysql.role_edges ${where('TO_USER', 'TO_HOST')} ORDER BY FROM_USER, FROM_HOST`,
        `SELECT DEFAULT_ROLE_USER, DEFAULT_ROLE_HOST FROM mysql.default_roles ${where('USER', 'HOST')} ORDER BY DEFAULT_ROLE_USER, DEFAULT_ROLE_HOST`,
      )) as Record<string, unknown>[][];
      return { plugin, dynamic, roles, defaults };
    }

    beforeAll(async () => {
      await mysqlRun(server, root, `CREATE DATABASE IF NOT EXISTS ${ident(db)}`);
    });
    beforeEach(() => setHandlerEnvironment(env, server.caFile));

    it('single user with caching_sha2_password and no privilege at all: rotates over TLS, and over plain text (RSA key exchange), with ALTER USER CURRENT_USER()', async () => {
      const username = uniqueName('sha2');
      const password = 'Initial-password-1';
      await mysqlRun(
        server,
        root,
        `CREATE USER ${lit(username)}@'%' IDENTIFIED WITH caching_sha2_password BY ${lit(password)}`,
      );
      // TLS (the default), then plain text where the server allows it. Each rotation's logins
      // are the user's first with that password, so caching_sha2_password runs its full
      // authentication: over plain text, mysql2 fetches the server's RSA key and encrypts with it.
      const modes = server.requireSecureTransport ? [true] : [true, false];
      let current = { username, password };
      for (const tls of modes) {
        const arn = await service.createSecret(
          uniqueName('secret'),
          secretFor(current.username, current.password, tls ? {} : { ssl: false }),
        );
        await service.rotate(singleUser, arn);
        const rotated = await service.value(arn, 'AWSCURRENT');
        expect(await mysqlCanLogIn(server, login(rotated, tls))).toBe(true);
        expect(await mysqlCanLogIn(server, { ...current, tls })).toBe(false);
        current = { username, password: String(rotated.password) };
      }
      const [[account]] = (await mysqlRun(
        server,
        root,
        `SELECT plugin FROM mysql.user WHERE User = ${lit(username)}`,
      )) as [Record<string, unknown>[]];
      expect(account?.plugin).toBe('caching_sha2_password');
    });

    it('alternating users: the clone gets dynamic privileges, roles with host parts and every default role, as the server reports them and as probes show', async () => {
      const master = { username: uniqueName('rotator'), password: 'Master-password-1' };
      const base = { username: uniqueName('app'), password: 'Base-password-1' };
      const table = (suffix: string) => `${ident(db)}.${ident(`${base.username}_${suffix}`)}`;
      const role = (name: string, host: string) =>
        `${lit(`${base.username}_${name}`)}@${lit(host)}`;
      const account = `${lit(base.username)}@'%'`;
      await mysqlRun(
        server,
        root,
        // ALL on *.* includes every dynamic privilege, ROLE_ADMIN among them.
        `CREATE USER ${lit(master.username)}@'%' IDENTIFIED BY ${lit(master.password)}`,
        `GRANT ALL PRIVILEGES ON *.* TO ${lit(master.username)}@'%' WITH GRANT OPTION`,
        `CREATE USER ${account} IDENTIFIED WITH caching_sha2_password BY ${lit(base.password)}`,
        `CREATE TABLE ${table('read')} (v int)`,
        `CREATE TABLE ${table('write')} (v int)`,
        `CREATE ROLE ${role('reader', 'apps.example')}, ${role('writer', '%')}, ${role('cleaner', '10.0.%')}`,
        `GRANT SELECT ON ${table('read')} TO ${role('reader', 'apps.example')}`,
        `GRANT INSERT ON ${table('write')} TO ${role('writer', '%')}`,
        `GRANT DELETE ON ${table('read')} TO ${role('cleaner', '10.0.%')}`,
        `GRANT ${role('reader', 'apps.example')}, ${role('writer', '%')}, ${role('cleaner', '10.0.%')} TO ${account}`,
        // Two default roles; the third is granted but must be activated with SET ROLE.
        `SET DEFAULT ROLE ${role('reader', 'apps.example')}, ${role('writer', '%')} TO ${account}`,
        `GRANT SESSION_VARIABLES_ADMIN ON *.* TO ${account}`,
      );
      const masterArn = await service.createSecret(
        uniqueName('master'),
        secretFor(master.username, master.password),
      );
      const arn = await service.createSecret(
        uniqueName('secret'),
        secretFor(base.username, base.password, { masterarn: masterArn }),
      );
      await service.rotate(alternatingUsers, arn);
      const clone = await service.value(arn, 'AWSCURRENT');
      expect(clone.username).toBe(`${base.username}_clone`);

      const baseView = await serverView(base.username, '%');
      expect(baseView.dynamic).toEqual([
        { PRIV: 'SESSION_VARIABLES_ADMIN', WITH_GRANT_OPTION: 'N' },
      ]);
      expect(baseView.roles).toHaveLength(3);
      expect(baseView.defaults).toHaveLength(2);
      expect(await serverView(String(clone.username), '%')).toEqual(baseView);

      const probes = {
        // SESSION_VARIABLES_ADMIN (error 1227 without it)
        'SET SESSION sql_log_bin = 0': undefined,
        [`SELECT v FROM ${table('read')}`]: undefined,
        [`INSERT INTO ${table('write')} VALUES (1)`]: undefined,
        // The cleaner role is not a default role.
        [`DELETE FROM ${table('read')}`]: ER_ACCESS_DENIED_TABLE,
      };
      for (const user of [base, login(clone)]) {
        expect(await mysqlOutcomes(server, user, probes)).toEqual(probes);
      }
      // Both activate the third role the same way.
      for (const user of [base, login(clone)]) {
        const [, , rows] = (await mysqlRun(
          server,
          user,
          `SET ROLE ${role('cleaner', '10.0.%')}`,
          `DELETE FROM ${table('read')}`,
          'SELECT CURRENT_ROLE() AS roles',
        )) as Record<string, unknown>[][];
        expect(String(rows?.[0]?.roles)).toContain('_cleaner');
      }
    });

    describe('single user with dual passwords (RETAIN_CURRENT_PASSWORD=true)', () => {
      beforeEach(() =>
        setHandlerEnvironment(env, server.caFile, { RETAIN_CURRENT_PASSWORD: 'true' }),
      );

      async function dualUser(privilege = 'APPLICATION_PASSWORD_ADMIN') {
        const username = uniqueName('dual');
        const password = 'Initial-password-1';
        await mysqlRun(
          server,
          root,
          `CREATE USER ${lit(username)}@'%' IDENTIFIED BY ${lit(password)} FAILED_LOGIN_ATTEMPTS 1 PASSWORD_LOCK_TIME 1`,
          ...(privilege ? [`GRANT ${privilege} ON *.* TO ${lit(username)}@'%'`] : []),
        );
        const arn = await service.createSecret(uniqueName('secret'), secretFor(username, password));
        return { username, password, arn };
      }

      it('keeps AWSPREVIOUS logging in after each rotation, with every step run twice, and never locks the account', async () => {
        const user = await dualUser();
        await service.rotate(singleUser, user.arn, { twice: true });
        const first = await service.value(user.arn, 'AWSCURRENT');
        expect(await mysqlCanLogIn(server, login(first))).toBe(true);
        expect(await mysqlCanLogIn(server, user)).toBe(true); // AWSPREVIOUS, now secondary

        await service.rotate(singleUser, user.arn, { twice: true });
        expect(
          await mysqlCanLogIn(server, login(await service.value(user.arn, 'AWSCURRENT'))),
        ).toBe(true);
        expect(
          await mysqlCanLogIn(server, login(await service.value(user.arn, 'AWSPREVIOUS'))),
        ).toBe(true);
        // The password two rotations back is gone: MySQL keeps two. Its failed login would lock
        // the account (FAILED_LOGIN_ATTEMPTS 1), so it is tried last.
        const locked = await mysqlFailure(server, user, 'SELECT 1');
        expect([1045, 3955]).toContain(locked);
      });

      it('a retried setSecret that finds no record never makes the pending password the secondary one, nor drops AWSCURRENT', async () => {
        const user = await dualUser();
        const token = await service.startRotation(user.arn);
        await service.invoke(singleUser, 'createSecret', user.arn, token);
        await service.invoke(singleUser, 'setSecret', user.arn, token);
        // As if the first setSecret had died before recording its work.
        await service.removeStage(user.arn, 'ROTATION_PASSWORD_SET', token);
        await service.invoke(singleUser, 'setSecret', user.arn, token);
        await service.invoke(singleUser, 'setSecret', user.arn, token);
        const pending = login(await service.value(user.arn, 'AWSPENDING'));
        expect(await mysqlCanLogIn(server, user)).toBe(true); // AWSCURRENT, the secondary
        expect(await mysqlCanLogIn(server, pending)).toBe(true); // the primary
        for (const step of ['testSecret', 'finishSecret']) {
          await service.invoke(singleUser, step, user.arn, token);
        }
        expect(
          await mysqlCanLogIn(server, login(await service.value(user.arn, 'AWSPREVIOUS'))),
        ).toBe(true);
      });

      it('without APPLICATION_PASSWORD_ADMIN, setSecret fails naming the GRANT, and changes nothing', async () => {
        const user = await dualUser('');
        const token = await service.startRotation(user.arn);
        await service.invoke(singleUser, 'createSecret', user.arn, token);
        await expect(
          service.invoke(singleUser, 'setSecret', user.arn, token),
        ).rejects.toMatchObject({
          message: expect.stringContaining('GRANT APPLICATION_PASSWORD_ADMIN ON *.*'),
        });
        expect(await mysqlCanLogIn(server, user)).toBe(true);
      });
    });

    it('single user with PASSWORD REQUIRE CURRENT: the change names the password it replaces', async () => {
      const username = uniqueName('reqcur');
      const password = 'Initial-password-1';
      await mysqlRun(
        server,
        root,
        `CREATE USER ${lit(username)}@'%' IDENTIFIED BY ${lit(password)} PASSWORD REQUIRE CURRENT`,
      );
      const arn = await service.createSecret(uniqueName('secret'), secretFor(username, password));
      await service.rotate(singleUser, arn, { twice: true });
      expect(await mysqlCanLogIn(server, login(await service.value(arn, 'AWSCURRENT')))).toBe(true);
      expect(await mysqlCanLogIn(server, { username, password })).toBe(false);
    });
  },
);
