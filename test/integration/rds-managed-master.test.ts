import { createServer, request, type Server } from 'node:http';
import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  type CreateDBInstanceCommandInput,
  CreateDBInstanceReadReplicaCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { escapeIdentifier as id, escapeLiteral as pgLit } from 'pg';
import type { PreflightReport } from '../../cli/preflight';
import { runCli } from '../helpers/cli-runner';
import type { MongoServer, MysqlServer, PostgresServer } from '../helpers/environment';
import { setHandlerEnvironment } from '../helpers/handler-env';
import { mongoAdmin, mongoCanLogIn, mongoCommand } from '../helpers/mongo-client';
import { lit, mysqlCanLogIn, mysqlRoot, mysqlRun } from '../helpers/mysql-client';
import { canLogIn, runAs, superuser, uniqueName } from '../helpers/postgres-client';
import { loadBundle } from '../helpers/rotation-service';
import { suiteContext } from '../helpers/suite-context';

/**
 * Master secrets that RDS manages (`ManageMasterUserPassword`), as moto's RDS creates them: the
 * secret holds only `username` and `password`, and its system tag names the instance or cluster.
 * The functions find the server through RDS (DescribeDBInstances, DescribeDBClusters). moto's
 * endpoints resolve nowhere, so a proxy in front of moto's RDS API, outside the code under test,
 * rewrites each endpoint address to the local server's (the port is the server's own, given at
 * creation); the functions reach it through the SDK's own AWS_ENDPOINT_URL_RDS.
 */
const { env, service } = suiteContext('rds-managed-master');
const logFile = `${env.runDir}/captured-logs/rds-managed-master-cli-${process.pid}.log`;
const rds = new RDSClient({
  endpoint: env.secretsManagerEndpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});

/** Database identifier → the address its endpoint is rewritten to. */
const addresses = new Map<string, string>();
/** Cluster identifier → the address its reader endpoint is rewritten to. */
const readerAddresses = new Map<string, string>();
/**
 * Database identifier → the engine name RDS would report. moto 5.2 has no DocumentDB: a `docdb`
 * cluster is made as `aurora-postgresql` there, and its answers are given DocumentDB's engine name.
 */
const engineNames = new Map<string, string>();
let proxy: Server;
let proxyUrl: string;

beforeAll(async () => {
  const upstream = new URL(env.secretsManagerEndpoint);
  proxy = createServer((incoming, outgoing) => {
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
      },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          // <Address>id.xxxx.rds.amazonaws.com</Address> (instances), <Endpoint>id.cluster-….</Endpoint>
          // and <ReaderEndpoint> (clusters): the host part names the database identifier.
          let body = Buffer.concat(chunks).toString('utf8');
          for (const [identifier, engine] of engineNames) {
            if (body.includes(`<DBClusterIdentifier>${identifier}</DBClusterIdentifier>`)) {
              body = body.replace(/<Engine>[^<]*<\/Engine>/g, `<Engine>${engine}</Engine>`);
            }
          }
          body = body.replace(
            /<(Address|Endpoint|ReaderEndpoint)>([a-z0-9-]+)\.[^<]*<\/\1>/g,
            (all, tag, name) => {
              const address = (tag === 'ReaderEndpoint' ? readerAddresses : addresses).get(name);
              return address ? `<${tag}>${address}</${tag}>` : all;
            },
          );
          const headers = { ...answer.headers, 'content-length': String(Buffer.byteLength(body)) };
          outgoing.writeHead(answer.statusCode ?? 500, headers);
          outgoing.end(body);
        });
      },
    );
    forward.on('error', () => outgoing.destroy());
    incoming.pipe(forward);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
});

afterAll(async () => {
  rds.destroy();
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
});

const ENGINE_VERSIONS: Record<string, string> = {
  postgres: '16.4',
  mysql: '8.0.39',
  mariadb: '10.11.9',
};

/** Creates the database in moto's RDS, managed master secret and all; returns that secret. */
async function managedMaster(
  kind: 'instance' | 'cluster',
  engine: string,
  port: number,
  address: string,
  master: { username: string; password: string },
  /** Where the instance's read replica, or the cluster's reader endpoint, is made to point. */
  readerAddress?: string,
): Promise<string> {
  const identifier = uniqueName(`db-${kind}`).replace(/_/g, '-');
  addresses.set(identifier, address);
  if (readerAddress && kind === 'cluster') readerAddresses.set(identifier, readerAddress);
  if (engine === 'docdb') engineNames.set(identifier, engine);
  let secretArn: string | undefined;
  if (kind === 'instance') {
    const input: CreateDBInstanceCommandInput = {
      DBInstanceIdentifier: identifier,
      DBInstanceClass: 'db.t3.micro',
      Engine: engine,
      AllocatedStorage: 20,
      MasterUsername: master.username,
      ManageMasterUserPassword: true,
      Port: port,
      // moto knows no default version for every engine (none for mariadb).
      EngineVersion: ENGINE_VERSIONS[engine],
    };
    secretArn = (await rds.send(new CreateDBInstanceCommand(input))).DBInstance?.MasterUserSecret
      ?.SecretArn;
  } else {
    secretArn = (
      await rds.send(
        new CreateDBClusterCommand({
          DBClusterIdentifier: identifier,
          Engine: engine === 'docdb' ? 'aurora-postgresql' : engine,
          MasterUsername: master.username,
          ManageMasterUserPassword: true,
          Port: port,
        }),
      )
    ).DBCluster?.MasterUserSecret?.SecretArn;
  }
  if (!secretArn) throw new Error(`moto made no managed master secret for ${identifier}`);
  // RDS keeps the secret's value in step with the master user; the test's master is a real one.
  await service.client.send(
    new PutSecretValueCommand({ SecretId: secretArn, SecretString: JSON.stringify(master) }),
  );
  if (readerAddress && kind === 'instance') {
    const replica = `${identifier}-replica`;
    addresses.set(replica, readerAddress);
    await rds.send(
      new CreateDBInstanceReadReplicaCommand({
        DBInstanceIdentifier: replica,
        SourceDBInstanceIdentifier: identifier,
        DBInstanceClass: 'db.t3.micro',
      }),
    );
  }
  return secretArn;
}

interface Case {
  name: string;
  fn: string;
  secretEngine: string;
  /** RDS engine names: an instance's and a cluster's. */
  instanceEngine?: string;
  clusterEngine?: string;
  server: { host: string; port: number; caFile: string | undefined };
  dbname?: string;
  /** Creates a master able to manage the base user, and the base user. */
  createUsers(): Promise<{
    master: { username: string; password: string };
    base: { username: string; password: string };
  }>;
  canLogIn(username: string, password: string): Promise<boolean>;
}

const pg = env.postgres.at(-1) as PostgresServer;
const mysqlServer = env.mysql.find((s) => s.flavor === 'mysql') as MysqlServer;
const mariadbServer = env.mysql.find((s) => s.flavor === 'mariadb') as MysqlServer;
const mongo = env.mongodb[0] as MongoServer;

const mysqlCase = (server: MysqlServer, family: 'mysql' | 'mariadb'): Case => ({
  name: server.name,
  fn: `${family}-alternating-users`,
  secretEngine: family,
  instanceEngine: family,
  clusterEngine: family === 'mysql' ? 'aurora-mysql' : undefined,
  server,
  async createUsers() {
    const master = { username: uniqueName('rdsmaster'), password: 'Master-password-1' };
    const base = { username: uniqueName('rdsapp'), password: 'Base-password-1' };
    await mysqlRun(
      server,
      mysqlRoot(server),
      `CREATE USER ${lit(master.username)}@'%' IDENTIFIED BY ${lit(master.password)}`,
      `GRANT ALL PRIVILEGES ON *.* TO ${lit(master.username)}@'%' WITH GRANT OPTION`,
      `CREATE USER ${lit(base.username)}@'%' IDENTIFIED BY ${lit(base.password)}`,
    );
    return { master, base };
  },
  canLogIn: (username, password) => mysqlCanLogIn(server, { username, password }),
});

const cases: Case[] = [
  {
    name: pg.name,
    fn: 'postgresql-alternating-users',
    secretEngine: 'postgres',
    instanceEngine: 'postgres',
    clusterEngine: 'aurora-postgresql',
    server: pg,
    dbname: 'postgres',
    async createUsers() {
      const master = { username: uniqueName('rdsmaster'), password: 'Master-password-1' };
      const base = { username: uniqueName('rdsapp'), password: 'Base-password-1' };
      await runAs(
        pg,
        superuser(pg),
        `CREATE ROLE ${id(master.username)} LOGIN CREATEROLE PASSWORD ${pgLit(master.password)}`,
        `CREATE ROLE ${id(base.username)} LOGIN PASSWORD ${pgLit(base.password)}`,
        `GRANT ${id(base.username)} TO ${id(master.username)} WITH ADMIN OPTION`,
      );
      return { master, base };
    },
    canLogIn: (username, password) => canLogIn(pg, { username, password }),
  },
  mysqlCase(mysqlServer, 'mysql'),
  mysqlCase(mariadbServer, 'mariadb'),
  {
    name: mongo.name,
    fn: 'mongodb-alternating-users',
    secretEngine: 'docdb',
    clusterEngine: 'docdb',
    server: mongo,
    dbname: 'admin',
    async createUsers() {
      const master = { username: uniqueName('rdsmaster'), password: 'Master-password-1' };
      const base = { username: uniqueName('rdsapp'), password: 'Base-password-1' };
      for (const user of [master, base]) {
        await mongoCommand(mongo, mongoAdmin(mongo), 'admin', {
          createUser: user.username,
          pwd: user.password,
          roles: mongo.supportsRoles ? [{ role: 'root', db: 'admin' }] : [],
        });
      }
      return { master, base };
    },
    canLogIn: (username, password) =>
      mongoCanLogIn(mongo, { username, password, database: 'admin' }),
  },
];

const kinds = cases.flatMap((c) => [
  ...(c.instanceEngine ? [[c.name, 'instance', c.instanceEngine, c] as const] : []),
  ...(c.clusterEngine ? [[c.name, 'cluster', c.clusterEngine, c] as const] : []),
]);

describe.each(kinds)(
  '%s, master secret managed by RDS for a DB %s (%s)',
  (_n, kind, rdsEngine, c) => {
    const handler = loadBundle(c.fn);
    const userSecret = (base: { username: string; password: string }, masterarn: string) => ({
      engine: c.secretEngine,
      host: c.server.host,
      port: c.server.port,
      username: base.username,
      password: base.password,
      masterarn,
      ...(c.dbname ? { dbname: c.dbname } : {}),
    });

    it('rotates: the server comes from RDS, never from a secret', async () => {
      setHandlerEnvironment(env, c.server.caFile, { AWS_ENDPOINT_URL_RDS: proxyUrl });
      const { master, base } = await c.createUsers();
      const masterArn = await managedMaster(kind, rdsEngine, c.server.port, c.server.host, master);
      const arn = await service.createSecret(uniqueName('secret'), userSecret(base, masterArn));
      await service.rotate(handler, arn);
      const current = await service.value(arn, 'AWSCURRENT');
      expect(current.username).toBe(`${base.username}_clone`);
      expect(await c.canLogIn(String(current.username), String(current.password))).toBe(true);

      // preflight reads the master secret as the function does, through RDS.
      const run = await runCli(
        [
          'preflight',
          '--secret-id',
          arn,
          '--json',
          '--endpoint',
          env.secretsManagerEndpoint,
          ...(c.server.caFile ? ['--ca-file', c.server.caFile] : []),
        ],
        logFile,
        { AWS_ENDPOINT_URL_RDS: proxyUrl },
      );
      const report = JSON.parse(run.stdout) as PreflightReport;
      const check = report.checks.find((x) => x.section === 'master' && x.check === 'secret');
      expect(check).toMatchObject({ status: 'pass' });
    });

    it('accepts a user secret on a read replica or reader; the change is made on the writer', async () => {
      setHandlerEnvironment(env, c.server.caFile, { AWS_ENDPOINT_URL_RDS: proxyUrl });
      const { master, base } = await c.createUsers();
      // The writer is the server at its address; its replica or reader, the same server by name.
      const masterArn = await managedMaster(
        kind,
        rdsEngine,
        c.server.port,
        c.server.host,
        master,
        'localhost',
      );
      const arn = await service.createSecret(uniqueName('secret'), {
        ...userSecret(base, masterArn),
        host: 'localhost',
      });
      await service.rotate(handler, arn);
      const current = await service.value(arn, 'AWSCURRENT');
      expect(current).toMatchObject({ username: `${base.username}_clone`, host: 'localhost' });
      expect(await c.canLogIn(String(current.username), String(current.password))).toBe(true);

      // preflight accepts what the function accepts (it asks the same code, locateMaster).
      const run = await runCli(
        [
          'preflight',
          '--secret-id',
          arn,
          '--json',
          '--endpoint',
          env.secretsManagerEndpoint,
          ...(c.server.caFile ? ['--ca-file', c.server.caFile] : []),
        ],
        logFile,
        { AWS_ENDPOINT_URL_RDS: proxyUrl },
      );
      const report = JSON.parse(run.stdout) as PreflightReport;
      const check = report.checks.find((x) => x.section === 'master' && x.check === 'secret');
      expect(check).toMatchObject({
        status: 'pass',
        detail: expect.stringContaining('read replica or reader'),
      });
    });

    it("refuses when RDS puts the master's database elsewhere, and never logs in as the master", async () => {
      setHandlerEnvironment(env, c.server.caFile, { AWS_ENDPOINT_URL_RDS: proxyUrl });
      const { master, base } = await c.createUsers();
      // Same port, another address: the user's secret names a server that is not the master's.
      const masterArn = await managedMaster(kind, rdsEngine, c.server.port, '127.0.0.9', master);
      const arn = await service.createSecret(uniqueName('secret'), userSecret(base, masterArn));
      const token = await service.startRotation(arn);
      await service.invoke(handler, 'createSecret', arn, token);
      await expect(service.invoke(handler, 'setSecret', arn, token)).rejects.toMatchObject({
        name: 'MasterSecretError',
        message: expect.stringContaining('same server'),
      });
      expect(await c.canLogIn(base.username, base.password)).toBe(true);
    });
  },
);
