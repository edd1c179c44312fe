import { readFileSync } from 'node:fs';
import mysql2, { type Connection } from 'mysql2/promise';
import type { MysqlServer } from './environment';

export interface MysqlLogin {
  username: string;
  password: string;
  /** Default: TLS verified against the server's test CA. */
  tls?: boolean;
}

export function mysqlRoot(server: MysqlServer): MysqlLogin {
  return { username: server.rootUser, password: server.rootPassword };
}

export async function connectMysql(server: MysqlServer, login: MysqlLogin): Promise<Connection> {
  const tls = login.tls ?? true;
  return mysql2.createConnection({
    host: server.host,
    port: server.port,
    user: login.username,
    password: login.password,
    ssl:
      tls && server.caFile
        ? { ca: readFileSync(server.caFile, 'utf8'), rejectUnauthorized: true }
        : undefined,
    connectTimeout: 5000,
  });
}

/** Runs statements as `login` and closes the connection; returns each statement's rows. */
export async function mysqlRun(
  server: MysqlServer,
  login: MysqlLogin,
  ...sql: string[]
): Promise<unknown[]> {
  const connection = await connectMysql(server, login);
  try {
    const results: unknown[] = [];
    for (const statement of sql) results.push((await connection.query(statement))[0]);
    return results;
  } finally {
    await connection.end();
  }
}

/**
 * The host part the server gives this machine's connections (`USER()`): `localhost` for a local
 * server reached on 127.0.0.1, the bridge's address for a container reached through a published
 * port. A user defined at this host (rather than '%') can log in from here.
 */
export async function mysqlClientHost(server: MysqlServer): Promise<string> {
  const [rows] = (await mysqlRun(
    server,
    mysqlRoot(server),
    "SELECT SUBSTRING_INDEX(USER(), '@', -1) AS host",
  )) as [Array<{ host: string }>];
  const host = rows[0]?.host;
  if (!host) throw new Error(`${server.name} did not say which host it sees this client at`);
  return host;
}

/** True when the login succeeds, false when the server says access is denied (1045). */
export async function mysqlCanLogIn(server: MysqlServer, login: MysqlLogin): Promise<boolean> {
  try {
    await (await connectMysql(server, login)).end();
    return true;
  } catch (error) {
    if ((error as { errno?: number }).errno === 1045) return false;
    throw error;
  }
}

/** The server error number a statement fails with as `login`, or `undefined` when it succeeds. */
export async function mysqlFailure(
  server: MysqlServer,
  login: MysqlLogin,
  sql: string,
): Promise<number | undefined> {
  try {
    await mysqlRun(server, login, sql);
    return undefined;
  } catch (error) {
    const errno = (error as { errno?: number }).errno;
    if (typeof errno === 'number') return errno;
    throw error;
  }
}

/**
 * Runs each probe statement as `login` (each on its own connection) and returns what it answered:
 * `undefined` for success, else the server's error number, keyed by the statement.
 */
export async function mysqlOutcomes<T extends Record<string, number | undefined>>(
  server: MysqlServer,
  login: MysqlLogin,
  probes: T,
): Promise<Record<string, number | undefined>> {
  return Object.fromEntries(
    await Promise.all(
      Object.keys(probes).map(
        async (sql) => [sql, await mysqlFailure(server, login, sql)] as const,
      ),
    ),
  );
}

export const lit = (value: string) => mysql2.escape(value);
export const ident = (value: string) => mysql2.escapeId(value);
