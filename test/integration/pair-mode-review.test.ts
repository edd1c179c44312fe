import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import mysql2 from 'mysql2/promise';
import { escapeIdentifier as id, escapeLiteral as lit } from 'pg';
import type { PreflightReport } from '../../cli/preflight';
import { runCli } from '../helpers/cli-runner';
import { readEnvironment } from '../helpers/environment';
import { setHandlerEnvironment } from '../helpers/handler-env';
import { ident, lit as mlit, mysqlRoot, mysqlRun } from '../helpers/mysql-client';
import { canLogIn, connect, runAs, superuser, uniqueName } from '../helpers/postgres-client';
import { type Handler, loadBundle, RotationService, STEPS } from '../helpers/rotation-service';

/**
 * The attacker's and the busy DBA's review of pair mode: each test states a promise, and failed
 * before the fix of the finding named in its title (F1 a `role` setting, F2 finishSecret invoked
 * directly, F3 a narrower setting or partial revoke, F4 a shadowed catalog function, F5 a setting's
 * value in the output, F6 a user at several hosts).
 */
const env = readEnvironment();
const service = new RotationService(
  env.secretsManagerEndpoint,
  join(env.runDir, 'captured-logs', `review-findings-${process.pid}.log`),
);
const saved = { ...process.env };
afterAll(() => {
  process.env = saved;
});

type Outcome = Record<string, string>;
async function steps(handler: Handler, arn: string, upTo: readonly string[]) {
  const token = await service.startRotation(arn);
  const out: Outcome = {};
  for (const step of upTo) {
    const r = await service.invokeCaptured(handler, step, arn, token);
    out[step] = r.error ? (r.error as Error).name : 'ok';
  }
  return { token, out };
}

describe.each(env.postgres.map((s) => [s.name, s] as const))('pair findings, %s', (_n, server) => {
  let handler: Handler;
  const admin = superuser(server);
  const table = 'review_findings_data';
  beforeAll(async () => {
    handler = loadBundle('postgresql-single-user');
    await runAs(server, admin, `CREATE TABLE IF NOT EXISTS ${table} (n int)`);
  });
  beforeEach(() => setHandlerEnvironment(env, server.caFile));

  async function user(prefix: string, ...sql: ((u: string) => string[])[]) {
    const u = { username: uniqueName(prefix), password: `${prefix}-Password-1` };
    await runAs(
      server,
      admin,
      `CREATE ROLE ${id(u.username)} LOGIN PASSWORD ${lit(u.password)}`,
      `GRANT SELECT, INSERT ON ${table} TO ${id(u.username)}`,
      ...sql.flatMap((f) => f(u.username)),
    );
    return u;
  }
  const pair = (live: { username: string; password: string }, idle: typeof live) =>
    service.createSecret(uniqueName('revf'), {
      engine: 'postgres',
      host: server.host,
      port: server.port,
      username: live.username,
      password: live.password,
      dbname: 'postgres',
      alternate_username: idle.username,
      alternate_password: idle.password,
    });
  async function appInserts(u: string, p: string): Promise<boolean> {
    const c = await connect(server, { username: u, password: p });
    try {
      await c.query(`INSERT INTO ${table} VALUES (1)`);
      return true;
    } catch {
      return false;
    } finally {
      await c.end();
    }
  }

  it('F1: an idle user with a `role` setting (alternating-users clone, not yet RESET) must not change the live user', async () => {
    const app = await user('app');
    const clone = await user('app_clone', (c) => [
      `GRANT ${id(app.username)} TO ${id(c)}`,
      `ALTER ROLE ${id(c)} SET role = ${lit(app.username)}`,
    ]);
    const arn = await pair(app, clone);
    await steps(handler, arn, ['createSecret', 'setSecret']);
    // Today: setSecret ran ALTER ROLE CURRENT_USER as "app" and AWSCURRENT no longer logs in.
    expect(await canLogIn(server, app)).toBe(true);
  });

  it('F1b: a shared owner role set by `role` on both users: the rotation changes the login user, not the owner', async () => {
    const owner = uniqueName('owner');
    await runAs(server, admin, `CREATE ROLE ${id(owner)} NOLOGIN`);
    const withOwner = (u: string) => [
      `GRANT ${id(owner)} TO ${id(u)}`,
      `ALTER ROLE ${id(u)} SET role = ${lit(owner)}`,
    ];
    const blue = await user('blue', withOwner);
    const green = await user('green', withOwner);
    const arn = await pair(blue, green);
    const { out } = await steps(handler, arn, STEPS);
    expect(out).toEqual({
      createSecret: 'ok',
      setSecret: 'ok',
      testSecret: 'ok',
      finishSecret: 'ok',
    });
  });

  it('F2: finishSecret invoked directly must not promote an idle user that fails the parity check', async () => {
    const blue = await user('blue');
    const green = await user('green', (g) => [`REVOKE INSERT ON ${table} FROM ${id(g)}`]);
    const arn = await pair(blue, green);
    const { out } = await steps(handler, arn, STEPS);
    expect(out.testSecret).toBe('PrivilegeDriftError');
    // Today: ok, and the application (which reads AWSCURRENT) loses INSERT.
    expect(out.finishSecret).not.toBe('ok');
    const current = await service.value(arn, 'AWSCURRENT');
    expect(await appInserts(String(current.username), String(current.password))).toBe(true);
  });

  it('F3: an extra restrictive role setting on the idle user blocks promotion (search_path)', async () => {
    const blue = await user('blue');
    const green = await user('green', (g) => [`ALTER ROLE ${id(g)} SET search_path = nowhere`]);
    const arn = await pair(blue, green);
    const { out } = await steps(handler, arn, ['createSecret', 'setSecret', 'testSecret']);
    expect(out.testSecret).toBe('PrivilegeDriftError');
  });

  it('F4: the idle user cannot make its own parity lines lie by shadowing pg_catalog functions', async () => {
    const blue = await user('blue');
    const green = await user('green', (g) => [
      `REVOKE INSERT ON ${table} FROM ${id(g)}`,
      `CREATE SCHEMA ${id(g)} AUTHORIZATION ${id(g)}`,
    ]);
    await runAs(
      server,
      green,
      `CREATE FUNCTION ${id(green.username)}.has_table_privilege(name, oid, text) RETURNS boolean LANGUAGE sql AS 'SELECT true'`,
      `ALTER ROLE CURRENT_USER SET search_path = ${id(green.username)}, pg_catalog`,
    );
    const arn = await pair(blue, green);
    const { out } = await steps(handler, arn, ['createSecret', 'setSecret', 'testSecret']);
    expect(out.testSecret).toBe('PrivilegeDriftError');
  });

  it('F5: a role setting value is not printed in the drift error or the logs', async () => {
    const blue = await user('blue', (b) => [
      `ALTER ROLE ${id(b)} SET app.api_key = 'TopSecret-Value-42'`,
    ]);
    const green = await user('green');
    const arn = await pair(blue, green);
    const token = await service.startRotation(arn);
    await service.invoke(handler, 'createSecret', arn, token);
    await service.invoke(handler, 'setSecret', arn, token);
    const r = await service.invokeCaptured(handler, 'testSecret', arn, token);
    expect(r.error).toMatchObject({ name: 'PrivilegeDriftError' });
    expect((r.error as Error).message).not.toContain('TopSecret-Value-42');
    expect(r.output).not.toContain('TopSecret-Value-42');
  });
});

describe.each(env.mysql.filter((s) => s.name === 'mysql-9.7').map((s) => [s.name, s] as const))(
  'pair findings, %s',
  (_n, server) => {
    let handler: Handler;
    const root = mysqlRoot(server);
    const db = 'review_findings';
    beforeAll(async () => {
      handler = loadBundle('mysql-single-user');
      await mysqlRun(
        server,
        root,
        `CREATE DATABASE IF NOT EXISTS ${db}`,
        `CREATE TABLE IF NOT EXISTS ${db}.t (n int)`,
      );
    });
    beforeEach(() => setHandlerEnvironment(env, server.caFile));
    async function user(prefix: string, grants: string, ...sql: ((u: string) => string[])[]) {
      const u = { username: uniqueName(prefix), password: `${prefix}-Password-1` };
      await mysqlRun(
        server,
        root,
        `CREATE USER ${mlit(u.username)}@'%' IDENTIFIED BY ${mlit(u.password)}`,
        `GRANT ${grants} TO ${mlit(u.username)}@'%'`,
        ...sql.flatMap((f) => f(u.username)),
      );
      return u;
    }
    const pair = (live: { username: string; password: string }, idle: typeof live) =>
      service.createSecret(uniqueName('revf'), {
        engine: 'mysql',
        host: server.host,
        port: server.port,
        username: live.username,
        password: live.password,
        alternate_username: idle.username,
        alternate_password: idle.password,
      });
    /** A login as `u`, from `localAddress` when given; what `query` answers, or undefined. */
    async function asUser(
      u: string,
      p: string,
      query: string,
      localAddress?: string,
    ): Promise<Record<string, unknown>[] | undefined> {
      try {
        const c = await mysql2.createConnection({
          host: server.host,
          port: server.port,
          user: u,
          password: p,
          ...(localAddress
            ? { stream: () => netConnect({ host: server.host, port: server.port, localAddress }) }
            : {}),
          ssl: server.caFile
            ? { ca: readFileSync(server.caFile, 'utf8'), rejectUnauthorized: true }
            : undefined,
          connectTimeout: 5000,
        });
        try {
          const [rows] = await c.query(query);
          return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
        } finally {
          await c.end();
        }
      } catch {
        return undefined;
      }
    }
    const appInserts = async (u: string, p: string, localAddress?: string) =>
      (await asUser(u, p, `INSERT INTO ${ident(db)}.t VALUES (1)`, localAddress)) !== undefined;
    /** The host part of the account name the server gives a login from `localAddress`. */
    const seenFrom = async (localAddress?: string) => {
      const rows = await asUser(
        root.username,
        root.password,
        "SELECT SUBSTRING_INDEX(USER(), '@', -1) AS h",
        localAddress,
      );
      return rows?.[0]?.h === undefined ? undefined : String(rows[0].h);
    };

    it('F3 (MySQL): a partial revoke on the idle user only blocks promotion', async () => {
      const [[row]] = (await mysqlRun(server, root, 'SELECT @@GLOBAL.partial_revokes AS v')) as [
        Array<{ v: number }>,
      ];
      await mysqlRun(server, root, 'SET GLOBAL partial_revokes = ON');
      const made: string[] = [];
      try {
        const blue = await user('blue', 'SELECT, INSERT ON *.*');
        const green = await user('green', 'SELECT, INSERT ON *.*', (g) => [
          `REVOKE INSERT ON ${db}.* FROM ${mlit(g)}@'%'`,
        ]);
        made.push(blue.username, green.username);
        const arn = await pair(blue, green);
        const { out } = await steps(handler, arn, ['createSecret', 'setSecret', 'testSecret']);
        expect(out.testSecret).toBe('PrivilegeDriftError');
      } finally {
        // partial_revokes cannot go OFF while an account holds one; another suite may hold one
        // now, and restores the setting itself (as mysql-rights.test.ts does).
        for (const u of made) await mysqlRun(server, root, `DROP USER IF EXISTS ${mlit(u)}@'%'`);
        await mysqlRun(
          server,
          root,
          `SET GLOBAL partial_revokes = ${row?.v === 1 ? 'ON' : 'OFF'}`,
        ).catch((error: Error) => {
          if (!/partial revoke/i.test(error.message)) throw error;
        });
      }
    });

    it('F6: an idle user also defined at another host: preflight warns that the rotation changes one account only', async () => {
      // The function and preflight log in from where this test runs: a local server sees
      // 127.0.0.1 (or localhost), a container its network's gateway. The second account is made
      // at that host, so it is the one they match.
      const here = await seenFrom();
      if (here === undefined) throw new Error('root could not log in to ask its host');
      const hosts = [...new Set(['localhost', '127.0.0.1', here])];
      const blue = await user('blue', `SELECT, INSERT ON ${db}.*`);
      const green = await user('green', `SELECT, INSERT ON ${db}.*`, (g) =>
        hosts.flatMap((h) => [
          `CREATE USER ${mlit(g)}@${mlit(h)} IDENTIFIED BY 'green-Password-1'`,
          `GRANT SELECT, INSERT ON ${db}.* TO ${mlit(g)}@${mlit(h)}`,
        ]),
      );
      // An application elsewhere logs in through green@'%'. Only a local server tells that
      // address apart (a container's port forwarding hides it).
      const elsewhere = await seenFrom('127.0.0.7');
      if (elsewhere !== undefined && !hosts.includes(elsewhere)) {
        expect(await appInserts(green.username, green.password, '127.0.0.7')).toBe(true);
      }
      const arn = await pair(blue, green);
      const run = await runCli(
        [
          'preflight',
          '--secret-id',
          arn,
          '--json',
          '--endpoint',
          env.secretsManagerEndpoint,
          ...(server.caFile ? ['--ca-file', server.caFile] : []),
        ],
        join(env.runDir, 'captured-logs', `review-findings-cli-${process.pid}.log`),
      );
      const report = JSON.parse(run.stdout) as PreflightReport;
      expect(report.checks).toContainEqual(
        expect.objectContaining({
          section: 'alternate',
          check: 'account host',
          status: 'warn',
          detail: expect.stringContaining("not '%'"),
        }),
      );
    });
  },
);
