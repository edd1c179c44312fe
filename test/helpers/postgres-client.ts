import { readFileSync } from 'node:fs';
import { Client, DatabaseError, escapeIdentifier, escapeLiteral } from 'pg';
import type { PostgresServer } from './environment';

export interface Login {
  username: string;
  password: string;
  database?: string;
  /** Default: TLS verified against the server's test CA. */
  tls?: boolean;
}

/** A client logged in to `server`; the caller ends it. */
export async function connect(server: PostgresServer, login: Login): Promise<Client> {
  const tls = login.tls ?? true;
  const client = new Client({
    host: server.host,
    port: server.port,
    user: login.username,
    password: login.password,
    database: login.database ?? 'postgres',
    ssl:
      tls && server.caFile
        ? { ca: readFileSync(server.caFile, 'utf8'), rejectUnauthorized: true }
        : false,
    connectionTimeoutMillis: 5000,
  });
  await client.connect();
  return client;
}

export function superuser(server: PostgresServer): Login {
  return { username: server.superuser, password: server.superuserPassword };
}

/** Runs statements as `login` and ends the session. */
export async function runAs(
  server: PostgresServer,
  login: Login,
  ...sql: string[]
): Promise<unknown[][]> {
  const client = await connect(server, login);
  try {
    const results: unknown[][] = [];
    for (const statement of sql) results.push((await client.query(statement)).rows);
    return results;
  } finally {
    await client.end();
  }
}

/** True when the login succeeds, false when PostgreSQL says the password is wrong. */
export async function canLogIn(server: PostgresServer, login: Login): Promise<boolean> {
  try {
    const client = await connect(server, login);
    await client.end();
    return true;
  } catch (error) {
    if (error instanceof DatabaseError && error.code === '28P01') return false;
    throw error;
  }
}

/** The SQLSTATE a statement fails with as `login`, or `undefined` when it succeeds. */
export async function failureCode(
  server: PostgresServer,
  login: Login,
  sql: string,
): Promise<string | undefined> {
  try {
    await runAs(server, login, sql);
    return undefined;
  } catch (error) {
    if (error instanceof DatabaseError) return error.code;
    throw error;
  }
}

/** A name no other test uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * A master with CREATEROLE (not superuser) and a base user, created by the superuser. On
 * PostgreSQL 16 and later CREATEROLE alone no longer lets the master manage a role someone else
 * created, so it is given ADMIN OPTION on the base user unless `adminOption` is false.
 */
export async function createMasterAndBase(
  server: PostgresServer,
  options: { adminOption?: boolean; prefix?: string } = {},
): Promise<{ master: Login; base: Login & { username: string }; major: number }> {
  const prefix = options.prefix ?? '';
  const master = { username: uniqueName(`${prefix}rotator`), password: 'Master-password-1' };
  const base = { username: uniqueName(`${prefix}app`), password: 'Base-password-1' };
  const major = Number(server.version.split('.')[0]);
  await runAs(
    server,
    superuser(server),
    `CREATE ROLE ${escapeIdentifier(master.username)} LOGIN CREATEROLE PASSWORD ${escapeLiteral(master.password)}`,
    `CREATE ROLE ${escapeIdentifier(base.username)} LOGIN PASSWORD ${escapeLiteral(base.password)}`,
    ...(major >= 16 && options.adminOption !== false
      ? [
          `GRANT ${escapeIdentifier(base.username)} TO ${escapeIdentifier(master.username)} WITH ADMIN OPTION`,
        ]
      : []),
  );
  return { master, base, major };
}
