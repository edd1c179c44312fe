import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { StartedPostgreSqlContainer } from '@testcontainers/postgresql';
import type { StartedTestContainer } from 'testcontainers';
import type { TestCertificates } from './certificates';
import { errorMessage, logTail, waitFor } from './child-processes';
import {
  FERRETDB_CONTAINER_PORTS,
  MONGODB_CONTAINER_PORT,
  MOTO_CONTAINER_PORT,
  MYSQL_CONTAINER_PORT,
} from './images';
import { MOTO_SERIAL_PYTHON } from './local-moto';
import { type MongoFacts, mongoServerName, probeMongo } from './mongo-probe';
import { type MysqlFacts, majorMinorVersion, probeMysql } from './mysql-probe';
import { majorVersion, probePostgres } from './postgres-probe';
import type { MongoServer, MysqlServer, PostgresServer, Started } from './types';

const SUPERUSER = 'postgres';
/** The MySQL and MariaDB images create `root@'%'` with the password from their environment. */
const MYSQL_ROOT_USER = 'root';
/** Where the test certificates are copied into MySQL and MariaDB containers. */
const MYSQL_TLS_DIR = '/etc/rotation-test-tls';
/** The MongoDB images create this user (with the `root` role in `admin`) from their environment. */
const MONGODB_ROOT_USER = 'rotation_root';
/** Where the test certificates are copied into MongoDB containers. */
const MONGODB_TLS_DIR = '/etc/rotation-test-tls';
const DETECTION_TIMEOUT_MS = 5_000;
const STARTUP_TIMEOUT_MS = 120_000;

/** Whether testcontainers can reach a container runtime, and the host its containers are reachable on. */
export type RuntimeDetection =
  | { available: true; host: string }
  | { available: false; reason: string };

/**
 * Asks testcontainers for a container runtime, giving up after a few seconds
 * (an unreachable DOCKER_HOST could otherwise hang until a TCP timeout).
 * testcontainers is loaded lazily: it is only needed here, and some releases cannot even load on older Node versions.
 */
export async function detectContainerRuntime(): Promise<RuntimeDetection> {
  let testcontainers: typeof import('testcontainers');
  try {
    testcontainers = await import('testcontainers');
  } catch (error) {
    const reason = `testcontainers cannot be loaded on Node ${process.version}: ${errorMessage(error)}`;
    // Unlike "no Docker here", this hides a broken install, so say it out loud.
    process.emitWarning(`${reason}; not using containers`);
    return { available: false, reason };
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${DETECTION_TIMEOUT_MS} ms`)),
      DETECTION_TIMEOUT_MS,
    );
  });
  try {
    const client = await Promise.race([testcontainers.getContainerRuntimeClient(), timeout]);
    return { available: true, host: client.info.containerRuntime.host };
  } catch (error) {
    return { available: false, reason: errorMessage(error) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts a PostgreSQL container with TLS enabled (certificates copied in by @testcontainers/postgresql,
 * which also appends `-c ssl=on -c ssl_cert_file=... -c ssl_key_file=...` to the server command).
 * The official image's pg_hba.conf accepts SCRAM logins over both TLS and plain TCP.
 *
 * Ready when its port listens, not when its health check passes (the module's default): podman
 * without systemd never runs health checks, so that wait would time out there. Both kinds of image
 * open TCP only once the cluster is initialised (the official one's setup server listens on its
 * socket only), and the probe below logs in before anything uses the server.
 */
export async function startPostgresContainer(
  image: string,
  runDir: string,
  certificates: TestCertificates,
): Promise<Started<PostgresServer>> {
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const { Wait } = await import('testcontainers');
  const password = randomBytes(24).toString('base64url');
  const logFile = join(runDir, `${fileSafe(image)}.log`);
  return runContainer(
    image,
    logFile,
    (log) =>
      new PostgreSqlContainer(image)
        .withUsername(SUPERUSER)
        .withPassword(password)
        .withDatabase('postgres')
        .withSSL(certificates.certFile, certificates.keyFile)
        .withWaitStrategy(Wait.forListeningPorts())
        .withStartupTimeout(STARTUP_TIMEOUT_MS)
        .withLogConsumer(log)
        .start(),
    async (container: StartedPostgreSqlContainer) => {
      const host = container.getHost();
      const port = container.getPort();
      const facts = await waitFor(
        `PostgreSQL container ${image} on ${host}:${port}`,
        () =>
          probePostgres({
            host,
            port,
            user: SUPERUSER,
            password,
            database: 'postgres',
            ssl: false,
          }),
        { timeoutMs: 30_000 },
      );
      const value: PostgresServer = {
        name: `postgresql-${majorVersion(facts.version)}`,
        version: facts.version,
        host,
        port,
        superuser: SUPERUSER,
        superuserPassword: password,
        caFile: certificates.caFile,
        tlsCapable: facts.ssl,
        image,
      };
      return value;
    },
  );
}

/**
 * Starts a MySQL or MariaDB container (`mysql:*` or `mariadb:*`) with TLS on, using the test
 * certificates copied in, and plain TCP connections allowed unless `requireSecureTransport`
 * (then named `<flavor>-<major.minor>-require-tls`, as the local servers are). The root account
 * (`root@'%'`) gets a random password through the image's environment.
 */
export async function startMysqlContainer(
  image: string,
  runDir: string,
  certificates: TestCertificates,
  requireSecureTransport = false,
): Promise<Started<MysqlServer>> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const password = randomBytes(24).toString('base64url');
  const logFile = join(
    runDir,
    `${fileSafe(image)}${requireSecureTransport ? '-require-tls' : ''}.log`,
  );
  const mariadb = /(^|\/)mariadb:/.test(image);
  const tls = {
    ca: `${MYSQL_TLS_DIR}/ca.pem`,
    cert: `${MYSQL_TLS_DIR}/server.crt`,
    key: `${MYSQL_TLS_DIR}/server.key`,
  };
  const command = [`--ssl-cert=${tls.cert}`, `--ssl-key=${tls.key}`, `--ssl-ca=${tls.ca}`];
  // Stated either way: MySQL's default is OFF today, and the suites count on what it is.
  command.push(`--require-secure-transport=${requireSecureTransport ? 'ON' : 'OFF'}`);
  return runContainer(
    image,
    logFile,
    (log) =>
      new GenericContainer(image)
        .withEnvironment(
          mariadb ? { MARIADB_ROOT_PASSWORD: password } : { MYSQL_ROOT_PASSWORD: password },
        )
        .withCopyFilesToContainer([
          { source: certificates.caFile, target: tls.ca, mode: 0o644 },
          { source: certificates.certFile, target: tls.cert, mode: 0o644 },
          // The server runs as the image's mysql user, so the (throwaway) key must be readable by it.
          { source: certificates.keyFile, target: tls.key, mode: 0o644 },
        ])
        // Arguments starting with `-` are passed to the server by both images' entrypoints.
        .withCommand(command)
        .withExposedPorts(MYSQL_CONTAINER_PORT)
        // The entrypoints initialise with a temporary server that does not listen on TCP,
        // so the port only opens once the real server runs.
        .withWaitStrategy(Wait.forListeningPorts())
        .withStartupTimeout(STARTUP_TIMEOUT_MS)
        .withLogConsumer(log)
        .start(),
    async (container: StartedTestContainer) => {
      const host = container.getHost();
      const port = container.getMappedPort(MYSQL_CONTAINER_PORT);
      const ca = await readFile(certificates.caFile, 'utf8');
      const facts: MysqlFacts = await waitFor(
        `${image} container on ${host}:${port}`,
        () =>
          probeMysql({
            host,
            port,
            user: MYSQL_ROOT_USER,
            password,
            ssl: { ca, rejectUnauthorized: true },
          }),
        { timeoutMs: 60_000 },
      );
      const value: MysqlServer = {
        name: `${facts.flavor}-${majorMinorVersion(facts.version)}${facts.requireSecureTransport ? '-require-tls' : ''}`,
        flavor: facts.flavor,
        version: facts.version,
        host,
        port,
        rootUser: MYSQL_ROOT_USER,
        rootPassword: password,
        caFile: certificates.caFile,
        tlsCapable: facts.tlsCapable,
        requireSecureTransport: facts.requireSecureTransport,
        image,
      };
      return value;
    },
  );
}

/**
 * Starts a MongoDB container (`mongo:*`) with authentication on, a root user with a random password
 * (created by the image's entrypoint from `MONGO_INITDB_ROOT_USERNAME/PASSWORD`), and TLS using the
 * test certificates in `allowTLS` mode: one port serves TLS and plain-text connections, and no
 * client certificate is required.
 */
export async function startMongoContainer(
  image: string,
  runDir: string,
  certificates: TestCertificates,
): Promise<Started<MongoServer>> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const password = randomBytes(24).toString('base64url');
  const logFile = join(runDir, `${fileSafe(image)}.log`);
  const tls = { ca: `${MONGODB_TLS_DIR}/ca.pem`, certificateKey: `${MONGODB_TLS_DIR}/server.pem` };
  // mongod wants the certificate and its key in one PEM file.
  const [certificate, key] = await Promise.all([
    readFile(certificates.certFile, 'utf8'),
    readFile(certificates.keyFile, 'utf8'),
  ]);
  return runContainer(
    image,
    logFile,
    (log) =>
      new GenericContainer(image)
        .withEnvironment({
          MONGO_INITDB_ROOT_USERNAME: MONGODB_ROOT_USER,
          MONGO_INITDB_ROOT_PASSWORD: password,
        })
        .withCopyFilesToContainer([{ source: certificates.caFile, target: tls.ca, mode: 0o644 }])
        .withCopyContentToContainer([
          // mongod runs as the image's mongodb user, so the (throwaway) key must be readable by it.
          { content: `${certificate.trimEnd()}\n${key}`, target: tls.certificateKey, mode: 0o644 },
        ])
        // Arguments starting with `-` are passed to mongod by the entrypoint, which adds --auth
        // (the root user is set) and --bind_ip_all.
        .withCommand([
          '--tlsMode',
          'allowTLS',
          '--tlsCertificateKeyFile',
          tls.certificateKey,
          // mongod 8.0 refuses TLS without a CA file (or --tlsUseSystemCA); with one, clients must
          // present certificates unless this is allowed:
          '--tlsCAFile',
          tls.ca,
          '--tlsAllowConnectionsWithoutCertificates',
        ])
        .withExposedPorts(MONGODB_CONTAINER_PORT)
        // The entrypoint first runs a temporary server (on 127.0.0.1 only) to create the root user,
        // then the real one: each logs "Waiting for connections" once.
        .withWaitStrategy(Wait.forLogMessage(/Waiting for connections/, 2))
        .withStartupTimeout(STARTUP_TIMEOUT_MS)
        .withLogConsumer(log)
        .start(),
    (container: StartedTestContainer) => {
      const port = container.getMappedPort(MONGODB_CONTAINER_PORT);
      // allowTLS: the same port also accepts plain text.
      return describeMongoContainer(
        image,
        container,
        { port, plainPort: port },
        password,
        certificates,
      );
    },
  );
}

/**
 * Starts a FerretDB 1.x container with its SQLite backend, configured through its environment (every
 * flag has a `FERRETDB_` variable, the official image's contract): plain text and TLS on their own
 * ports (the test certificates copied in; no client certificate required), SCRAM logins, and an
 * administrator with a random password created at first start, as the local FerretDB runs.
 */
export async function startFerretdbContainer(
  image: string,
  runDir: string,
  certificates: TestCertificates,
): Promise<Started<MongoServer>> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const password = randomBytes(24).toString('base64url');
  const logFile = join(runDir, `${fileSafe(image)}.log`);
  const tls = { cert: `${MONGODB_TLS_DIR}/server.crt`, key: `${MONGODB_TLS_DIR}/server.key` };
  return runContainer(
    image,
    logFile,
    (log) =>
      new GenericContainer(image)
        .withEnvironment({
          FERRETDB_HANDLER: 'sqlite',
          FERRETDB_SQLITE_URL: 'file:/state/',
          FERRETDB_STATE_DIR: '/state',
          FERRETDB_LISTEN_ADDR: `:${FERRETDB_CONTAINER_PORTS.plain}`,
          FERRETDB_LISTEN_TLS: `:${FERRETDB_CONTAINER_PORTS.tls}`,
          FERRETDB_LISTEN_TLS_CERT_FILE: tls.cert,
          FERRETDB_LISTEN_TLS_KEY_FILE: tls.key,
          FERRETDB_DEBUG_ADDR: '-',
          FERRETDB_TELEMETRY: 'disable',
          FERRETDB_TEST_ENABLE_NEW_AUTH: 'true',
          FERRETDB_SETUP_DATABASE: 'admin',
          FERRETDB_SETUP_USERNAME: MONGODB_ROOT_USER,
          FERRETDB_SETUP_PASSWORD: password,
        })
        .withCopyFilesToContainer([
          { source: certificates.certFile, target: tls.cert, mode: 0o644 },
          { source: certificates.keyFile, target: tls.key, mode: 0o644 },
        ])
        .withExposedPorts(FERRETDB_CONTAINER_PORTS.plain, FERRETDB_CONTAINER_PORTS.tls)
        // The official image is FROM scratch: no shell for testcontainers' port check inside
        // it. FerretDB says when it listens, TLS last (internal/clientconn/listener.go).
        .withWaitStrategy(Wait.forLogMessage(/Listening on TLS/))
        .withStartupTimeout(STARTUP_TIMEOUT_MS)
        .withLogConsumer(log)
        .start(),
    async (container: StartedTestContainer) => {
      const ports = {
        port: container.getMappedPort(FERRETDB_CONTAINER_PORTS.tls),
        plainPort: container.getMappedPort(FERRETDB_CONTAINER_PORTS.plain),
      };
      const server = await describeMongoContainer(image, container, ports, password, certificates);
      if (server.kind !== 'ferretdb') {
        throw new Error(`${image} is not FerretDB (buildInfo: ${server.version})`);
      }
      return server;
    },
  );
}

/**
 * The MongoDB-protocol server in a started container, once its administrator logs in over TLS
 * (checking the test CA) on `port` and in plain text on `plainPort`.
 */
async function describeMongoContainer(
  image: string,
  container: StartedTestContainer,
  { port, plainPort }: { port: number; plainPort: number },
  password: string,
  certificates: TestCertificates,
): Promise<MongoServer> {
  const host = container.getHost();
  const login = { auth: { username: MONGODB_ROOT_USER, password }, authSource: 'admin' };
  const ca = await readFile(certificates.caFile, 'utf8');
  const facts: MongoFacts = await waitFor(
    `${image} container on ${host}:${port}`,
    () => probeMongo(`mongodb://${urlHost(host)}:${port}/`, { ...login, tls: true, ca }),
    { timeoutMs: 60_000 },
  );
  await probeMongo(`mongodb://${urlHost(host)}:${plainPort}/`, { ...login, tls: false }).catch(
    (error: unknown) => {
      throw new Error(`${image} container refused a plain-text login: ${errorMessage(error)}`);
    },
  );
  return {
    name: mongoServerName(facts),
    kind: facts.kind,
    version: facts.version,
    host,
    port,
    plainPort,
    adminUser: MONGODB_ROOT_USER,
    adminPassword: password,
    adminDatabase: 'admin',
    caFile: certificates.caFile,
    supportsRoles: facts.kind === 'mongodb',
    image,
  };
}

/**
 * Starts moto's server image, answering one request at a time like the local one, and resolves
 * to its endpoint URL once it answers HTTP.
 */
export async function startMotoContainer(image: string, runDir: string): Promise<Started<string>> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const logFile = join(runDir, 'moto.log');
  try {
    const container = await new GenericContainer(image)
      .withEntrypoint(['python3', '-c', MOTO_SERIAL_PYTHON])
      .withCommand(['-H', '0.0.0.0', '-p', String(MOTO_CONTAINER_PORT)])
      .withExposedPorts(MOTO_CONTAINER_PORT)
      .withWaitStrategy(Wait.forHttp('/moto-api/', MOTO_CONTAINER_PORT))
      .withStartupTimeout(STARTUP_TIMEOUT_MS)
      .withLogConsumer(writeTo(logFile))
      .start();
    const endpoint = `http://${urlHost(container.getHost())}:${container.getMappedPort(MOTO_CONTAINER_PORT)}`;
    return {
      value: endpoint,
      stop: async () => {
        await container.stop();
      },
    };
  } catch (error) {
    throw new Error(
      `starting container ${image} failed: ${errorMessage(error)}\n${await logTail(logFile)}`,
    );
  }
}

/**
 * Starts a container, then finds out about the server in it. Either failure carries the tail of
 * the container's log, and a container whose server fails the second is stopped.
 */
async function runContainer<C extends StartedTestContainer, T>(
  image: string,
  logFile: string,
  start: (log: (stream: Readable) => void) => Promise<C>,
  describe: (container: C) => Promise<T>,
): Promise<Started<T>> {
  let container: C;
  try {
    container = await start(writeTo(logFile));
  } catch (error) {
    throw new Error(
      `starting container ${image} failed: ${errorMessage(error)}\n${await logTail(logFile)}`,
    );
  }
  const stop = async () => {
    await container.stop();
  };
  try {
    return { value: await describe(container), stop };
  } catch (error) {
    await stop();
    throw new Error(`${errorMessage(error)}\n${await logTail(logFile)}`);
  }
}

function writeTo(logFile: string): (stream: Readable) => void {
  return (stream) => {
    stream.pipe(createWriteStream(logFile, { flags: 'a' }));
  };
}

function fileSafe(image: string): string {
  return image.replace(/[^a-zA-Z0-9.-]+/g, '-');
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
