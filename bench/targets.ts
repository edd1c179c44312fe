/**
 * What each function is measured against, and how to make users and secrets for it: PostgreSQL
 * (a server of the bench's own, with room for the fleet's connections), MariaDB (for the mysql-*
 * and mariadb-* functions alike) and FerretDB (for mongodb-*), all with TLS.
 */
import mysql2 from 'mysql2/promise';
import { escapeIdentifier as id, escapeLiteral as lit } from 'pg';
import type { MongoServer, MysqlServer, PostgresServer } from '../test/helpers/environment';
import { connectMongo, mongoAdmin } from '../test/helpers/mongo-client';
import { mysqlRoot, mysqlRun } from '../test/helpers/mysql-client';
import { connect, superuser } from '../test/helpers/postgres-client';
import type { RotationService } from '../test/helpers/rotation-service';

/** Where a secret points: the server itself, or a proxy in front of it. */
export interface Address {
  host: string;
  port: number;
}

export interface Target {
  fn: string;
  /** For the report: `PostgreSQL 17.10`, … */
  server: string;
  caFile: string | undefined;
  address: Address;
  /** Creates `count` users (for alternating users: base users, and one master) and their secrets. */
  createSecrets(count: number, via?: Address): Promise<string[]>;
}

let sequence = 0;
const name = (prefix: string) =>
  `${prefix}_${process.pid.toString(36)}_${(sequence++).toString(36)}`;
const PASSWORD = 'Bench-initial-password-1';

/** Runs `work` for every item, `width` at a time. */
export async function inBatches<T, R>(
  items: readonly T[],
  width: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += width) {
    results.push(...(await Promise.all(items.slice(i, i + width).map(work))));
  }
  return results;
}

export function postgresTargets(server: PostgresServer, service: RotationService): Target[] {
  const major = Number(server.version.split('.')[0]);
  const run = async (sql: string[]) => {
    const client = await connect(server, { ...superuser(server), tls: false });
    try {
      for (let i = 0; i < sql.length; i += 200) await client.query(sql.slice(i, i + 200).join(';'));
    } finally {
      await client.end();
    }
  };
  const secret = (via: Address, username: string, extra: Record<string, unknown> = {}) => ({
    engine: 'postgres',
    host: via.host,
    port: via.port,
    username,
    password: PASSWORD,
    dbname: 'postgres',
    ...extra,
  });
  const base = { server: `PostgreSQL ${server.version}`, caFile: server.caFile, address: server };
  return [
    {
      ...base,
      fn: 'postgresql-single-user',
      async createSecrets(count, via = server) {
        const users = Array.from({ length: count }, () => name('bs'));
        await run(users.map((u) => `CREATE ROLE ${id(u)} LOGIN PASSWORD ${lit(PASSWORD)}`));
        return inBatches(users, 20, (u) => service.createSecret(name('bench'), secret(via, u)));
      },
    },
    {
      ...base,
      fn: 'postgresql-alternating-users',
      async createSecrets(count, via = server) {
        const master = name('bm');
        const users = Array.from({ length: count }, () => name('ba'));
        await run([
          `CREATE ROLE ${id(master)} LOGIN CREATEROLE PASSWORD ${lit(PASSWORD)}`,
          ...users.flatMap((u) => [
            `CREATE ROLE ${id(u)} LOGIN PASSWORD ${lit(PASSWORD)}`,
            ...(major >= 16 ? [`GRANT ${id(u)} TO ${id(master)} WITH ADMIN OPTION`] : []),
          ]),
        ]);
        const masterArn = await service.createSecret(name('bench'), secret(via, master));
        return inBatches(users, 20, (u) =>
          service.createSecret(name('bench'), secret(via, u, { masterarn: masterArn })),
        );
      },
    },
  ];
}

/** The `<family>-*` functions on one MySQL or MariaDB server. */
export function mysqlTargets(
  server: MysqlServer,
  family: 'mysql' | 'mariadb',
  service: RotationService,
): Target[] {
  const run = (sql: string[]) => mysqlRun(server, mysqlRoot(server), ...sql);
  const e = mysql2.escape;
  {
    const secret = (via: Address, username: string, password: string, extra = {}) => ({
      engine: family,
      host: via.host,
      port: via.port,
      username,
      password,
      ...extra,
    });
    const base = {
      server:
        server.flavor === 'mysql'
          ? `MySQL ${server.version}`
          : `MariaDB ${server.version.replace(/-MariaDB.*/, '')}`,
      caFile: server.caFile,
      address: server,
    };
    return [
      {
        ...base,
        fn: `${family}-single-user`,
        async createSecrets(count, via = server) {
          const users = Array.from({ length: count }, () => name('bs'));
          await run(users.map((u) => `CREATE USER ${e(u)}@'%' IDENTIFIED BY ${e(PASSWORD)}`));
          return inBatches(users, 20, (u) =>
            service.createSecret(name('bench'), secret(via, u, PASSWORD)),
          );
        },
      },
      {
        ...base,
        fn: `${family}-alternating-users`,
        async createSecrets(count, via = server) {
          const users = Array.from({ length: count }, () => name('ba'));
          await run([
            'CREATE DATABASE IF NOT EXISTS bench',
            ...users.flatMap((u) => [
              `CREATE USER ${e(u)}@'%' IDENTIFIED BY ${e(PASSWORD)}`,
              `GRANT SELECT, INSERT ON bench.* TO ${e(u)}@'%'`,
            ]),
          ]);
          const masterArn = await service.createSecret(
            name('bench'),
            secret(via, server.rootUser, server.rootPassword),
          );
          return inBatches(users, 20, (u) =>
            service.createSecret(name('bench'), secret(via, u, PASSWORD, { masterarn: masterArn })),
          );
        },
      },
    ];
  }
}

export function mongoTargets(server: MongoServer, service: RotationService): Target[] {
  const database = 'bench';
  const createUsers = async (users: string[]) => {
    const client = await connectMongo(server, mongoAdmin(server));
    try {
      for (const user of users) {
        await client.db(database).command({ createUser: user, pwd: PASSWORD, roles: [] });
      }
    } finally {
      await client.close();
    }
  };
  const secret = (via: Address, username: string, extra: Record<string, unknown> = {}) => ({
    engine: 'mongo',
    host: via.host,
    port: via.port,
    username,
    password: PASSWORD,
    dbname: database,
    ...extra,
  });
  const base = {
    server: `FerretDB ${server.version}`,
    caFile: server.caFile,
    address: { host: server.host, port: server.port },
  };
  return [
    {
      ...base,
      fn: 'mongodb-single-user',
      async createSecrets(count, via = base.address) {
        const users = Array.from({ length: count }, () => name('bs'));
        await createUsers(users);
        return inBatches(users, 20, (u) => service.createSecret(name('bench'), secret(via, u)));
      },
    },
    {
      ...base,
      fn: 'mongodb-alternating-users',
      async createSecrets(count, via = base.address) {
        const users = Array.from({ length: count }, () => name('ba'));
        await createUsers(users);
        const masterArn = await service.createSecret(name('bench'), {
          engine: 'mongo',
          host: via.host,
          port: via.port,
          username: server.adminUser,
          password: server.adminPassword,
          dbname: server.adminDatabase,
        });
        return inBatches(users, 20, (u) =>
          service.createSecret(name('bench'), secret(via, u, { masterarn: masterArn })),
        );
      },
    },
  ];
}
