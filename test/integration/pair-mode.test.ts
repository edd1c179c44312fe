import { join } from 'node:path';
import { escapeIdentifier, escapeLiteral } from 'pg';
import type { PreflightReport } from '../../cli/preflight';
import { runCli } from '../helpers/cli-runner';
import { setHandlerEnvironment } from '../helpers/handler-env';
import {
  connectMongo,
  mongoAdmin,
  mongoCanLogIn,
  mongoCommand,
  mongoSecretFor,
} from '../helpers/mongo-client';
import {
  connectMysql,
  ident,
  lit,
  mysqlCanLogIn,
  mysqlRoot,
  mysqlRun,
} from '../helpers/mysql-client';
import { canLogIn, connect, runAs, superuser, uniqueName } from '../helpers/postgres-client';
import { type Handler, loadBundle, STEPS } from '../helpers/rotation-service';
import { suiteContext } from '../helpers/suite-context';

/**
 * Pair mode (README, "Pair mode"): the single-user functions rotate a secret with
 * `alternate_username` and `alternate_password` by having the idle user change its own password,
 * then swapping the two. Through the built bundles, against every real server and moto.
 */
const { env, service } = suiteContext('pair-mode');
const logFile = join(env.runDir, 'captured-logs', `pair-mode-cli-${process.pid}.log`);

type Value = Record<string, unknown>;

/** An application's connection, open across a rotation: `use` runs what the app needs. */
interface AppSession {
  use(): Promise<void>;
  close(): Promise<void>;
}

/** One function family on one server, as these tests need it. */
interface PairTarget {
  name: string;
  bundle: string;
  caFile: string | undefined;
  secretFor(username: string, password: string, extra?: Value): Value;
  /** Creates a user with the pair's rights (what the application needs). */
  createUser(username: string, password: string): Promise<void>;
  /** Takes a right of the pair away from `username`; returns words the refusal must contain. */
  revokeRight?(username: string): Promise<RegExp>;
  grantRight?(username: string): Promise<void>;
  canLogIn(username: string, password: string): Promise<boolean>;
  /** Logs in (a fresh login) and uses the pair's rights. */
  openApp(username: string, password: string): Promise<AppSession>;
}

function postgresTargets(): PairTarget[] {
  return env.postgres.map((server) => {
    const admin = superuser(server);
    const table = 'pair_mode_data';
    return {
      name: server.name,
      bundle: 'postgresql-single-user',
      caFile: server.caFile,
      secretFor: (username, password, extra = {}) => ({
        engine: 'postgres',
        host: server.host,
        port: server.port,
        username,
        password,
        dbname: 'postgres',
        ...extra,
      }),
      async createUser(username, password) {
        await runAs(
          server,
          admin,
          `CREATE TABLE IF NOT EXISTS ${table} (n int)`,
          `CREATE ROLE ${escapeIdentifier(username)} LOGIN PASSWORD ${escapeLiteral(password)}`,
          `GRANT SELECT, INSERT ON ${table} TO ${escapeIdentifier(username)}`,
        );
      },
      async revokeRight(username) {
        await runAs(server, admin, `REVOKE INSERT ON ${table} FROM ${escapeIdentifier(username)}`);
        return /lacks: INSERT on TABLE public\.pair_mode_data/;
      },
      async grantRight(username) {
        await runAs(server, admin, `GRANT INSERT ON ${table} TO ${escapeIdentifier(username)}`);
      },
      canLogIn: (username, password) => canLogIn(server, { username, password }),
      async openApp(username, password) {
        const client = await connect(server, { username, password });
        return {
          use: async () => {
            await client.query(`INSERT INTO ${table} VALUES (1)`);
          },
          close: () => client.end(),
        };
      },
    };
  });
}

function mysqlTargets(): PairTarget[] {
  return env.mysql.flatMap((server) =>
    (server.flavor === 'mariadb' ? ['mysql', 'mariadb'] : ['mysql']).map((family): PairTarget => {
      const root = mysqlRoot(server);
      const db = `pair_${family}`;
      return {
        name: `${family}-single-user on ${server.name}`,
        bundle: `${family}-single-user`,
        caFile: server.caFile,
        secretFor: (username, password, extra = {}) => ({
          engine: family,
          host: server.host,
          port: server.port,
          username,
          password,
          ...extra,
        }),
        async createUser(username, password) {
          await mysqlRun(
            server,
            root,
            `CREATE DATABASE IF NOT EXISTS ${ident(db)}`,
            `CREATE TABLE IF NOT EXISTS ${ident(db)}.t (n int)`,
            `CREATE USER ${lit(username)}@'%' IDENTIFIED BY ${lit(password)}`,
            `GRANT SELECT, INSERT ON ${ident(db)}.* TO ${lit(username)}@'%'`,
          );
        },
        async revokeRight(username) {
          await mysqlRun(server, root, `REVOKE INSERT ON ${ident(db)}.* FROM ${lit(username)}@'%'`);
          return /INSERT/;
        },
        async grantRight(username) {
          await mysqlRun(server, root, `GRANT INSERT ON ${ident(db)}.* TO ${lit(username)}@'%'`);
        },
        canLogIn: (username, password) => mysqlCanLogIn(server, { username, password }),
        async openApp(username, password) {
          const connection = await connectMysql(server, { username, password });
          return {
            use: async () => {
              await connection.query(`INSERT INTO ${ident(db)}.t VALUES (1)`);
            },
            close: () => connection.end(),
          };
        },
      };
    }),
  );
}

function mongoTargets(): PairTarget[] {
  return env.mongodb.map((server) => {
    const admin = mongoAdmin(server);
    const appDb = 'pairdb';
    return {
      name: server.name,
      bundle: 'mongodb-single-user',
      caFile: server.caFile,
      secretFor: mongoSecretFor(server, appDb),
      async createUser(username, password) {
        await mongoCommand(server, admin, appDb, {
          createUser: username,
          pwd: password,
          // FerretDB 1.x stores no roles: there the users have none (and every command is allowed).
          roles: server.supportsRoles ? [{ role: 'readWrite', db: appDb }] : [],
        });
      },
      ...(server.supportsRoles
        ? {
            async revokeRight(username: string) {
              await mongoCommand(server, admin, appDb, {
                revokeRolesFromUser: username,
                roles: [{ role: 'readWrite', db: appDb }],
              });
              return /readWrite/;
            },
            async grantRight(username: string) {
              await mongoCommand(server, admin, appDb, {
                grantRolesToUser: username,
                roles: [{ role: 'readWrite', db: appDb }],
              });
            },
          }
        : {}),
      canLogIn: (username, password) =>
        mongoCanLogIn(server, { username, password, database: appDb }),
      async openApp(username, password) {
        const client = await connectMongo(server, { username, password, database: appDb });
        return {
          use: async () => {
            await client.db(appDb).collection('things').insertOne({ n: 1 });
          },
          close: () => client.close(),
        };
      },
    };
  });
}

const targets = [...postgresTargets(), ...mysqlTargets(), ...mongoTargets()];

describe.each(targets.map((t) => [t.name, t] as const))('pair mode, %s', (_name, target) => {
  let handler: Handler;
  beforeAll(() => {
    handler = loadBundle(target.bundle);
  });
  beforeEach(() => setHandlerEnvironment(env, target.caFile));

  async function newPair(extra: Value = {}) {
    const blue = { username: uniqueName('blue'), password: 'Blue-password-1' };
    const green = { username: uniqueName('green'), password: 'Green-password-1' };
    await target.createUser(blue.username, blue.password);
    await target.createUser(green.username, green.password);
    const arn = await service.createSecret(
      uniqueName('pair'),
      target.secretFor(blue.username, blue.password, {
        alternate_username: green.username,
        alternate_password: green.password,
        ...extra,
      }),
    );
    return { blue, green, arn };
  }

  it('two rotations alternate the users, each changing only its own password; both log in after each', async () => {
    const { blue, green, arn } = await newPair({ note: 'kept' });

    await service.rotate(handler, arn);
    const first = await service.value(arn, 'AWSCURRENT');
    expect(first).toMatchObject({
      username: green.username,
      alternate_username: blue.username,
      alternate_password: blue.password,
      note: 'kept',
    });
    expect(first.password).not.toBe(green.password);
    expect(await target.canLogIn(green.username, String(first.password))).toBe(true);
    expect(await target.canLogIn(blue.username, blue.password)).toBe(true);
    expect(await target.canLogIn(green.username, green.password)).toBe(false);

    await service.rotate(handler, arn);
    const second = await service.value(arn, 'AWSCURRENT');
    expect(second).toMatchObject({
      username: blue.username,
      alternate_username: green.username,
      alternate_password: first.password,
    });
    expect(await target.canLogIn(blue.username, String(second.password))).toBe(true);
    expect(await target.canLogIn(green.username, String(first.password))).toBe(true);
    expect(await target.canLogIn(blue.username, blue.password)).toBe(false);
    // AWSPREVIOUS (the first rotation's version) still logs in: its user was not touched.
    const previous = await service.value(arn, 'AWSPREVIOUS');
    expect(await target.canLogIn(String(previous.username), String(previous.password))).toBe(true);
  });

  it('an application holding the old version keeps working at every step, and AWSCURRENT logs in throughout', async () => {
    const { arn } = await newPair();
    const old = await service.value(arn, 'AWSCURRENT');
    const app = await target.openApp(String(old.username), String(old.password));
    try {
      const token = await service.startRotation(arn);
      for (const step of STEPS) {
        await service.invoke(handler, step, arn, token);
        // The open session, a fresh login with the old version, and AWSCURRENT as it is now.
        await app.use();
        const fresh = await target.openApp(String(old.username), String(old.password));
        await fresh.use();
        await fresh.close();
        const current = await service.value(arn, 'AWSCURRENT');
        const now = await target.openApp(String(current.username), String(current.password));
        await now.use();
        await now.close();
      }
      expect((await service.labels(arn)).AWSCURRENT).toBe(token);
    } finally {
      await app.close();
    }
  });

  it('every step invoked twice gives the same result', async () => {
    const { green, arn } = await newPair();
    const token = await service.rotate(handler, arn, { twice: true });
    const current = await service.value(arn, 'AWSCURRENT');
    expect(current.username).toBe(green.username);
    expect(await target.canLogIn(green.username, String(current.password))).toBe(true);
    expect(await service.labels(arn)).toEqual({
      AWSCURRENT: token,
      AWSPREVIOUS: expect.any(String),
    });
  });

  if (target.revokeRight && target.grantRight) {
    const { revokeRight, grantRight } = target;
    it('refuses to promote an idle user that lacks a right of the live one, names it, and finishes once it is granted', async () => {
      const { blue, green, arn } = await newPair();
      const words = await revokeRight(green.username);
      const token = await service.startRotation(arn);
      await service.invoke(handler, 'createSecret', arn, token);
      await service.invoke(handler, 'setSecret', arn, token);
      const refused = await service.invokeCaptured(handler, 'testSecret', arn, token);
      expect(refused.error).toMatchObject({ name: 'PrivilegeDriftError' });
      const message = (refused.error as Error).message;
      expect(message).toMatch(words);
      expect(message).toContain(`"${green.username}"`);
      expect(message).not.toContain(blue.password);
      // Nothing promoted; the live user works.
      expect((await service.labels(arn)).AWSCURRENT).not.toBe(token);
      expect(await target.canLogIn(blue.username, blue.password)).toBe(true);

      // The advice, followed: give the idle user the same rights, then finish the rotation.
      await grantRight(green.username);
      await service.invoke(handler, 'testSecret', arn, token);
      await service.invoke(handler, 'finishSecret', arn, token);
      expect((await service.labels(arn)).AWSCURRENT).toBe(token);
    });
  }

  describe('preflight (read-only)', () => {
    async function preflight(arn: string) {
      const run = await runCli(
        [
          'preflight',
          '--secret-id',
          arn,
          '--json',
          '--endpoint',
          env.secretsManagerEndpoint,
          ...(target.caFile ? ['--ca-file', target.caFile] : []),
        ],
        logFile,
      );
      const report = JSON.parse(run.stdout) as PreflightReport;
      const check = (section: string, name: string) =>
        report.checks.find((c) => c.section === section && c.check === name);
      return { run, report, check };
    }

    it('checks both logins, that each may change its own password, and the parity; changes nothing', async () => {
      const { blue, green, arn } = await newPair();
      const before = await service.stages(arn);
      const { run, report, check } = await preflight(arn);
      expect(report.function).toBe(target.bundle);
      expect(check('secret', 'pair')?.detail).toContain(`"${green.username}" (idle)`);
      expect(check('database', 'login')?.status).toBe('pass');
      expect(check('alternate', 'login')).toMatchObject({
        status: 'pass',
        detail: expect.stringContaining(`"${green.username}"`),
      });
      expect(check('alternate', 'privileges')?.status).not.toBe('fail');
      expect(check('pair', 'parity')?.status).toBe('pass');
      expect(check('pair', 'not compared')?.status).toBe('info');
      expect(report.result).toBe('pass');
      expect(run.status).toBe(0);
      expect(run.stdout).not.toContain(green.password);
      expect(await service.stages(arn)).toEqual(before);
      expect(await target.canLogIn(blue.username, blue.password)).toBe(true);
      expect(await target.canLogIn(green.username, green.password)).toBe(true);
    });

    if (target.revokeRight) {
      const { revokeRight } = target;
      it('fails the parity when the idle user lacks a right, naming it', async () => {
        const { green, arn } = await newPair();
        const words = await revokeRight(green.username);
        const { report, check } = await preflight(arn);
        expect(check('pair', 'parity')).toMatchObject({
          status: 'fail',
          detail: expect.stringMatching(words),
        });
        expect(report.result).toBe('fail');
      });
    }

    it("fails when the idle user's password is wrong, naming the key", async () => {
      const { blue, green } = await newPair();
      const arn = await service.createSecret(
        uniqueName('pair_bad'),
        target.secretFor(blue.username, blue.password, {
          alternate_username: green.username,
          alternate_password: 'Not-the-password-1',
        }),
      );
      const { report, check } = await preflight(arn);
      expect(check('alternate', 'login')).toMatchObject({
        status: 'fail',
        detail: expect.stringContaining('"alternate_password"'),
      });
      expect(report.result).toBe('fail');
    });
  });

  describe('bad secrets: a clear error naming the key, and nothing changes', () => {
    async function expectCreateRefused(value: Value, words: RegExp) {
      const arn = await service.createSecret(uniqueName('pair_bad'), value);
      const before = await service.labels(arn);
      const token = await service.startRotation(arn);
      const run = await service.invokeCaptured(handler, 'createSecret', arn, token);
      expect(run.error).toMatchObject({ name: 'SecretValueError' });
      expect((run.error as Error).message).toMatch(words);
      await service.removeStage(arn, 'AWSPENDING', token);
      // RotateSecret's empty version stays empty; the labels are where they were.
      expect(await service.labels(arn)).toEqual(before);
      await expect(service.value(arn, 'AWSPENDING')).rejects.toThrow();
      return arn;
    }

    it('only alternate_username', async () => {
      const { blue, green } = await newPair();
      await expectCreateRefused(
        target.secretFor(blue.username, blue.password, { alternate_username: green.username }),
        /key "alternate_password" is missing: pair mode needs both/,
      );
      expect(await target.canLogIn(blue.username, blue.password)).toBe(true);
    });

    it('only alternate_password', async () => {
      const { blue, green } = await newPair();
      await expectCreateRefused(
        target.secretFor(blue.username, blue.password, { alternate_password: green.password }),
        /key "alternate_username" is missing: pair mode needs both/,
      );
    });

    it('the same user twice', async () => {
      const { blue } = await newPair();
      await expectCreateRefused(
        target.secretFor(blue.username, blue.password, {
          alternate_username: blue.username,
          alternate_password: blue.password,
        }),
        /key "alternate_username" names the same user as "username"/,
      );
      expect(await target.canLogIn(blue.username, blue.password)).toBe(true);
    });

    it('a wrong alternate password: setSecret names the idle user and the key; both users unchanged', async () => {
      const { blue, green } = await newPair();
      const arn = await service.createSecret(
        uniqueName('pair_bad'),
        target.secretFor(blue.username, blue.password, {
          alternate_username: green.username,
          alternate_password: 'Not-the-password-1',
        }),
      );
      const token = await service.startRotation(arn);
      await service.invoke(handler, 'createSecret', arn, token);
      const run = await service.invokeCaptured(handler, 'setSecret', arn, token);
      expect(run.error).toMatchObject({ name: 'NoWorkingCredentialsError' });
      const message = (run.error as Error).message;
      expect(message).toContain(`logs in as "${green.username}" (the idle user of the pair`);
      expect(message).toContain('"alternate_password"');
      expect(message).not.toContain('Not-the-password-1');
      expect(run.output).not.toContain('Not-the-password-1');
      expect(await target.canLogIn(blue.username, blue.password)).toBe(true);
      expect(await target.canLogIn(green.username, green.password)).toBe(true);
      expect((await service.labels(arn)).AWSCURRENT).not.toBe(token);
    });
  });
});
