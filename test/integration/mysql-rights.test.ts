import type { MysqlServer } from '../helpers/environment';
import { setHandlerEnvironment } from '../helpers/handler-env';
import {
  ident,
  lit,
  type MysqlLogin,
  mysqlCanLogIn,
  mysqlFailure,
  mysqlOutcomes,
  mysqlRoot,
  mysqlRun,
} from '../helpers/mysql-client';
import { uniqueName } from '../helpers/postgres-client';
import { loadBundle } from '../helpers/rotation-service';
import { secretOn, suiteContext } from '../helpers/suite-context';

// Alternating users keep the clone's effective rights equal to the base user's, as the server
// reports them and as probes show: the cases a DBA creates (issue "the clone always has exactly
// the base user's rights"), on every MySQL and MariaDB server of the environment.

const { env, service } = suiteContext('mysql-rights');

const ER_TABLE_ACCESS_DENIED = 1142;
const servers = env.mysql.filter((server) => !server.requireSecureTransport);

describe.each(servers.map((server) => [server.name, server] as const))(
  'clone rights on %s',
  (_name, server: MysqlServer) => {
    const root = mysqlRoot(server);
    const family = server.flavor;
    const alternatingUsers = loadBundle(`${family}-alternating-users`);
    const db = `rot_rights_${server.port}`;
    const secretFor = secretOn(family, server);
    const login = (value: Record<string, unknown>): MysqlLogin => ({
      username: String(value.username),
      password: String(value.password),
    });
    const run = (...sql: string[]) => mysqlRun(server, root, ...sql);

    beforeAll(async () => {
      await run(`CREATE DATABASE IF NOT EXISTS ${ident(db)}`);
    });
    beforeEach(() => setHandlerEnvironment(env, server.caFile));

    /** A master with every privilege and a base user at `hosts`, and their secrets. */
    async function setUp(hosts: string[] = ['%']) {
      const master = { username: uniqueName('rotator'), password: 'Master-password-1' };
      const base = { username: uniqueName('app'), password: 'Base-password-1' };
      await run(
        `CREATE USER ${lit(master.username)}@'%' IDENTIFIED BY ${lit(master.password)}`,
        `GRANT ALL PRIVILEGES ON *.* TO ${lit(master.username)}@'%' WITH GRANT OPTION`,
        ...hosts.map(
          (host) =>
            `CREATE USER ${lit(base.username)}@${lit(host)} IDENTIFIED BY ${lit(base.password)}`,
        ),
      );
      const masterArn = await service.createSecret(
        uniqueName('master'),
        secretFor(master.username, master.password),
      );
      const arn = await service.createSecret(
        uniqueName('secret'),
        secretFor(base.username, base.password, { masterarn: masterArn }),
      );
      const clone = `${base.username}_clone`;
      const table = `${ident(db)}.${ident(`${base.username}_t`)}`;
      await run(`CREATE TABLE ${table} (v int)`);
      return { base, clone, arn, table, masterName: master.username };
    }

    /** Runs each probe as `user` and checks its outcome: undefined for success, else the error number. */
    async function probeAll(user: MysqlLogin, probes: Record<string, number | undefined>) {
      expect(await mysqlOutcomes(server, user, probes)).toEqual(probes);
    }

    it('case 1: ALL PRIVILEGES narrowed by a REVOKE: the clone loses only that privilege and can still SELECT', async () => {
      const { base, clone, arn, table } = await setUp();
      await run(`GRANT ALL PRIVILEGES ON ${ident(db)}.* TO ${lit(base.username)}@'%'`);
      await service.rotate(alternatingUsers, arn);
      await run(`REVOKE DROP ON ${ident(db)}.* FROM ${lit(base.username)}@'%'`);
      await service.rotate(alternatingUsers, arn);
      // The clone is AWSPREVIOUS now, still in use by applications.
      const previous = await service.value(arn, 'AWSPREVIOUS');
      expect(previous.username).toBe(clone);
      const probes = {
        [`SELECT v FROM ${table}`]: undefined,
        [`INSERT INTO ${table} VALUES (1)`]: undefined,
        [`DROP TABLE ${ident(db)}.${ident(`${clone}_never`)}`]: ER_TABLE_ACCESS_DENIED,
      };
      await probeAll(login(await service.value(arn, 'AWSCURRENT')), probes);
      await probeAll(login(previous), probes);
      expect(base.username).toBe(clone.replace(/_clone$/, ''));
    });

    it('case 2: SELECT widened to ALL PRIVILEGES: the promoted clone can both SELECT and INSERT', async () => {
      const { base, clone, arn, table } = await setUp();
      await run(`GRANT SELECT ON ${ident(db)}.* TO ${lit(base.username)}@'%'`);
      await service.rotate(alternatingUsers, arn);
      await run(`GRANT ALL PRIVILEGES ON ${ident(db)}.* TO ${lit(base.username)}@'%'`);
      await service.rotate(alternatingUsers, arn);
      await service.rotate(alternatingUsers, arn);
      const current = await service.value(arn, 'AWSCURRENT');
      expect(current.username).toBe(clone);
      const probes = {
        [`SELECT v FROM ${table}`]: undefined,
        [`INSERT INTO ${table} VALUES (1)`]: undefined,
      };
      await probeAll(login(await service.value(arn, 'AWSPREVIOUS')), probes);
      await probeAll(login(current), probes);
      expect(base.username).toBe(clone.replace(/_clone$/, ''));
    });

    it('case 4: several host entries: a retried setSecret sets the password at every host, not just the one this login matches', async () => {
      // From 127.0.0.1 the '127.0.0.1' entry matches; '%' is another network's entry.
      const { base, clone, arn } = await setUp(['%', '127.0.0.1']);
      const token = await service.startRotation(arn);
      await service.invoke(alternatingUsers, 'createSecret', arn, token);
      await service.invoke(alternatingUsers, 'setSecret', arn, token);
      // As if the function had died after the first host: the other host keeps another password.
      await run(`ALTER USER ${lit(clone)}@'%' IDENTIFIED BY 'Half-done-password-1'`);
      await service.invoke(alternatingUsers, 'setSecret', arn, token);
      for (const step of ['testSecret', 'finishSecret'])
        await service.invoke(alternatingUsers, step, arn, token);
      const current = await service.value(arn, 'AWSCURRENT');
      // Without the '127.0.0.1' entry, this login matches '%', as a client elsewhere would.
      await run(`DROP USER ${lit(clone)}@'127.0.0.1'`);
      expect(await mysqlCanLogIn(server, login(current))).toBe(true);
      expect(current.username).toBe(clone);
      expect(await mysqlCanLogIn(server, base)).toBe(true);
    });

    it('case 7: account options (resource limits, password expiry, REQUIRE) are the same for both users', async () => {
      const { base, clone, arn } = await setUp();
      const options =
        family === 'mysql'
          ? 'WITH MAX_QUERIES_PER_HOUR 1000 MAX_USER_CONNECTIONS 7 PASSWORD EXPIRE INTERVAL 90 DAY FAILED_LOGIN_ATTEMPTS 5 PASSWORD_LOCK_TIME 1'
          : 'WITH MAX_QUERIES_PER_HOUR 1000 MAX_USER_CONNECTIONS 7 MAX_STATEMENT_TIME 30 PASSWORD EXPIRE INTERVAL 90 DAY';
      await run(`ALTER USER ${lit(base.username)}@'%' REQUIRE SSL ${options}`);
      await service.rotate(alternatingUsers, arn);
      const shown = async (user: string) => {
        const [[row]] = (await run(`SHOW CREATE USER ${lit(user)}@'%'`)) as [
          Record<string, string>[],
        ];
        return String(Object.values(row ?? {})[0])
          .replace(
            /^CREATE USER \S+ IDENTIFIED (WITH|BY|VIA) .*?(?= REQUIRE| WITH| PASSWORD| ACCOUNT|$)/,
            '',
          )
          .trim();
      };
      const wanted = await shown(base.username);
      expect(wanted).toMatch(/MAX_USER_CONNECTIONS 7/);
      expect(await shown(clone)).toBe(wanted);
    });

    it('case 7: ACCOUNT LOCK on the base user is copied, and testSecret then refuses to promote', async () => {
      const { base, clone, arn } = await setUp();
      await service.rotate(alternatingUsers, arn);
      const current = await service.value(arn, 'AWSCURRENT');
      expect(current.username).toBe(clone);
      await run(`ALTER USER ${lit(base.username)}@'%' ACCOUNT LOCK`);
      const token = await service.startRotation(arn);
      for (const step of ['createSecret', 'setSecret'])
        await service.invoke(alternatingUsers, step, arn, token);
      const [[shown]] = (await run(`SHOW CREATE USER ${lit(clone)}@'%'`)) as [
        Record<string, string>[],
      ];
      expect(String(Object.values(shown ?? {})[0])).toMatch(/ACCOUNT LOCK/);
      await expect(service.invoke(alternatingUsers, 'testSecret', arn, token)).rejects.toThrow(
        /locked/i,
      );
      expect((await service.labels(arn)).AWSCURRENT).not.toBe(token);
    });

    if (family === 'mysql') {
      it('case 3: GRANT OPTION on *.* stays with the privileges that have it, not the dynamic ones printed on other lines', async () => {
        const { base, clone, arn } = await setUp();
        await run(
          `GRANT SELECT ON *.* TO ${lit(base.username)}@'%' WITH GRANT OPTION`,
          `GRANT SESSION_VARIABLES_ADMIN ON *.* TO ${lit(base.username)}@'%'`,
          `GRANT XA_RECOVER_ADMIN ON *.* TO ${lit(base.username)}@'%' WITH GRANT OPTION`,
        );
        await service.rotate(alternatingUsers, arn);
        const [rows] = (await run(
          `SELECT USER AS u, PRIV AS p, WITH_GRANT_OPTION AS g FROM mysql.global_grants WHERE USER IN (${lit(base.username)}, ${lit(clone)}) ORDER BY PRIV, USER`,
        )) as [Record<string, string>[]];
        expect(rows.map((r) => `${r.u === clone ? 'clone' : 'base'} ${r.p} ${r.g}`)).toEqual([
          'base SESSION_VARIABLES_ADMIN N',
          'clone SESSION_VARIABLES_ADMIN N',
          'base XA_RECOVER_ADMIN Y',
          'clone XA_RECOVER_ADMIN Y',
        ]);
        // As the clone: it may pass on SELECT and XA_RECOVER_ADMIN, not SESSION_VARIABLES_ADMIN.
        const current = login(await service.value(arn, 'AWSCURRENT'));
        const grantee = uniqueName('grantee');
        await run(`CREATE USER ${lit(grantee)}@'%' IDENTIFIED BY 'Grantee-password-1'`);
        expect(
          await mysqlFailure(server, current, `GRANT SELECT ON *.* TO ${lit(grantee)}@'%'`),
        ).toBeUndefined();
        expect(
          await mysqlFailure(
            server,
            current,
            `GRANT XA_RECOVER_ADMIN ON *.* TO ${lit(grantee)}@'%'`,
          ),
        ).toBeUndefined();
        expect(
          await mysqlFailure(
            server,
            current,
            `GRANT SESSION_VARIABLES_ADMIN ON *.* TO ${lit(grantee)}@'%'`,
          ),
        ).toBeDefined();
      });
    }

    if (family === 'mariadb') {
      it('case 5: a default role with a dot in its name', async () => {
        const { base, arn, table, masterName } = await setUp();
        const role = `${base.username}.reader`;
        // One name holding a dot: never `app`.`reader`.
        const quoted = `\`${role}\``;
        await run(
          `CREATE ROLE ${quoted}`,
          `GRANT SELECT ON ${table} TO ${quoted}`,
          `GRANT ${quoted} TO ${lit(base.username)}@'%'`,
          `SET DEFAULT ROLE ${quoted} FOR ${lit(base.username)}@'%'`,
          // MariaDB: granting a role takes ADMIN OPTION on it.
          `GRANT ${quoted} TO ${lit(masterName)}@'%' WITH ADMIN OPTION`,
        );
        await service.rotate(alternatingUsers, arn, { twice: true });
        for (const stage of ['AWSCURRENT', 'AWSPREVIOUS']) {
          // Readable without SET ROLE: the default role came along.
          expect(
            await mysqlFailure(
              server,
              login(await service.value(arn, stage)),
              `SELECT v FROM ${table}`,
            ),
          ).toBeUndefined();
        }
      });
    }

    it('testSecret refuses a clone whose rights drifted, naming the difference, and promotes nothing', async () => {
      const { base, clone, arn, table } = await setUp();
      await run(`GRANT SELECT ON ${table} TO ${lit(base.username)}@'%'`);
      await service.rotate(alternatingUsers, arn);
      const token = await service.startRotation(arn);
      for (const step of ['createSecret', 'setSecret'])
        await service.invoke(alternatingUsers, step, arn, token);
      // A DBA changes the clone between setSecret and testSecret.
      await run(`GRANT DELETE ON ${table} TO ${lit(clone)}@'%'`);
      await expect(
        service.invoke(alternatingUsers, 'testSecret', arn, token),
      ).rejects.toMatchObject({
        name: 'PrivilegeDriftError',
        message: expect.stringContaining(`has DELETE ON ${table}`),
      });
      expect((await service.labels(arn)).AWSCURRENT).not.toBe(token);
    });

    it('testSecret alone (RotateImmediately=false) checks the two users the same way', async () => {
      const { clone, arn, table } = await setUp();
      await service.rotate(alternatingUsers, arn);
      await service.testOnly(alternatingUsers, arn);
      await run(`GRANT DELETE ON ${table} TO ${lit(clone)}@'%'`);
      await expect(service.testOnly(alternatingUsers, arn)).rejects.toMatchObject({
        name: 'PrivilegeDriftError',
        message: expect.stringContaining(`has DELETE ON ${table}`),
      });
    });
  },
);
