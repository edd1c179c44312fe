/**
 * The servers `npm run demo -- --engine <name>` can show: how each is started on this machine,
 * how the demo's users are made, and how a login is proven. PostgreSQL comes from npm; MariaDB
 * (which the mysql-* functions serve as well as MySQL) from Debian's package, and FerretDB (a
 * MongoDB-compatible server) from scripts/install-ferretdb.sh; when one is missing, the demo says
 * how to get it.
 */
import { readFileSync } from 'node:fs';
import { MongoClient, MongoServerError } from 'mongodb';
import mysql2 from 'mysql2/promise';
import { Client, DatabaseError, escapeLiteral as lit } from 'pg';
import type { TestCertificates } from '../test/helpers/environment/certificates';
import type { ServerUser } from '../test/helpers/environment/child-processes';
import { findFerretdb, startLocalFerretdb } from '../test/helpers/environment/local-ferretdb';
import { findMariadb, startLocalMysql } from '../test/helpers/environment/local-mysql';
import {
  findEmbeddedPostgres,
  startLocalPostgres,
} from '../test/helpers/environment/local-postgres';
import type { Started } from '../test/helpers/environment/types';

export interface DemoServer {
  /** e.g. `PostgreSQL 17.6`. */
  label: string;
  host: string;
  port: number;
  /** The secret's `engine` key and the functions' name prefix. */
  secretEngine: string;
  functionPrefix: string;
  /** Extra secret keys (`dbname`). */
  secretFields: Record<string, unknown>;
  /** Creates demo_app, the master demo_rotator and demo_service; prints each statement. */
  createUsers(say: (line: string) => void): Promise<void>;
  /** Logs in over verified TLS and says who the session is; `undefined` when refused. */
  whoAmI(username: string, password: string): Promise<string | undefined>;
  /** Pair mode, where the demo shows it: two equal users, and an application's session. */
  pair?: {
    /** Creates demo_blue and demo_green with the same rights; prints each statement. */
    createUsers(say: (line: string) => void): Promise<void>;
    /** Logs in over verified TLS as the application would; `use` runs its query. */
    openApp(username: string, password: string): Promise<DemoApp>;
  };
}

/** An application's open session. */
export interface DemoApp {
  use(): Promise<void>;
  close(): Promise<void>;
}

export const PASSWORDS = {
  demo_app: 'demo-app-initial-1',
  demo_rotator: 'demo-rotator-1',
  demo_service: 'demo-service-initial-1',
  demo_blue: 'demo-blue-initial-1',
  demo_green: 'demo-green-initial-1',
} as const;

export const DEMO_ENGINES = ['postgresql', 'mysql', 'mongodb'] as const;
export type DemoEngine = (typeof DEMO_ENGINES)[number];

interface StartContext {
  runDir: string;
  certificates: TestCertificates;
  port: number;
  /** A second port, for FerretDB's plain-text listener. */
  otherPort: number;
  runAs: ServerUser | undefined;
  track<T>(started: Promise<Started<T>>): Promise<T>;
}

const hide = (sql: string) => sql.replace(/(PASSWORD|BY) '[^']*'/g, "$1 '…'");

/** Runs each statement in turn, showing it (its passwords hidden) once it has run. */
async function runShown(
  run: (sql: string) => Promise<unknown>,
  say: (line: string) => void,
  statements: readonly string[],
): Promise<void> {
  for (const sql of statements) {
    await run(sql);
    say(`  ${hide(sql)}`);
  }
}

export async function startDemoServer(engine: DemoEngine, c: StartContext): Promise<DemoServer> {
  if (engine === 'mysql') return startMariadb(c);
  if (engine === 'mongodb') return startFerretdb(c);
  return startPostgres(c);
}

async function startPostgres(c: StartContext): Promise<DemoServer> {
  const build = await findEmbeddedPostgres();
  const server = await c.track(
    startLocalPostgres({
      name: 'postgresql',
      build,
      runDir: c.runDir,
      port: c.port,
      certificates: c.certificates,
      runAs: c.runAs,
    }),
  );
  const ssl = { ca: readFileSync(c.certificates.caFile, 'utf8'), rejectUnauthorized: true };
  return {
    label: `PostgreSQL ${server.version}`,
    host: server.host,
    port: server.port,
    secretEngine: 'postgres',
    functionPrefix: 'postgresql',
    secretFields: { dbname: 'postgres' },
    async createUsers(say) {
      const admin = new Client({
        host: server.host,
        port: server.port,
        user: server.superuser,
        password: server.superuserPassword,
        database: 'postgres',
      });
      await admin.connect();
      try {
        await runShown((sql) => admin.query(sql), say, [
          `CREATE ROLE demo_app LOGIN PASSWORD ${lit(PASSWORDS.demo_app)}`,
          `CREATE ROLE demo_rotator LOGIN CREATEROLE PASSWORD ${lit(PASSWORDS.demo_rotator)}`,
          `CREATE ROLE demo_service LOGIN PASSWORD ${lit(PASSWORDS.demo_service)}`,
          // PostgreSQL 16+: CREATEROLE manages only roles it holds ADMIN OPTION on.
          'GRANT demo_service TO demo_rotator WITH ADMIN OPTION',
          'CREATE TABLE orders (id int)',
          'ALTER TABLE orders OWNER TO demo_service',
        ]);
      } finally {
        await admin.end();
      }
    },
    async whoAmI(username, password) {
      const client = new Client({
        host: server.host,
        port: server.port,
        user: username,
        password,
        database: 'postgres',
        ssl,
      });
      try {
        await client.connect();
        const { rows } = await client.query<{ session: string; current: string; reads: boolean }>(
          `SELECT session_user AS session, current_user AS current,
                  has_table_privilege('orders', 'SELECT') AS reads`,
        );
        const row = rows[0];
        // A clone's sessions act as the base user (`SET role`), so both names are shown.
        const acting = row?.session === row?.current ? '' : `, acting as ${row?.current}`;
        let orders = '';
        if (row?.reads) {
          await client.query('SELECT count(*) FROM orders');
          orders = '; reads table orders (owned by demo_service)';
        }
        return `logged in as ${row?.session}${acting}${orders}`;
      } catch (error) {
        if (error instanceof DatabaseError && error.code === '28P01') return undefined;
        throw error;
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    pair: {
      async createUsers(say) {
        const admin = new Client({
          host: server.host,
          port: server.port,
          user: server.superuser,
          password: server.superuserPassword,
          database: 'postgres',
        });
        await admin.connect();
        try {
          await runShown((sql) => admin.query(sql), say, [
            `CREATE ROLE demo_blue LOGIN PASSWORD ${lit(PASSWORDS.demo_blue)}`,
            `CREATE ROLE demo_green LOGIN PASSWORD ${lit(PASSWORDS.demo_green)}`,
            'CREATE TABLE visits (at timestamptz DEFAULT now())',
            'GRANT SELECT, INSERT ON visits TO demo_blue, demo_green',
          ]);
        } finally {
          await admin.end();
        }
      },
      async openApp(username, password) {
        const client = new Client({
          host: server.host,
          port: server.port,
          user: username,
          password,
          database: 'postgres',
          ssl,
        });
        await client.connect();
        return {
          use: async () => {
            await client.query('INSERT INTO visits DEFAULT VALUES');
          },
          close: () => client.end(),
        };
      },
    },
  };
}

async function startMariadb(c: StartContext): Promise<DemoServer> {
  const build = await findMariadb(c.runAs);
  const server = await c.track(
    startLocalMysql({
      name: 'mariadb',
      build,
      runDir: c.runDir,
      port: c.port,
      certificates: c.certificates,
      requireSecureTransport: false,
    }),
  );
  const ssl = { ca: readFileSync(c.certificates.caFile, 'utf8'), rejectUnauthorized: true };
  const connect = (user: string, password: string) =>
    mysql2.createConnection({ host: server.host, port: server.port, user, password, ssl });
  const q = (value: string) => mysql2.escape(value);
  return {
    label: `MariaDB ${server.version} (the mysql-* functions serve MariaDB as well as MySQL)`,
    host: server.host,
    port: server.port,
    secretEngine: 'mysql',
    functionPrefix: 'mysql',
    secretFields: {},
    async createUsers(say) {
      const admin = await connect(server.rootUser, server.rootPassword);
      try {
        await runShown((sql) => admin.query(sql), say, [
          'CREATE DATABASE shop',
          'CREATE TABLE shop.orders (id int)',
          `CREATE USER 'demo_app'@'%' IDENTIFIED BY ${q(PASSWORDS.demo_app)}`,
          `CREATE USER 'demo_rotator'@'%' IDENTIFIED BY ${q(PASSWORDS.demo_rotator)}`,
          "GRANT ALL PRIVILEGES ON *.* TO 'demo_rotator'@'%' WITH GRANT OPTION",
          `CREATE USER 'demo_service'@'%' IDENTIFIED BY ${q(PASSWORDS.demo_service)}`,
          "GRANT SELECT, INSERT ON shop.orders TO 'demo_service'@'%'",
        ]);
      } finally {
        await admin.end();
      }
    },
    async whoAmI(username, password) {
      let connection: mysql2.Connection;
      try {
        connection = await connect(username, password);
      } catch (error) {
        if ((error as { errno?: number }).errno === 1045) return undefined;
        throw error;
      }
      try {
        const [rows] = await connection.query<mysql2.RowDataPacket[]>(
          'SELECT CURRENT_USER() AS user',
        );
        let orders = '';
        try {
          await connection.query('SELECT count(*) FROM shop.orders');
          orders = '; reads table shop.orders';
        } catch {
          // demo_app has no grant on it
        }
        return `logged in as ${rows[0]?.user}${orders}`;
      } finally {
        await connection.end();
      }
    },
  };
}

async function startFerretdb(c: StartContext): Promise<DemoServer> {
  const binary = await findFerretdb();
  const server = await c.track(
    startLocalFerretdb({
      name: 'ferretdb',
      binary,
      runDir: c.runDir,
      port: c.port,
      plainPort: c.otherPort,
      certificates: c.certificates,
    }),
  );
  const ca = readFileSync(c.certificates.caFile, 'utf8');
  const connect = (username: string, password: string) =>
    new MongoClient(`mongodb://${server.host}:${server.port}/`, {
      auth: { username, password },
      authSource: 'admin',
      tls: true,
      ca,
      serverSelectionTimeoutMS: 5000,
    }).connect();
  return {
    label: `FerretDB ${server.version} (MongoDB wire protocol; stores no roles)`,
    host: server.host,
    port: server.port,
    secretEngine: 'mongo',
    functionPrefix: 'mongodb',
    secretFields: { dbname: 'admin' },
    async createUsers(say) {
      const admin = await connect(server.adminUser, server.adminPassword);
      try {
        for (const name of ['demo_app', 'demo_rotator', 'demo_service'] as const) {
          await admin.db('admin').command({ createUser: name, pwd: PASSWORDS[name], roles: [] });
          say(`  db.createUser({ user: "${name}", pwd: "…", roles: [] }) in admin`);
        }
      } finally {
        await admin.close();
      }
    },
    async whoAmI(username, password) {
      let client: MongoClient;
      try {
        client = await connect(username, password);
      } catch (error) {
        if (error instanceof MongoServerError && error.code === 18) return undefined;
        throw error;
      }
      try {
        const status = await client.db('admin').command({ connectionStatus: 1 });
        const users = (status.authInfo?.authenticatedUsers ?? []) as { user: string }[];
        return `logged in as ${users.map((u) => u.user).join(', ') || username}`;
      } finally {
        await client.close();
      }
    },
  };
}
