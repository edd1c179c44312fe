import { readFileSync } from 'node:fs';
import { type Document, MongoClient, MongoServerError } from 'mongodb';
import type { MongoServer } from './environment';

export interface MongoLogin {
  username: string;
  password: string;
  /** Authentication database; default `admin`. */
  database?: string;
  /** Default: TLS verified against the server's test CA, on the TLS port. */
  tls?: boolean;
}

export function mongoAdmin(server: MongoServer): MongoLogin {
  return {
    username: server.adminUser,
    password: server.adminPassword,
    database: server.adminDatabase,
  };
}

/** A client logged in to `server`; the caller closes it. */
export async function connectMongo(server: MongoServer, login: MongoLogin): Promise<MongoClient> {
  const tls = login.tls ?? true;
  const port = tls ? server.port : (server.plainPort ?? server.port);
  const client = new MongoClient(`mongodb://${server.host}:${port}/`, {
    auth: { username: login.username, password: login.password },
    authSource: login.database ?? 'admin',
    tls,
    ...(tls && server.caFile ? { ca: readFileSync(server.caFile, 'utf8') } : {}),
    directConnection: true,
    serverSelectionTimeoutMS: 5000,
  });
  await client.connect();
  await client.db(login.database ?? 'admin').command({ ping: 1 });
  return client;
}

/** Runs one command as `login` in `database` and closes the connection. */
export async function mongoCommand(
  server: MongoServer,
  login: MongoLogin,
  database: string,
  command: Document,
): Promise<Document> {
  const client = await connectMongo(server, login);
  try {
    return await client.db(database).command(command);
  } finally {
    await client.close();
  }
}

/** True when the login succeeds, false on AuthenticationFailed (18). */
export async function mongoCanLogIn(server: MongoServer, login: MongoLogin): Promise<boolean> {
  try {
    await (await connectMongo(server, login)).close();
    return true;
  } catch (error) {
    if (error instanceof MongoServerError && error.code === 18) return false;
    throw error;
  }
}

/** The roles `usersInfo` reports for a user, sorted for comparison. */
export async function mongoRoles(
  server: MongoServer,
  user: string,
  database: string,
): Promise<string[]> {
  const reply = await mongoCommand(server, mongoAdmin(server), database, {
    usersInfo: { user, db: database },
  });
  const found = (reply.users as Document[])[0];
  return ((found?.roles as Document[] | undefined) ?? []).map((r) => `${r.role}@${r.db}`).sort();
}

/** A secret value for a user of `dbname` on `server`, with `extra` keys. */
export function mongoSecretFor(server: MongoServer, dbname: string) {
  return (username: string, password: string, extra: Record<string, unknown> = {}) => ({
    engine: 'mongo',
    host: server.host,
    port: server.port,
    username,
    password,
    dbname,
    ...extra,
  });
}
