import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { escapeIdentifier as id, escapeLiteral as lit } from 'pg';
import type { PreflightReport } from '../../cli/preflight';
import type { RotationReport } from '../../cli/rotate';
import { CLI, functionArgs, runCli } from '../helpers/cli-runner';
import { type PostgresServer, readEnvironment } from '../helpers/environment';
import { mongoAdmin, mongoCanLogIn, mongoCommand, mongoSecretFor } from '../helpers/mongo-client';
import {
  ident,
  mysqlCanLogIn,
  lit as mysqlLit,
  mysqlRoot,
  mysqlRun,
} from '../helpers/mysql-client';
import {
  canLogIn,
  createMasterAndBase,
  runAs,
  superuser,
  uniqueName,
} from '../helpers/postgres-client';
import { RotationService } from '../helpers/rotation-service';

/**
 * `rotation-lambdas rotate` and `preflight`, run as users run them: the built CLI in a child
 * process, against the local servers and the Secrets Manager API (moto).
 */
const env = readEnvironment();
const logFile = join(env.runDir, 'captured-logs', `cli-${process.pid}.log`);
const service = new RotationService(env.secretsManagerEndpoint, logFile);
const endpoint = ['--endpoint', env.secretsManagerEndpoint];

const cli = (args: string[], caFile: string | undefined, extraEnv: Record<string, string> = {}) =>
  runCli([...args, ...endpoint, ...(caFile ? ['--ca-file', caFile] : [])], logFile, extraEnv);

async function rotateJson(
  secretId: string,
  fn: string,
  caFile: string | undefined,
  extra: string[] = [],
) {
  const run = await cli(
    ['rotate', '--secret-id', secretId, ...functionArgs(fn), '--json', '--verbose', ...extra],
    caFile,
  );
  return { ...run, report: JSON.parse(run.stdout || 'null') as RotationReport | null };
}

async function preflightJson(
  secretId: string,
  caFile: string | undefined,
  extra: string[] = [],
  extraEnv: Record<string, string> = {},
) {
  const run = await cli(
    ['preflight', '--secret-id', secretId, '--json', ...extra],
    caFile,
    extraEnv,
  );
  return { ...run, report: JSON.parse(run.stdout) as PreflightReport };
}

const statusOf = (report: PreflightReport, section: string, check: string) =>
  report.checks.find((c) => c.section === section && c.check === check);

/** Everything about a secret that preflight must leave as it was. */
async function secretState(arn: string) {
  return { stages: await service.stages(arn), current: await service.value(arn, 'AWSCURRENT') };
}

describe('command line', () => {
  it('prints usage and exits 2 on a wrong command line', async () => {
    const run = await runCli(['rotate', '--secret-id', 'x'], logFile);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('rotate needs --function NAME');
    const help = await runCli(['help'], logFile);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: rotation-lambdas');
    expect(CLI).toMatch(/dist\/cli\/index\.js$/);
  });

  it('exits 1 with a clear message for a secret that does not exist', async () => {
    const run = await cli(
      ['rotate', '--secret-id', 'no-such-secret', ...functionArgs('postgresql-single-user')],
      undefined,
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/ResourceNotFoundException/);
    const check = await preflightJson('no-such-secret', undefined);
    expect(check.status).toBe(1);
    expect(statusOf(check.report, 'secret', 'secret')?.status).toBe('fail');
  });
});

describe.each(env.postgres.map((s) => [s.name, s] as const))(
  '%s',
  (_name, server: PostgresServer) => {
    const admin = superuser(server);
    const ca = server.caFile;
    const secretFor = (
      username: string,
      password: string,
      extra: Record<string, unknown> = {},
    ) => ({
      engine: 'postgres',
      host: server.host,
      port: server.port,
      username,
      password,
      dbname: 'postgres',
      ...extra,
    });

    async function newUser(password = 'Initial-password-1') {
      const username = uniqueName('cli');
      await runAs(server, admin, `CREATE ROLE ${id(username)} LOGIN PASSWORD ${lit(password)}`);
      const arn = await service.createSecret(uniqueName('cli'), secretFor(username, password));
      return { username, password, arn };
    }

    async function alternating(options: { adminOption?: boolean } = {}) {
      const { master, base, major } = await createMasterAndBase(server, {
        prefix: 'cli_',
        ...options,
      });
      const masterArn = await service.createSecret(
        uniqueName('cli_master'),
        secretFor(master.username, master.password),
      );
      const arn = await service.createSecret(
        uniqueName('cli_alt'),
        secretFor(base.username, base.password, { masterarn: masterArn }),
      );
      return { master, base, major, arn };
    }

    const roleExists = async (name: string) =>
      ((await runAs(server, admin, `SELECT 1 FROM pg_roles WHERE rolname = ${lit(name)}`))[0] ?? [])
        .length > 0;

    describe('rotate', () => {
      it('rotates a single user through the built bundle: steps shown, new password logs in, old refused', async () => {
        const user = await newUser();
        const { status, report, stderr } = await rotateJson(user.arn, 'postgresql-single-user', ca);
        expect(status).toBe(0);
        expect(report?.ok).toBe(true);
        expect(report?.mode).toBe('start');
        expect(report?.steps.map((s) => s.attempts[0]?.outcome)).toEqual([
          'pending-created',
          'password-set',
          'pending-tested',
          'current-moved',
        ]);
        expect(stderr).toMatch(/\[4\/4\] finishSecret ok +current-moved/);
        const labels = await service.labels(user.arn);
        expect(labels.AWSCURRENT).toBe(report?.token);
        expect(labels.AWSPENDING).toBeUndefined();
        expect(labels.AWSPREVIOUS).toBe(report?.labelsBefore.AWSCURRENT);
        const current = await service.value(user.arn, 'AWSCURRENT');
        expect(
          await canLogIn(server, { username: user.username, password: String(current.password) }),
        ).toBe(true);
        expect(await canLogIn(server, user)).toBe(false);
      });

      it('alternates users: the clone first, then the base user again', async () => {
        const { base, arn } = await alternating();
        const first = await rotateJson(arn, 'postgresql-alternating-users', ca);
        expect(first.status).toBe(0);
        const clone = await service.value(arn, 'AWSCURRENT');
        expect(clone.username).toBe(`${base.username}_clone`);
        expect(
          await canLogIn(server, {
            username: String(clone.username),
            password: String(clone.password),
          }),
        ).toBe(true);
        const second = await rotateJson(arn, 'postgresql-alternating-users', ca);
        expect(second.status).toBe(0);
        const back = await service.value(arn, 'AWSCURRENT');
        expect(back.username).toBe(base.username);
        expect(
          await canLogIn(server, { username: base.username, password: String(back.password) }),
        ).toBe(true);
        // AWSPREVIOUS (the clone) still logs in: that is the point of alternating users.
        expect(
          await canLogIn(server, {
            username: String(clone.username),
            password: String(clone.password),
          }),
        ).toBe(true);
      });

      it('refuses to start while another rotation is in progress, changing nothing; --resume finishes that one', async () => {
        const user = await newUser();
        const pending = await service.startRotation(user.arn); // as the service leaves it
        const before = await service.stages(user.arn);
        const refused = await rotateJson(user.arn, 'postgresql-single-user', ca);
        expect(refused.status).toBe(1);
        expect(refused.report?.steps[0]?.attempts).toHaveLength(1);
        expect(refused.report?.failure).toContain('RotationInProgressError');
        expect(refused.report?.failure).toContain(`version ${pending} is labelled AWSPENDING`);
        expect(await service.stages(user.arn)).toEqual(before);
        expect(await canLogIn(server, user)).toBe(true);

        const resumed = await rotateJson(user.arn, 'postgresql-single-user', ca, ['--resume']);
        expect(resumed.status).toBe(0);
        expect(resumed.report?.token).toBe(pending);
        expect((await service.labels(user.arn)).AWSCURRENT).toBe(pending);
      });

      it('retries a failed step with backoff and shows each attempt (a bundle that fails once)', async () => {
        const user = await newUser();
        const dir = mkdtempSync(join(tmpdir(), 'cli-flaky-'));
        const real = process.env.ROTATION_BUNDLE_DIR
          ? join(process.env.ROTATION_BUNDLE_DIR, 'postgresql-single-user', 'index.js')
          : join(CLI, '..', '..', 'postgresql-single-user', 'index.js');
        const flaky = join(dir, 'flaky.js');
        writeFileSync(
          flaky,
          `const real = require(${JSON.stringify(real)});
let failed = false;
exports.handler = async (event) => {
  if (event.Step === 'setSecret' && !failed) {
    failed = true;
    const error = new Error('connection reset (injected)');
    error.name = 'DatabaseUnreachableError';
    throw error;
  }
  return real.handler(event);
};
exports.startRotation = real.startRotation;
`,
        );
        const run = await cli(
          ['rotate', '--secret-id', user.arn, '--bundle', flaky, '--retry-delay', '0.1', '--json'],
          ca,
        );
        const report = JSON.parse(run.stdout) as RotationReport;
        expect(run.status).toBe(0);
        expect(report.steps[1]?.attempts.map((a) => a.ok)).toEqual([false, true]);
        expect(run.stderr).toMatch(
          /setSecret +attempt 1 failed \(\d+ ms\): DatabaseUnreachableError: connection reset \(injected\); retrying in 100 ms/,
        );
        expect(run.stderr).toMatch(/setSecret +ok +password-set \(\d+ ms, attempt 2\)/);
      });

      it('gives up after its retries when the password was changed outside rotation, and leaves AWSPENDING for --resume', async () => {
        const user = await newUser();
        await runAs(server, admin, `ALTER ROLE ${id(user.username)} PASSWORD 'Changed-outside-1'`);
        const run = await rotateJson(user.arn, 'postgresql-single-user', ca, [
          '--retries',
          '1',
          '--retry-delay',
          '0',
        ]);
        expect(run.status).toBe(1);
        expect(run.report?.steps[1]?.attempts).toHaveLength(2);
        expect(run.report?.failure).toMatch(
          /setSecret failed after 2 attempts: NoWorkingCredentialsError/,
        );
        expect((await service.labels(user.arn)).AWSPENDING).toBe(run.report?.token);
        expect(run.stderr).toContain('rotate --resume');
      });
    });

    describe('preflight', () => {
      it('passes for a single user and changes nothing', async () => {
        const user = await newUser();
        const before = await secretState(user.arn);
        const { status, report } = await preflightJson(user.arn, ca);
        expect(status).toBe(0);
        expect(report.result).toBe('pass');
        expect(report.function).toBe('postgresql-single-user');
        expect(report.server).toMatch(/^PostgreSQL \d+/);
        expect(report.tls).toMatchObject({
          protocol: expect.stringMatching(/^TLSv1\.[23]$/),
          subject: 'CN=localhost',
          issuer: 'CN=Rotation Integration Test CA',
          source: 'driver',
        });
        expect(statusOf(report, 'database', 'login')?.status).toBe('pass');
        expect(statusOf(report, 'database', 'privileges')?.status).toBe('pass');
        expect(statusOf(report, 'settings', 'password')?.detail).toContain('32 characters');
        expect(await secretState(user.arn)).toEqual(before);
        expect(await canLogIn(server, user)).toBe(true);
      });

      it('prints a readable report', async () => {
        const user = await newUser();
        const run = await cli(['preflight', '--secret-id', user.arn], ca);
        expect(run.status).toBe(0);
        expect(run.stdout).toMatch(/PASS {2}login +AWSCURRENT logs in as/);
        expect(run.stdout).toMatch(/Result: PASS .*Nothing was changed\./);
      });

      it('passes for alternating users with a capable master, and creates no clone', async () => {
        const { base, master, arn } = await alternating();
        const before = await secretState(arn);
        const { status, report } = await preflightJson(arn, ca);
        expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
        expect(status).toBe(0);
        expect(report.function).toBe('postgresql-alternating-users');
        expect(statusOf(report, 'master', 'privileges')?.detail).toContain('CREATEROLE');
        expect(statusOf(report, 'master', 'clone')?.detail).toContain('does not exist yet');
        expect(statusOf(report, 'master', 'clone name')?.status).toBe('pass');
        expect(await roleExists(`${base.username}_clone`)).toBe(false);
        expect(await secretState(arn)).toEqual(before);
        expect(await canLogIn(server, base)).toBe(true);
        expect(await canLogIn(server, master)).toBe(true);
      });

      it("reports, read-only, an existing clone whose login settings differ from the base user's", async () => {
        const { base, arn } = await alternating();
        const clone = `${base.username}_clone`;
        expect((await rotateJson(arn, 'postgresql-alternating-users', ca)).status).toBe(0);
        const level = await preflightJson(arn, ca);
        expect(statusOf(level.report, 'master', 'clone rights')?.status).toBe('pass');

        await runAs(server, admin, `ALTER ROLE ${id(base.username)} SET work_mem = '8MB'`);
        const settings = () =>
          runAs(
            server,
            admin,
            `SELECT setdatabase, setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE rolname = ${lit(clone)} ORDER BY 1`,
          );
        const before = await settings();
        const drifted = await preflightJson(arn, ca);
        expect(statusOf(drifted.report, 'master', 'clone rights')).toMatchObject({
          status: 'warn',
          detail: expect.stringContaining('work_mem'),
        });
        expect(await settings()).toEqual(before);
      });

      it('fails, read-only, on a clone someone other than the master holds ADMIN OPTION on, naming the REVOKE', async () => {
        const { base, master, arn } = await alternating();
        const clone = `${base.username}_clone`;
        const other = uniqueName('cli_other');
        await runAs(
          server,
          admin,
          `CREATE ROLE ${id(other)}`,
          `CREATE ROLE ${id(clone)} LOGIN`,
          `GRANT ${id(clone)} TO ${id(other)} WITH ADMIN OPTION`,
          `GRANT ${id(clone)} TO ${id(master.username)} WITH ADMIN OPTION`,
        );
        const { status, report } = await preflightJson(arn, ca);
        expect(status).toBe(1);
        expect(statusOf(report, 'master', 'clone rights')).toMatchObject({
          status: 'fail',
          detail: expect.stringMatching(new RegExp(`"${other}" holds ADMIN OPTION.*REVOKE`)),
        });
      });

      it('on PostgreSQL 16+, fails when the master lacks ADMIN OPTION on the base user (and 15 does not need it)', async () => {
        const { base, major, arn } = await alternating({ adminOption: false });
        const { status, report } = await preflightJson(arn, ca);
        const finding = statusOf(report, 'master', 'base user');
        if (major >= 16) {
          expect(status).toBe(1);
          expect(finding).toMatchObject({
            status: 'fail',
            detail: expect.stringContaining(`GRANT "${base.username}" TO`),
          });
        } else {
          expect(status).toBe(0);
          expect(finding?.status).toBe('pass');
        }
        expect(await roleExists(`${base.username}_clone`)).toBe(false);
      });

      it('fails when the current password does not log in', async () => {
        const user = await newUser();
        await runAs(server, admin, `ALTER ROLE ${id(user.username)} PASSWORD 'Changed-outside-2'`);
        const { status, report } = await preflightJson(user.arn, ca);
        expect(status).toBe(1);
        expect(statusOf(report, 'database', 'login')).toMatchObject({
          status: 'fail',
          detail: expect.stringContaining('rejects the credentials of AWSCURRENT'),
        });
      });

      it('fails on a stuck AWSPENDING label, naming the version, and changes nothing', async () => {
        const user = await newUser();
        const pending = await service.startRotation(user.arn);
        const before = await secretState(user.arn);
        const { status, report } = await preflightJson(user.arn, ca);
        expect(status).toBe(1);
        expect(statusOf(report, 'secret', 'labels')).toMatchObject({
          status: 'fail',
          detail: expect.stringContaining(`AWSPENDING is on version ${pending}`),
        });
        expect(await secretState(user.arn)).toEqual(before);
      });

      it('fails when the server certificate cannot be verified, and says how to fix it', async () => {
        const user = await newUser();
        const { status, report } = await preflightJson(user.arn, undefined);
        expect(status).toBe(1);
        expect(statusOf(report, 'database', 'tls')).toMatchObject({
          status: 'fail',
          detail: expect.stringMatching(/certificate.*NODE_EXTRA_CA_CERTS/s),
        });
      });

      it('fails for alternating users without "masterarn", and for an impossible password setting', async () => {
        const user = await newUser();
        const noMaster = await preflightJson(user.arn, ca, [
          '--function',
          'postgresql-alternating-users',
        ]);
        expect(noMaster.status).toBe(1);
        expect(statusOf(noMaster.report, 'secret', 'masterarn')?.status).toBe('fail');
        const badSetting = await preflightJson(user.arn, ca, ['--env', 'PASSWORD_LENGTH=4']);
        expect(badSetting.status).toBe(1);
        expect(statusOf(badSetting.report, 'settings', 'password')?.detail).toContain(
          'PASSWORD_LENGTH',
        );
      });
    });
  },
);

describe.each(env.mysql.filter((s) => !s.requireSecureTransport).map((s) => [s.name, s] as const))(
  'preflight on %s',
  (_name, server) => {
    const root = mysqlRoot(server);
    const secretFor = (
      username: string,
      password: string,
      extra: Record<string, unknown> = {},
    ) => ({
      engine: server.flavor,
      host: server.host,
      port: server.port,
      username,
      password,
      ...extra,
    });
    const db = `cli_${server.port}`;

    beforeAll(async () => {
      await mysqlRun(server, root, `CREATE DATABASE IF NOT EXISTS ${ident(db)}`);
    });

    async function newUser(grants: string[] = []) {
      const username = uniqueName('cli');
      const password = 'Initial-password-1';
      await mysqlRun(
        server,
        root,
        `CREATE USER ${mysqlLit(username)}@'%' IDENTIFIED BY ${mysqlLit(password)}`,
        ...grants.map((g) => `GRANT ${g} TO ${mysqlLit(username)}@'%'`),
      );
      return { username, password };
    }

    it('passes for a single user and changes nothing', async () => {
      const user = await newUser();
      const arn = await service.createSecret(
        uniqueName('cli'),
        secretFor(user.username, user.password),
      );
      const before = await secretState(arn);
      const { status, report } = await preflightJson(arn, server.caFile);
      expect(status).toBe(0);
      expect(report.function).toBe(`${server.flavor}-single-user`);
      expect(report.server).toMatch(/^(MariaDB|MySQL) /);
      expect(report.tls?.protocol).toMatch(/^TLSv1\.[23]$/);
      expect(statusOf(report, 'database', 'writable')?.status).toBe('pass');
      expect(await secretState(arn)).toEqual(before);
      expect(await mysqlCanLogIn(server, user)).toBe(true);
    });

    it('warns when the account locks after failed logins, saying what the rotation does about it', async () => {
      const user = await newUser();
      const limit =
        server.flavor === 'mysql'
          ? [
              `ALTER USER ${mysqlLit(user.username)}@'%' FAILED_LOGIN_ATTEMPTS 3 PASSWORD_LOCK_TIME 1`,
            ]
          : ['SET GLOBAL max_password_errors = 3'];
      await mysqlRun(server, root, ...limit);
      try {
        const arn = await service.createSecret(
          uniqueName('cli'),
          secretFor(user.username, user.password),
        );
        const { status, report } = await preflightJson(arn, server.caFile);
        expect(status).toBe(0);
        expect(statusOf(report, 'database', 'failed logins')).toMatchObject({
          status: 'warn',
          detail: expect.stringContaining('never tries a password the server cannot have yet'),
        });
      } finally {
        if (server.flavor === 'mariadb') {
          await mysqlRun(server, root, 'SET GLOBAL max_password_errors = DEFAULT');
        }
      }
    });

    it('RETAIN_CURRENT_PASSWORD=true: checks the server has dual passwords and the user may keep one', async () => {
      const user = await newUser();
      const arn = await service.createSecret(
        uniqueName('cli'),
        secretFor(user.username, user.password),
      );
      const retain = { RETAIN_CURRENT_PASSWORD: 'true' };
      const without = await preflightJson(arn, server.caFile, [], retain);
      expect(without.status).toBe(1);
      expect(statusOf(without.report, 'database', 'dual passwords')).toMatchObject({
        status: 'fail',
        detail: expect.stringContaining(
          server.flavor === 'mysql' ? 'GRANT APPLICATION_PASSWORD_ADMIN' : 'MySQL 8.0.14',
        ),
      });
      if (server.flavor !== 'mysql') return;
      await mysqlRun(
        server,
        root,
        `GRANT APPLICATION_PASSWORD_ADMIN ON *.* TO ${mysqlLit(user.username)}@'%'`,
      );
      const granted = await preflightJson(arn, server.caFile, [], retain);
      expect(statusOf(granted.report, 'database', 'dual passwords')?.status).toBe('pass');
      expect(granted.status).toBe(0);
    });

    it('alternating users: fails while the master cannot pass on the base grants, passes once it can; no clone is created', async () => {
      const base = await newUser([`SELECT, INSERT ON ${ident(db)}.*`]);
      const master = await newUser(['CREATE USER, SELECT ON *.*']);
      const masterArn = await service.createSecret(
        uniqueName('cli'),
        secretFor(master.username, master.password),
      );
      const arn = await service.createSecret(
        uniqueName('cli'),
        secretFor(base.username, base.password, { masterarn: masterArn }),
      );
      const before = await secretState(arn);
      const refused = await preflightJson(arn, server.caFile);
      expect(refused.status).toBe(1);
      expect(statusOf(refused.report, 'master', 'grants')).toMatchObject({
        status: 'fail',
        detail: expect.stringContaining(`SELECT, INSERT ON \`${db}\`.*`),
      });
      expect(statusOf(refused.report, 'master', 'clone name')?.status).toBe('pass');

      await mysqlRun(
        server,
        root,
        `GRANT SELECT, INSERT ON ${ident(db)}.* TO ${mysqlLit(master.username)}@'%' WITH GRANT OPTION`,
      );
      const passed = await preflightJson(arn, server.caFile);
      expect(passed.report.checks.filter((c) => c.status === 'fail')).toEqual([]);
      expect(passed.status).toBe(0);
      const clones = (await mysqlRun(
        server,
        root,
        `SELECT User FROM mysql.user WHERE User = ${mysqlLit(`${base.username}_clone`)}`,
      )) as unknown[][];
      expect(clones[0]).toEqual([]);
      expect(await secretState(arn)).toEqual(before);
    });

    it("alternating users: reports, read-only, an existing clone whose rights differ from the base user's", async () => {
      const base = await newUser([`SELECT ON ${ident(db)}.*`]);
      const master = await newUser();
      const clone = `${base.username}_clone`;
      await mysqlRun(
        server,
        root,
        `GRANT ALL PRIVILEGES ON *.* TO ${mysqlLit(master.username)}@'%' WITH GRANT OPTION`,
        `CREATE USER ${mysqlLit(clone)}@'%' IDENTIFIED BY 'Clone-password-1'`,
        `GRANT SELECT, DELETE ON ${ident(db)}.* TO ${mysqlLit(clone)}@'%'`,
      );
      const masterArn = await service.createSecret(
        uniqueName('cli'),
        secretFor(master.username, master.password),
      );
      const arn = await service.createSecret(
        uniqueName('cli'),
        secretFor(base.username, base.password, { masterarn: masterArn }),
      );
      const grants = () => mysqlRun(server, root, `SHOW GRANTS FOR ${mysqlLit(clone)}@'%'`);
      const before = await grants();
      const { report } = await preflightJson(arn, server.caFile);
      expect(statusOf(report, 'master', 'clone rights')).toMatchObject({
        status: 'warn',
        detail: expect.stringContaining(`has DELETE ON \`${db}\`.*`),
      });
      expect(await grants()).toEqual(before);
    });
  },
);

describe.each(env.mongodb.map((s) => [s.name, s] as const))('preflight on %s', (_name, server) => {
  const admin = mongoAdmin(server);
  const appDb = 'cli_app';
  const secretFor = mongoSecretFor(server, appDb);
  // The administrator as the master secret (its users are defined in its own database).
  const masterValue = mongoSecretFor(server, server.adminDatabase)(
    server.adminUser,
    server.adminPassword,
  );

  it('single user: passes, with privileges unknown where roles are not enforced; changes nothing', async () => {
    const username = uniqueName('cli');
    const password = 'Initial-password-1';
    const roles = server.supportsRoles ? [{ role: 'readWrite', db: appDb }] : [];
    await mongoCommand(server, admin, appDb, { createUser: username, pwd: password, roles });
    const arn = await service.createSecret(uniqueName('cli'), secretFor(username, password));
    const before = await secretState(arn);
    const { status, report } = await preflightJson(arn, server.caFile);
    expect(report.function).toBe('mongodb-single-user');
    expect(report.tls).toMatchObject({ source: 'probe', subject: 'CN=localhost' });
    const privileges = statusOf(report, 'database', 'privileges');
    if (server.supportsRoles) {
      // readWrite does not include changeOwnPassword: preflight says so.
      expect(privileges?.status).toBe('fail');
      expect(status).toBe(1);
    } else {
      expect(privileges).toMatchObject({
        status: 'unknown',
        detail: expect.stringContaining('FerretDB'),
      });
      expect(status).toBe(0);
    }
    expect(await secretState(arn)).toEqual(before);
    expect(await mongoCanLogIn(server, { username, password, database: appDb })).toBe(true);
  });

  it('alternating users: checks the master and the base user, and creates no clone', async () => {
    const username = uniqueName('cli');
    const password = 'Initial-password-1';
    await mongoCommand(server, admin, appDb, { createUser: username, pwd: password, roles: [] });
    const masterArn = await service.createSecret(uniqueName('cli'), masterValue);
    const arn = await service.createSecret(
      uniqueName('cli'),
      secretFor(username, password, { masterarn: masterArn }),
    );
    const { status, report } = await preflightJson(arn, server.caFile);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(status).toBe(0);
    expect(statusOf(report, 'master', 'base user')?.status).toBe('pass');
    expect(statusOf(report, 'master', 'privileges')?.status).toBe(
      server.supportsRoles ? 'pass' : 'unknown',
    );
    const users = await mongoCommand(server, admin, appDb, {
      usersInfo: { user: `${username}_clone`, db: appDb },
    });
    expect(users.users).toEqual([]);
  });

  it("alternating users: reports, read-only, whether an existing clone's roles equal the base user's", async () => {
    const username = uniqueName('cli');
    const clone = `${username}_clone`;
    const roles = server.supportsRoles ? [{ role: 'read', db: appDb }] : [];
    await mongoCommand(server, admin, appDb, { createUser: username, pwd: 'Base-1', roles });
    await mongoCommand(server, admin, appDb, { createUser: clone, pwd: 'Clone-1', roles });
    const masterArn = await service.createSecret(uniqueName('cli'), masterValue);
    const arn = await service.createSecret(
      uniqueName('cli'),
      secretFor(username, 'Base-1', { masterarn: masterArn }),
    );
    const level = await preflightJson(arn, server.caFile);
    expect(statusOf(level.report, 'master', 'clone rights')?.status).toBe('pass');
    if (!server.supportsRoles) return; // FerretDB 1.x stores no roles to differ.

    await mongoCommand(server, admin, appDb, {
      grantRolesToUser: clone,
      roles: [{ role: 'readWrite', db: 'other' }],
    });
    const drifted = await preflightJson(arn, server.caFile);
    expect(statusOf(drifted.report, 'master', 'clone rights')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('has role "readWrite" on database "other"'),
    });
  });
});
