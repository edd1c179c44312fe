import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { escapeIdentifier as id, escapeLiteral as lit } from 'pg';
import { readEnvironment } from '../helpers/environment';
import { setHandlerEnvironment } from '../helpers/handler-env';
import { mongoAdmin, mongoCanLogIn, mongoCommand } from '../helpers/mongo-client';
import { mysqlCanLogIn, lit as mysqlLit, mysqlRoot, mysqlRun } from '../helpers/mysql-client';
import { canLogIn, runAs, superuser, uniqueName } from '../helpers/postgres-client';
import { type Handler, loadBundle, RotationService } from '../helpers/rotation-service';

/**
 * Host name verification, for real, on every engine: each server's certificate chains to the
 * trusted test CA (NODE_EXTRA_CA_CERTS) and names localhost and 127.0.0.1. Reached as 127.0.0.2
 * (through a TCP relay on that loopback address), the same certificate names another host:
 * verify-full must refuse it, saying so, and change nothing; verify-ca, which trusts that CA, must
 * accept it.
 */
const env = readEnvironment();
const service = new RotationService(
  env.secretsManagerEndpoint,
  join(env.runDir, 'captured-logs', `tls-identity-${process.pid}.log`),
);
const saved = { ...process.env };
afterAll(() => {
  process.env = saved;
});

const OTHER_HOST = '127.0.0.2';
const PASSWORD = 'Initial-password-1';

/** A TCP relay listening on 127.0.0.2 that forwards to the server, bytes untouched. */
async function relay(
  host: string,
  port: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = tcpConnect(port, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, OTHER_HOST, resolve);
  });
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

interface Case {
  name: string;
  caFile: string | undefined;
  upstream: { host: string; port: number };
  handler: Handler;
  /** Creates the user; returns the secret's value, minus host and port. */
  createUser(username: string): Promise<Record<string, unknown>>;
  canLogIn(username: string, password: string): Promise<boolean>;
}

const cases: Case[] = [
  ...env.postgres.map(
    (server): Case => ({
      name: server.name,
      caFile: server.caFile,
      upstream: { host: server.host, port: server.port },
      handler: loadBundle('postgresql-single-user'),
      async createUser(username) {
        await runAs(
          server,
          superuser(server),
          `CREATE ROLE ${id(username)} LOGIN PASSWORD ${lit(PASSWORD)}`,
        );
        return { engine: 'postgres', username, password: PASSWORD, dbname: 'postgres' };
      },
      canLogIn: (username, password) => canLogIn(server, { username, password }),
    }),
  ),
  ...env.mysql.map(
    (server): Case => ({
      name: server.name,
      caFile: server.caFile,
      upstream: { host: server.host, port: server.port },
      handler: loadBundle(`${server.flavor}-single-user`),
      async createUser(username) {
        await mysqlRun(
          server,
          mysqlRoot(server),
          `CREATE USER ${mysqlLit(username)}@'%' IDENTIFIED BY ${mysqlLit(PASSWORD)}`,
        );
        return { engine: server.flavor, username, password: PASSWORD };
      },
      canLogIn: (username, password) => mysqlCanLogIn(server, { username, password }),
    }),
  ),
  ...env.mongodb.map(
    (server): Case => ({
      name: server.name,
      caFile: server.caFile,
      upstream: { host: server.host, port: server.port },
      handler: loadBundle('mongodb-single-user'),
      async createUser(username) {
        await mongoCommand(server, mongoAdmin(server), 'admin', {
          createUser: username,
          pwd: PASSWORD,
          // root includes changeOwnPassword; FerretDB 1.x stores no roles.
          roles: server.supportsRoles ? [{ role: 'root', db: 'admin' }] : [],
        });
        return { engine: 'mongo', username, password: PASSWORD, dbname: 'admin' };
      },
      canLogIn: (username, password) =>
        mongoCanLogIn(server, { username, password, database: 'admin' }),
    }),
  ),
];

describe.each(cases.map((c) => [c.name, c] as const))('host names on %s', (_name, c) => {
  let proxy: { port: number; close(): Promise<void> };
  beforeAll(async () => {
    proxy = await relay(c.upstream.host, c.upstream.port);
  });
  afterAll(() => proxy.close());

  async function secret() {
    const username = uniqueName('tlsname');
    const value = await c.createUser(username);
    const arn = await service.createSecret(uniqueName('secret'), {
      ...value,
      host: OTHER_HOST,
      port: proxy.port,
    });
    return { username, arn };
  }

  // MongoDB's server selection tries until DB_CONNECT_TIMEOUT_SECONDS (5 s) before it fails.
  it('verify-full refuses a trusted certificate that names another host, saying so, and changes nothing', async () => {
    setHandlerEnvironment(env, c.caFile);
    const { username, arn } = await secret();
    const token = await service.startRotation(arn);
    await service.invoke(c.handler, 'createSecret', arn, token);
    await expect(service.invoke(c.handler, 'setSecret', arn, token)).rejects.toMatchObject({
      name: 'DatabaseUnreachableError',
      message: expect.stringMatching(/altnames|does not match|hostname/i),
    });
    expect(await c.canLogIn(username, PASSWORD)).toBe(true);
  }, 30_000);

  it('verify-ca accepts it: the CA is one verify-ca trusts (NODE_EXTRA_CA_CERTS)', async () => {
    setHandlerEnvironment(env, c.caFile, { TLS_MODE: 'verify-ca' });
    const { username, arn } = await secret();
    await service.rotate(c.handler, arn);
    const current = await service.value(arn, 'AWSCURRENT');
    expect(await c.canLogIn(username, String(current.password))).toBe(true);
    expect(await c.canLogIn(username, PASSWORD)).toBe(false);
  });
});
