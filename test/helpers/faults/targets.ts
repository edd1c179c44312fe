import { escapeIdentifier, escapeLiteral } from 'pg';
import type { DatabaseEngine } from '../../../shared/engines/engine';
import { mongodb } from '../../../shared/engines/mongodb';
import { mariadb as mariadbEngine, mysql as mysqlEngine } from '../../../shared/engines/mysql';
import { postgresql } from '../../../shared/engines/postgresql';
import type { MongoServer, MysqlServer, PostgresServer, TestEnvironment } from '../environment';
import { mongoAdmin, mongoCanLogIn, mongoCommand } from '../mongo-client';
import { ident, lit, mysqlCanLogIn, mysqlRoot, mysqlRun } from '../mysql-client';
import { canLogIn, createMasterAndBase, runAs, superuser, uniqueName } from '../postgres-client';
import type { RotationService } from '../rotation-service';

/**
 * The rows of the matrix for every function family: its two functions, and pair mode, which the
 * single-user function runs for a secret with `alternate_username` and `alternate_password` (two
 * users a DBA made with the same rights; README, "Pair mode").
 */
export const STRATEGIES = ['single-user', 'alternating-users', 'pair'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** The function a row runs: pair mode is the single-user function's. */
export function functionStrategy(strategy: Strategy): 'single-user' | 'alternating-users' {
  return strategy === 'pair' ? 'single-user' : strategy;
}

/** A secret value as stored: the JSON object. */
export type SecretValue = Record<string, unknown>;

/** The secrets of one fault point, naming the proxy's port as the database's. */
export interface Fixture {
  arn: string;
  /** The user the rotation starts from (AWSCURRENT's username). */
  username: string;
  /** Pair mode: the idle user (AWSCURRENT's `alternate_username`) the rotation starts from. */
  alternate?: string;
  /** The master user, for alternating users. */
  master?: string;
}

/**
 * One function family on one real server: how to create the users and secrets a rotation needs,
 * and how to check credentials directly against the server (never through the proxy).
 */
export interface FaultTarget {
  /** The function family: `postgresql`, `mysql`, `mariadb` or `mongodb`. */
  family: string;
  /** The functions' engine adapter: only used to measure how many exchanges a login takes. */
  engine: DatabaseEngine;
  /** The server's name in the test environment, e.g. `postgresql-17`. */
  serverName: string;
  /** Where the proxy forwards to. */
  upstream: { host: string; port: number };
  caFile: string | undefined;
  /** The bundle under dist/ for a strategy (for pair mode, the single-user function's). */
  functionName(strategy: Strategy): string;
  /**
   * Creates a fresh user (for alternating users also a master; for pair mode two users with the
   * same rights) on the server and their secrets in Secrets Manager, all naming 127.0.0.1:`port`.
   */
  setUp(strategy: Strategy, port: number, service: RotationService): Promise<Fixture>;
  /** True when the secret's username and password log in to the real server; false if refused. */
  canLogIn(value: SecretValue): Promise<boolean>;
  /** Sets a user's password as an administrator would, outside rotation. */
  setPasswordByHand(value: SecretValue, password: string): Promise<void>;
  /**
   * Pair mode: takes a right both users of a pair have away from `username`, and gives it back.
   * Absent where the server stores no rights (FerretDB 1.x), so the parity sweep cannot run there.
   */
  revokeRight?(username: string): Promise<void>;
  grantRight?(username: string): Promise<void>;
  /** The strategies to run; default all of {@link STRATEGIES}. */
  strategies?: readonly Strategy[];
  /** Settings the function gets besides the harness's own (e.g. RETAIN_CURRENT_PASSWORD). */
  functionEnv?: Record<string, string>;
  /** Single-user with dual passwords: AWSCURRENT always logs in, AWSPREVIOUS after completion. */
  dualPasswords?: boolean;
  /** Removes the point's users once it is done, where leaving them would slow the server down. */
  tearDown?(fixture: Fixture): Promise<void>;
}

const INITIAL_PASSWORD = 'Initial-password-1';
/** Pair mode: what both users of a pair may use (a table, or a database on MySQL). */
const PAIR_TABLE = 'fault_pair';
/** Pair mode: the idle user's first password. */
const IDLE_PASSWORD = 'Idle-password-1';

/** Pair mode: the two users' names, of the same length (the boundaries must not depend on which). */
function pairNames(): { live: string; idle: string } {
  return { live: uniqueName('fpl'), idle: uniqueName('fpi') };
}

/**
 * Runs each task once the one before it has ended. PostgreSQL refuses two concurrent changes to
 * one table's privileges ("tuple concurrently updated"), and fault points set up side by side.
 */
function serially(): <T>(task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>) => {
    const result = tail.then(task, task);
    tail = result.catch(() => undefined);
    return result;
  };
}

/** Runs `work` once, the first time the returned function is called; later calls share it. */
function once(work: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= work().catch((error: unknown) => {
      done = undefined;
      throw error;
    });
    return done;
  };
}

/**
 * The credentials of a secret value, for a check on the real server. The harness's own logins are
 * in plain text (the servers accept it on 127.0.0.1): they check passwords, not TLS, and cost less.
 */
function secretLogin(value: SecretValue): { username: string; password: string; tls: false } {
  return { username: String(value.username), password: String(value.password), tls: false };
}

/** PostgreSQL, as the postgresql-* functions see it. */
export function postgresTarget(server: PostgresServer): FaultTarget {
  const admin = { ...superuser(server), tls: false };
  // Pair mode's users share rights on this table, which the parity sweep takes from one of them.
  const pairTable = once(async () => {
    await runAs(server, admin, `CREATE TABLE IF NOT EXISTS ${PAIR_TABLE} (n int)`);
  });
  // Every change to the pair table's privileges, one at a time.
  const tableAcl = serially();
  const secret = (port: number, username: string, password: string, extra: SecretValue = {}) => ({
    engine: 'postgres',
    host: '127.0.0.1',
    port,
    username,
    password,
    dbname: 'postgres',
    ...extra,
  });
  return {
    family: 'postgresql',
    engine: postgresql,
    serverName: server.name,
    upstream: { host: server.host, port: server.port },
    caFile: server.caFile,
    functionName: (strategy) => `postgresql-${functionStrategy(strategy)}`,
    async setUp(strategy, port, service) {
      if (strategy === 'pair') {
        await pairTable();
        const { live, idle } = pairNames();
        await tableAcl(() =>
          runAs(
            server,
            admin,
            ...[
              [live, INITIAL_PASSWORD],
              [idle, IDLE_PASSWORD],
            ].flatMap(([user, password]) => [
              `CREATE ROLE ${escapeIdentifier(String(user))} LOGIN PASSWORD ${escapeLiteral(String(password))}`,
              `GRANT SELECT, INSERT ON ${PAIR_TABLE} TO ${escapeIdentifier(String(user))}`,
            ]),
          ),
        );
        const arn = await service.createSecret(
          uniqueName('fault'),
          secret(port, live, INITIAL_PASSWORD, {
            alternate_username: idle,
            alternate_password: IDLE_PASSWORD,
          }),
        );
        return { arn, username: live, alternate: idle };
      }
      if (strategy === 'single-user') {
        const username = uniqueName('fsu');
        await runAs(
          server,
          admin,
          `CREATE ROLE ${escapeIdentifier(username)} LOGIN PASSWORD ${escapeLiteral(INITIAL_PASSWORD)}`,
        );
        const arn = await service.createSecret(
          uniqueName('fault'),
          secret(port, username, INITIAL_PASSWORD),
        );
        return { arn, username };
      }
      const { master, base } = await createMasterAndBase(server, { prefix: 'f' });
      const masterArn = await service.createSecret(
        uniqueName('fault_master'),
        secret(port, master.username, master.password),
      );
      const arn = await service.createSecret(
        uniqueName('fault'),
        secret(port, base.username, base.password, { masterarn: masterArn }),
      );
      return { arn, username: base.username };
    },
    canLogIn: (value) => canLogIn(server, secretLogin(value)),
    async setPasswordByHand(value, password) {
      await runAs(
        server,
        admin,
        `ALTER ROLE ${escapeIdentifier(String(value.username))} PASSWORD ${escapeLiteral(password)}`,
      );
    },
    async revokeRight(username) {
      await tableAcl(() =>
        runAs(server, admin, `REVOKE INSERT ON ${PAIR_TABLE} FROM ${escapeIdentifier(username)}`),
      );
    },
    async grantRight(username) {
      await tableAcl(() =>
        runAs(server, admin, `GRANT INSERT ON ${PAIR_TABLE} TO ${escapeIdentifier(username)}`),
      );
    },
  };
}

/** A MariaDB server, as the `family`-* functions (mysql or mariadb) see it. */
export function mysqlTarget(
  server: MysqlServer,
  family: 'mysql' | 'mariadb',
  userGrants: readonly string[] = [],
): FaultTarget {
  const root = { ...mysqlRoot(server), tls: false };
  const pairDatabase = once(async () => {
    await mysqlRun(
      server,
      root,
      `CREATE DATABASE IF NOT EXISTS ${ident(PAIR_TABLE)}`,
      `CREATE TABLE IF NOT EXISTS ${ident(PAIR_TABLE)}.t (n int)`,
    );
  });
  const secret = (port: number, username: string, password: string, extra: SecretValue = {}) => ({
    engine: family,
    host: '127.0.0.1',
    port,
    username,
    password,
    ...extra,
  });
  return {
    family,
    engine: family === 'mysql' ? mysqlEngine : mariadbEngine,
    serverName: server.name,
    upstream: { host: server.host, port: server.port },
    caFile: server.caFile,
    functionName: (strategy) => `${family}-${functionStrategy(strategy)}`,
    async setUp(strategy, port, service) {
      if (strategy === 'pair') {
        await pairDatabase();
        const { live, idle } = pairNames();
        await mysqlRun(
          server,
          root,
          ...[
            [live, INITIAL_PASSWORD],
            [idle, IDLE_PASSWORD],
          ].flatMap(([user, password]) => [
            `CREATE USER ${lit(String(user))}@'%' IDENTIFIED BY ${lit(String(password))}`,
            `GRANT SELECT, INSERT ON ${ident(PAIR_TABLE)}.* TO ${lit(String(user))}@'%'`,
            ...userGrants.map((g) => `GRANT ${g} TO ${lit(String(user))}@'%'`),
          ]),
        );
        const arn = await service.createSecret(
          uniqueName('fault'),
          secret(port, live, INITIAL_PASSWORD, {
            alternate_username: idle,
            alternate_password: IDLE_PASSWORD,
          }),
        );
        return { arn, username: live, alternate: idle };
      }
      const username = uniqueName(strategy === 'single-user' ? 'fsu' : 'fapp');
      await mysqlRun(
        server,
        root,
        `CREATE USER ${lit(username)}@'%' IDENTIFIED BY ${lit(INITIAL_PASSWORD)}`,
        `GRANT SELECT ON mysql.help_topic TO ${lit(username)}@'%'`,
        ...userGrants.map((g) => `GRANT ${g} TO ${lit(username)}@'%'`),
      );
      if (strategy === 'single-user') {
        const arn = await service.createSecret(
          uniqueName('fault'),
          secret(port, username, INITIAL_PASSWORD),
        );
        return { arn, username };
      }
      const master = { username: uniqueName('frotator'), password: 'Master-password-1' };
      await mysqlRun(
        server,
        root,
        `CREATE USER ${lit(master.username)}@'%' IDENTIFIED BY ${lit(master.password)}`,
        `GRANT ALL PRIVILEGES ON *.* TO ${lit(master.username)}@'%' WITH GRANT OPTION`,
      );
      const masterArn = await service.createSecret(
        uniqueName('fault_master'),
        secret(port, master.username, master.password),
      );
      const arn = await service.createSecret(
        uniqueName('fault'),
        secret(port, username, INITIAL_PASSWORD, { masterarn: masterArn }),
      );
      return { arn, username };
    },
    canLogIn: (value) => mysqlCanLogIn(server, secretLogin(value)),
    async setPasswordByHand(value, password) {
      await mysqlRun(
        server,
        root,
        `ALTER USER ${lit(String(value.username))}@'%' IDENTIFIED BY ${lit(password)}`,
      );
    },
    async revokeRight(username) {
      await mysqlRun(
        server,
        root,
        `REVOKE INSERT ON ${ident(PAIR_TABLE)}.* FROM ${lit(username)}@'%'`,
      );
    },
    async grantRight(username) {
      await mysqlRun(
        server,
        root,
        `GRANT INSERT ON ${ident(PAIR_TABLE)}.* TO ${lit(username)}@'%'`,
      );
    },
  };
}

/**
 * mysql-single-user with RETAIN_CURRENT_PASSWORD=true on a MySQL 8.0.14+ server: the user holds
 * APPLICATION_PASSWORD_ADMIN, and the matrix checks dual passwords' promise (DualPasswords).
 */
export function dualPasswordsTarget(server: MysqlServer): FaultTarget {
  return {
    ...mysqlTarget(server, 'mysql', ['APPLICATION_PASSWORD_ADMIN ON *.*']),
    family: 'mysql-retain',
    functionName: (strategy) => `mysql-${functionStrategy(strategy)}`,
    strategies: ['single-user'],
    functionEnv: { RETAIN_CURRENT_PASSWORD: 'true' },
    dualPasswords: true,
  };
}

/** A MongoDB-protocol server (FerretDB here), as the mongodb-* functions see it. */
export function mongoTarget(server: MongoServer): FaultTarget {
  // Plain text where the server has a plain-text path (FerretDB's own port, or MongoDB's
  // allowTLS), TLS otherwise: the harness's logins check passwords, not TLS.
  const plain = server.plainPort !== undefined;
  const admin = { ...mongoAdmin(server), tls: !plain };
  const appDb = 'faultdb';
  const secret = (port: number, username: string, password: string, extra: SecretValue = {}) => ({
    engine: 'mongo',
    host: '127.0.0.1',
    port,
    username,
    password,
    dbname: appDb,
    ...extra,
  });
  // FerretDB 1.x stores no roles; on MongoDB the users get what they need to rotate.
  const roles = (...list: { role: string; db: string }[]) => (server.supportsRoles ? list : []);
  /** A role with changeOwnPassword on the application's database, for the users of a pair. */
  const ownPasswordRole = async () => {
    const role = uniqueName('own_password');
    await mongoCommand(server, admin, appDb, {
      createRole: role,
      privileges: [{ resource: { db: appDb, collection: '' }, actions: ['changeOwnPassword'] }],
      roles: [],
    });
    return [{ role, db: appDb }];
  };
  return {
    family: 'mongodb',
    engine: mongodb,
    serverName: server.name,
    upstream: { host: server.host, port: server.port },
    caFile: server.caFile,
    functionName: (strategy) => `mongodb-${functionStrategy(strategy)}`,
    async setUp(strategy, port, service) {
      if (strategy === 'pair') {
        const { live, idle } = pairNames();
        // One role for both, so that their rights are the same, role names included.
        const own = server.supportsRoles ? await ownPasswordRole() : [];
        for (const [user, password] of [
          [live, INITIAL_PASSWORD],
          [idle, IDLE_PASSWORD],
        ] as const) {
          await mongoCommand(server, admin, appDb, {
            createUser: user,
            pwd: password,
            roles: roles({ role: 'readWrite', db: appDb }, ...own),
          });
        }
        const arn = await service.createSecret(
          uniqueName('fault'),
          secret(port, live, INITIAL_PASSWORD, {
            alternate_username: idle,
            alternate_password: IDLE_PASSWORD,
          }),
        );
        return { arn, username: live, alternate: idle };
      }
      const username = uniqueName(strategy === 'single-user' ? 'fsu' : 'fapp');
      if (strategy === 'single-user') {
        await mongoCommand(server, admin, appDb, {
          createUser: username,
          pwd: INITIAL_PASSWORD,
          roles: roles({ role: 'read', db: appDb }),
        });
        if (server.supportsRoles) {
          const own = uniqueName('own_password');
          await mongoCommand(server, admin, appDb, {
            createRole: own,
            privileges: [
              { resource: { db: appDb, collection: '' }, actions: ['changeOwnPassword'] },
            ],
            roles: [],
          });
          await mongoCommand(server, admin, appDb, {
            grantRolesToUser: username,
            roles: [{ role: own, db: appDb }],
          });
        }
        const arn = await service.createSecret(
          uniqueName('fault'),
          secret(port, username, INITIAL_PASSWORD),
        );
        return { arn, username };
      }
      const master = { username: uniqueName('frotator'), password: 'Master-password-1' };
      await mongoCommand(server, admin, 'admin', {
        createUser: master.username,
        pwd: master.password,
        roles: roles({ role: 'userAdminAnyDatabase', db: 'admin' }),
      });
      await mongoCommand(server, admin, appDb, {
        createUser: username,
        pwd: INITIAL_PASSWORD,
        roles: roles({ role: 'read', db: appDb }),
      });
      const masterArn = await service.createSecret(
        uniqueName('fault_master'),
        secret(port, master.username, master.password, { dbname: 'admin' }),
      );
      const arn = await service.createSecret(
        uniqueName('fault'),
        secret(port, username, INITIAL_PASSWORD, { masterarn: masterArn }),
      );
      return { arn, username, master: master.username };
    },
    canLogIn: (value) =>
      mongoCanLogIn(server, {
        ...secretLogin(value),
        tls: !plain,
        database: String(value.dbname ?? 'admin'),
      }),
    // FerretDB 1.x on SQLite finds a user by reading every user: a thousand left behind make
    // each login of the run slower.
    async tearDown({ username, master, alternate }) {
      const users = [
        [appDb, username],
        [appDb, `${username}_clone`],
        [appDb, alternate],
        ['admin', master],
      ] as const;
      for (const [db, user] of users) {
        if (!user) continue;
        await mongoCommand(server, admin, db, { dropUser: user }).catch(() => undefined);
      }
    },
    async setPasswordByHand(value, password) {
      await mongoCommand(server, admin, String(value.dbname ?? 'admin'), {
        updateUser: String(value.username),
        pwd: password,
      });
    },
    ...(server.supportsRoles
      ? {
          async revokeRight(username: string) {
            await mongoCommand(server, admin, appDb, {
              revokeRolesFromUser: username,
              roles: [{ role: 'readWrite', db: appDb }],
            });
          },
          async grantRight(username: string) {
            await mongoCommand(server, admin, appDb, {
              grantRolesToUser: username,
              roles: [{ role: 'readWrite', db: appDb }],
            });
          },
        }
      : {}),
  };
}

/** A server's version as numbers, for ordering: `10.11.19-MariaDB-…` → [10, 11, 19], `v1.24.0` → [1, 24, 0]. */
function versionNumbers(version: string): number[] {
  return (version.match(/\d+(?:\.\d+)*/)?.[0] ?? '0').split('.').map(Number);
}

/** The server with the highest version, or `undefined` for none. */
export function newest<T extends { version: string }>(servers: readonly T[]): T | undefined {
  const compare = (a: number[], b: number[]): number => {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = (a[i] ?? 0) - (b[i] ?? 0);
      if (d !== 0) return d;
    }
    return 0;
  };
  return [...servers].sort((a, b) =>
    compare(versionNumbers(b.version), versionNumbers(a.version)),
  )[0];
}

/**
 * The targets of the fault matrix: one server per engine, the newest the environment has, and every
 * function family that exists for it.
 * - PostgreSQL: the newest server (PostgreSQL 17 locally).
 * - mariadb-*: the newest MariaDB server that also accepts plain text (the harness checks
 *   passwords with plain-text logins); mysql-*: the newest such MySQL server, or else that
 *   MariaDB, as in the MySQL suite (locally there is no MySQL server).
 * - mongodb-*: the newest MongoDB server, or else FerretDB (locally FerretDB 1.24).
 * A missing engine fails the run, as everywhere in the integration suites.
 */
export function faultTargets(env: TestEnvironment): Record<string, FaultTarget[]> {
  const need = <T extends { name: string }>(server: T | undefined, what: string, from: T[]): T => {
    if (!server) {
      throw new Error(
        `The fault matrix needs ${what}; the environment has ${from.map((s) => s.name).join(', ') || 'none'}`,
      );
    }
    return server;
  };
  const plain = env.mysql.filter((s) => !s.requireSecureTransport);
  const mariadb = newest(plain.filter((s) => s.flavor === 'mariadb'));
  const mysql = newest(plain.filter((s) => s.flavor === 'mysql')) ?? mariadb;
  const mongo = newest(env.mongodb.filter((s) => s.kind === 'mongodb')) ?? newest(env.mongodb);
  return {
    postgresql: [postgresTarget(need(newest(env.postgres), 'a PostgreSQL server', env.postgres))],
    mariadb: [
      ...(mariadb ? [mysqlTarget(mariadb, 'mariadb')] : []),
      mysqlTarget(
        need(mysql, 'a MySQL or MariaDB server without require_secure_transport', env.mysql),
        'mysql',
      ),
      ...(mysql?.flavor === 'mysql' ? [dualPasswordsTarget(mysql)] : []),
    ],
    mongodb: [mongoTarget(need(mongo, 'a MongoDB or FerretDB server', env.mongodb))],
  };
}
