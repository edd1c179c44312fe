import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { escapeIdentifier as id, escapeLiteral as lit } from 'pg';
import { functionArgs, runCli } from '../helpers/cli-runner';
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
const logFile = join(env.runDir, 'captured-logs', `tls-identity-${process.pid}.log`);
const service = new RotationService(env.secretsManagerEndpoint, logFile);
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
  /** The single-user function, by name (for the runner). */
  fn: string;
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
      fn: 'postgresql-single-user',
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
      fn: `${server.flavor}-single-user`,
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
      fn: 'mongodb-single-user',
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

/**
 * A CA trusted only as a "system" root: Node started with --use-system-ca reads the system store,
 * and SSL_CERT_FILE makes the test CA that store; NODE_EXTRA_CA_CERTS is unset. The rotation runs
 * in the runner's child process, so Node starts with those settings as Lambda's would with
 * NODE_OPTIONS. verify-ca must refuse the server (it trusts only the Amazon RDS authorities and
 * NODE_EXTRA_CA_CERTS), and verify-full must accept it, the name matching. Without the system
 * store, verify-full refuses it too: the store is what makes the difference.
 */
describe.each(cases.map((c) => [c.name, c] as const))(
  'a CA trusted only as a system root, on %s',
  (_name, c) => {
    it('verify-ca refuses it and changes nothing; verify-full accepts it', async () => {
      if (!c.caFile) throw new Error(`${c.name} has no test CA`);
      const username = uniqueName('tlssys');
      const value = await c.createUser(username);
      const arn = await service.createSecret(uniqueName('secret'), { ...value, ...c.upstream });
      const rotate = (mode: string, systemStore: boolean, extra: string[] = []) =>
        runCli(
          [
            'rotate',
            '--secret-id',
            arn,
            ...functionArgs(c.fn),
            '--env',
            `TLS_MODE=${mode}`,
            '--retries',
            '0',
            '--endpoint',
            env.secretsManagerEndpoint,
            ...extra,
          ],
          logFile,
          {
            NODE_EXTRA_CA_CERTS: undefined,
            NODE_OPTIONS: systemStore ? '--use-system-ca' : undefined,
            SSL_CERT_FILE: systemStore ? c.caFile : undefined,
          },
        );
      const refused = /certificate|self[- ]signed|unable to verify|issuer/i;

      const unknownCa = await rotate('verify-full', false);
      expect(unknownCa.status).toBe(1);
      expect(`${unknownCa.stdout}${unknownCa.stderr}`).toMatch(refused);

      const verifyCa = await rotate('verify-ca', true, ['--resume']);
      expect(verifyCa.status).toBe(1);
      expect(`${verifyCa.stdout}${verifyCa.stderr}`).toMatch(refused);
      expect(await c.canLogIn(username, PASSWORD)).toBe(true);
      expect((await service.value(arn, 'AWSCURRENT')).password).toBe(PASSWORD);

      const verifyFull = await rotate('verify-full', true, ['--resume']);
      expect(verifyFull.status).toBe(0);
      const current = await service.value(arn, 'AWSCURRENT');
      expect(await c.canLogIn(username, String(current.password))).toBe(true);
      expect(await c.canLogIn(username, PASSWORD)).toBe(false);
    }, 60_000);
  },
);
