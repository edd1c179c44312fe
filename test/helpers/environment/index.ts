import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCertificates, type TestCertificates } from './certificates';
import { errorMessage, reserveFreePorts } from './child-processes';
import {
  detectContainerRuntime,
  startFerretdbContainer,
  startMongoContainer,
  startMotoContainer,
  startMysqlContainer,
  startPostgresContainer,
} from './containers';
import {
  describeExternalMongodb,
  describeExternalMysql,
  describeExternalPostgres,
  externalMongodbUrls,
  externalMysqlUrls,
  externalPostgresUrls,
  externalSecretsManagerEndpoint,
} from './external';
import {
  FERRETDB_IMAGES,
  IMAGES_VARIABLE,
  imageSource,
  imagesFor,
  MONGODB_IMAGES,
  MOTO_IMAGE,
  MYSQL_IMAGES,
  POSTGRES_IMAGES,
  type ServerImage,
} from './images';
import {
  ferretdbServerName,
  ferretdbVersion,
  findFerretdb,
  startLocalFerretdb,
} from './local-ferretdb';
import { startLocalMoto } from './local-moto';
import {
  findMariadb,
  findSidMysql,
  type MysqlBuild,
  mysqlServerVersion,
  startLocalMysql,
} from './local-mysql';
import {
  buildMajorVersion,
  findEmbeddedPostgres,
  findSystemPostgres,
  type PostgresBuild,
  startLocalPostgres,
} from './local-postgres';
import { allowTraversal, resolveServerUser } from './server-user';
import type { MongoServer, MysqlServer, PostgresServer, Started, TestEnvironment } from './types';

export type { MongoServer, MysqlServer, PostgresServer, TestEnvironment } from './types';

/** Carries the serialised {@link TestEnvironment} from jest's globalSetup to the test workers. */
export const ENVIRONMENT_VARIABLE = 'ROTATION_TEST_ENV';
/** Optional: `local` or `testcontainers` to force how servers are started (default: containers if Docker answers). */
export const PROVIDER_VARIABLE = 'ROTATION_TEST_PROVIDER';
/** Optional: set to keep the run directory (logs, certificates, data) after a successful stop. */
export const KEEP_RUN_DIR_VARIABLE = 'ROTATION_TEST_KEEP_RUN_DIR';

/**
 * Starts the PostgreSQL, MySQL-protocol and MongoDB-protocol servers and the Secrets Manager endpoint
 * the integration suites run against, all in parallel.
 *
 * Each part comes from the first source that applies: `TEST_POSTGRES_URL` / `TEST_MYSQL_URL` /
 * `TEST_MONGODB_URL` / `TEST_SECRETS_MANAGER_ENDPOINT` (external), then containers if testcontainers
 * finds a Docker engine, then local processes (Debian's newest PostgreSQL, the embedded PostgreSQL
 * 16, 17 and 18, Debian's MariaDB, MariaDB and MySQL from the Debian sid roots of
 * `scripts/install-sid-servers.sh`, the MariaDB and MySQL ones also with
 * `require_secure_transport=ON`, FerretDB built by `scripts/install-ferretdb.sh`, and
 * `python3 -m moto.server`).
 * Throws, after stopping whatever did start, if anything cannot be started: suites must fail, not skip.
 *
 * @returns the environment and a function that stops everything and removes the run directory.
 */
export async function startEnvironment(): Promise<{
  env: TestEnvironment;
  stop: () => Promise<void>;
}> {
  const runDir = await mkdtemp(join(tmpdir(), 'rotation-test-'));
  await mkdir(join(runDir, 'captured-logs'));
  const started = new StartedParts();
  try {
    const env = await startParts(runDir, started);
    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= stopAndClean(started, runDir);
      return stopping;
    };
    return { env, stop };
  } catch (error) {
    const cleanup = await started.stopAll().then(
      () => '',
      (stopError: unknown) =>
        `\nAlso, stopping what had started failed: ${errorMessage(stopError)}`,
    );
    throw new Error(
      `Could not start the integration test environment: ${errorMessage(error)}${cleanup}\n(run directory kept: ${runDir})`,
    );
  }
}

/**
 * The environment started by jest's globalSetup, read from `process.env.ROTATION_TEST_ENV`.
 * @throws if the variable is absent or does not hold a test environment.
 */
export function readEnvironment(): TestEnvironment {
  const raw = process.env[ENVIRONMENT_VARIABLE];
  if (!raw) {
    throw new Error(
      `${ENVIRONMENT_VARIABLE} is not set: integration tests need the servers started by jest's globalSetup ` +
        '(test/helpers/environment/global-setup.ts); run them with `npm run test:integration`',
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new Error(`${ENVIRONMENT_VARIABLE} is not valid JSON: ${errorMessage(error)}`);
  }
  if (!isTestEnvironment(parsed)) {
    // Not echoing the value: it holds superuser passwords.
    throw new Error(
      `${ENVIRONMENT_VARIABLE} does not describe a test environment (left over from another version?)`,
    );
  }
  return parsed;
}

/** Stop functions of everything started so far, so a failure halfway can still clean up. */
export class StartedParts {
  private readonly stops: Array<() => Promise<void>> = [];

  /** Awaits a starting part and remembers how to stop it. */
  async track<T>(starting: Promise<Started<T>>): Promise<T> {
    const { value, stop } = await starting;
    this.stops.push(stop);
    return value;
  }

  /** Stops every part (in parallel), reporting all failures together. */
  async stopAll(): Promise<void> {
    const results = await Promise.allSettled(this.stops.splice(0).map((stop) => stop()));
    throwIfRejected(results, 'stopping the test environment failed');
  }
}

/** How servers are started when no external one is given. */
interface Provider {
  mode: 'testcontainers' | 'local';
  startPostgres: (started: StartedParts) => Promise<PostgresServer[]>;
  startMysql: (started: StartedParts) => Promise<MysqlServer[]>;
  startMongodb: (started: StartedParts) => Promise<MongoServer[]>;
  startSecretsManager: (started: StartedParts) => Promise<string>;
}

async function startParts(runDir: string, started: StartedParts): Promise<TestEnvironment> {
  const postgresUrls = externalPostgresUrls();
  const mysqlUrls = externalMysqlUrls();
  const mongodbUrls = externalMongodbUrls();
  const externalEndpoint = externalSecretsManagerEndpoint();
  let providing: Promise<Provider> | undefined;
  const provider = () => {
    providing ??= chooseProvider(runDir);
    return providing;
  };
  const [postgres, mysql, mongodb, secretsManagerEndpoint] = await settleAll([
    postgresUrls.length > 0
      ? settleAll(postgresUrls.map(describeExternalPostgres))
      : provider().then((p) => p.startPostgres(started)),
    mysqlUrls.length > 0
      ? settleAll(mysqlUrls.map(describeExternalMysql))
      : provider().then((p) => p.startMysql(started)),
    mongodbUrls.length > 0
      ? settleAll(mongodbUrls.map(describeExternalMongodb))
      : provider().then((p) => p.startMongodb(started)),
    externalEndpoint ?? provider().then((p) => p.startSecretsManager(started)),
  ]);
  const allExternal = [postgresUrls, mysqlUrls, mongodbUrls].every((urls) => urls.length > 0);
  const mode = allExternal ? 'external' : (await provider()).mode;
  return { postgres, mysql, mongodb, secretsManagerEndpoint, runDir, mode };
}

async function chooseProvider(runDir: string): Promise<Provider> {
  const requested = process.env[PROVIDER_VARIABLE] ?? '';
  if (!['', 'local', 'testcontainers'].includes(requested)) {
    throw new Error(`${PROVIDER_VARIABLE} must be "local" or "testcontainers", not "${requested}"`);
  }
  if (requested === 'local') {
    return localProvider(runDir);
  }
  const runtime = await detectContainerRuntime();
  if (runtime.available) {
    return containerProvider(runDir, runtime.host);
  }
  if (requested === 'testcontainers' || imageSource() === 'local') {
    const asked =
      requested === 'testcontainers'
        ? `${PROVIDER_VARIABLE}=testcontainers`
        : `${IMAGES_VARIABLE}=local`;
    throw new Error(
      `${asked}, but no container runtime is usable: ${runtime.reason} ` +
        '(for the local images: sudo bash scripts/local-images.sh)',
    );
  }
  return localProvider(runDir);
}

/**
 * Containers of the official images, or of the local ones (`ROTATION_TEST_IMAGES=local`). With local
 * images every connection must stay on loopback: the containers' published ports on 127.0.0.1
 * (`TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1`), never the bridge's private addresses.
 */
function containerProvider(runDir: string, dockerHost: string): Provider {
  const source = imageSource();
  if (source === 'local' && !isLoopback(dockerHost)) {
    throw new Error(
      `${IMAGES_VARIABLE}=local, but testcontainers reaches containers at ${dockerHost}, not on loopback: ` +
        'set TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 (npm run test:containers:local does)',
    );
  }
  const chosen = (images: readonly ServerImage[]) => {
    const { names, requireTls, leftOut } = imagesFor(images, source);
    if (leftOut.length > 0) {
      process.stdout.write(
        `\nNo local image stands in for ${leftOut.join(', ')} (no such server can be obtained here): left out\n`,
      );
    }
    return { names, requireTls };
  };
  const certificates = once(() => createTestCertificates(runDir, [dockerHost]));
  return {
    mode: 'testcontainers',
    startPostgres: async (started) => {
      const tls = await certificates();
      return settleAll(
        chosen(POSTGRES_IMAGES).names.map((image) =>
          started.track(startPostgresContainer(image, runDir, tls)),
        ),
      );
    },
    startMysql: async (started) => {
      const tls = await certificates();
      const { names, requireTls } = chosen(MYSQL_IMAGES);
      return settleAll([
        ...names.map((image) => started.track(startMysqlContainer(image, runDir, tls))),
        ...requireTls.map((image) => started.track(startMysqlContainer(image, runDir, tls, true))),
      ]);
    },
    startMongodb: async (started) => {
      const tls = await certificates();
      return settleAll([
        ...chosen(MONGODB_IMAGES).names.map((image) =>
          started.track(startMongoContainer(image, runDir, tls)),
        ),
        ...chosen(FERRETDB_IMAGES).names.map((image) =>
          started.track(startFerretdbContainer(image, runDir, tls)),
        ),
      ]);
    },
    startSecretsManager: (started) => {
      const [moto] = chosen([MOTO_IMAGE]).names;
      if (!moto) throw new Error(`no ${source} image for moto`);
      return started.track(startMotoContainer(moto, runDir));
    },
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function localProvider(runDir: string): Provider {
  // One test CA for every server: PostgreSQL, MariaDB and FerretDB start in parallel.
  const certificates = once(() => createTestCertificates(runDir));
  return {
    mode: 'local',
    startPostgres: (started) => startLocalPostgresServers(runDir, certificates, started),
    startMysql: (started) => startLocalMysqlServers(runDir, certificates, started),
    startMongodb: (started) => startLocalFerretdbServers(runDir, certificates, started),
    startSecretsManager: async (started) => {
      const [port] = await reserveFreePorts(1);
      return started.track(startLocalMoto(runDir, requirePort(port)));
    },
  };
}

/** Debian's newest PostgreSQL (15 on Debian 12) and the embedded PostgreSQL 16, 17 and 18, each in a fresh cluster. */
async function startLocalPostgresServers(
  runDir: string,
  certificates: () => Promise<TestCertificates>,
  started: StartedParts,
): Promise<PostgresServer[]> {
  const builds = await settleAll([
    findSystemPostgres(),
    findEmbeddedPostgres(16),
    findEmbeddedPostgres(17),
    findEmbeddedPostgres(18),
  ]);
  const runAs = await resolveServerUser();
  if (runAs) {
    await allowTraversal(runDir);
  }
  const majors = await Promise.all(builds.map((build) => buildMajorVersion(build, runAs)));
  const names = serverNames(builds, majors);
  const [tls, ports] = await Promise.all([certificates(), reserveFreePorts(builds.length)]);
  return settleAll(
    builds.map((build, index) =>
      started.track(
        startLocalPostgres({
          name: names[index] ?? `postgresql-${build.origin}`,
          build,
          runDir,
          port: requirePort(ports[index]),
          certificates: tls,
          runAs,
        }),
      ),
    ),
  );
}

/**
 * The MySQL-protocol servers, each with a fresh data directory and TLS from the test CA:
 * - Debian's MariaDB (`mariadb-server`, 10.11 on Debian 12), twice: `mariadb-<major.minor>` also
 *   accepts plain TCP, `mariadb-<major.minor>-require-tls` does not;
 * - MariaDB from Debian sid (11.8), `mariadb-<major.minor>`;
 * - MySQL from Debian sid (9.7, Debian stable has no MySQL server), twice: `mysql-<major.minor>`
 *   and `mysql-<major.minor>-require-tls`.
 * The sid servers run in the roots that `scripts/install-sid-servers.sh` builds.
 */
async function startLocalMysqlServers(
  runDir: string,
  certificates: () => Promise<TestCertificates>,
  started: StartedParts,
): Promise<MysqlServer[]> {
  const runAs = await resolveServerUser('mysql');
  if (runAs) {
    await allowTraversal(runDir);
  }
  const builds = await settleAll([
    findMariadb(runAs),
    findSidMysql('mariadb', runDir),
    findSidMysql('mysql', runDir),
  ] as const);
  const versions = await settleAll(builds.map(mysqlServerVersion));
  const [debianMariadb, sidMariadb, sidMysql] = builds.map((build, index) => ({
    build,
    name: `${build.flavor}-${versions[index]}`,
  })) as [Variant, Variant, Variant];
  // The require-TLS variant once per family: Debian's MariaDB already has it for MariaDB.
  const variants = [
    ...withRequireTls(debianMariadb),
    { ...sidMariadb, requireSecureTransport: false },
    ...withRequireTls(sidMysql),
  ];
  const names = variants.map((variant) => variant.name);
  if (new Set(names).size !== names.length) {
    throw new Error(`two local MySQL-protocol servers have the same name: ${names.join(', ')}`);
  }
  const [tls, ports] = await Promise.all([certificates(), reserveFreePorts(variants.length)]);
  return settleAll(
    variants.map((variant, index) =>
      started.track(
        startLocalMysql({
          ...variant,
          runDir,
          port: requirePort(ports[index]),
          certificates: tls,
        }),
      ),
    ),
  );
}

interface Variant {
  build: MysqlBuild;
  name: string;
}

/** A server that also accepts plain TCP, and `<name>-require-tls` with `require_secure_transport=ON`. */
function withRequireTls({ build, name }: Variant) {
  return [
    { build, name, requireSecureTransport: false },
    { build, name: `${name}-require-tls`, requireSecureTransport: true },
  ];
}

/**
 * One FerretDB server (`ferretdb-<major.minor>`) with a fresh SQLite directory, TLS on one port and
 * plain text on another. It runs as the current user: FerretDB does not mind root.
 */
async function startLocalFerretdbServers(
  runDir: string,
  certificates: () => Promise<TestCertificates>,
  started: StartedParts,
): Promise<MongoServer[]> {
  const binary = await findFerretdb();
  const version = await ferretdbVersion(binary);
  const [tls, ports] = await Promise.all([certificates(), reserveFreePorts(2)]);
  const server = await started.track(
    startLocalFerretdb({
      name: ferretdbServerName(version),
      binary,
      runDir,
      port: requirePort(ports[0]),
      plainPort: requirePort(ports[1]),
      certificates: tls,
    }),
  );
  return [server];
}

/** `postgresql-<major>`, with the build's origin appended when two builds share a major version. */
function serverNames(builds: readonly PostgresBuild[], majors: readonly number[]): string[] {
  return builds.map((build, index) => {
    const major = majors[index];
    const shared = majors.filter((other) => other === major).length > 1;
    return shared ? `postgresql-${major}-${build.origin}` : `postgresql-${major}`;
  });
}

/** A function that calls `start` the first time and returns that same promise afterwards. */
function once<T>(start: () => Promise<T>): () => Promise<T> {
  let started: Promise<T> | undefined;
  return () => {
    started ??= start();
    return started;
  };
}

function requirePort(port: number | undefined): number {
  if (port === undefined) {
    throw new Error('ran out of reserved TCP ports');
  }
  return port;
}

async function stopAndClean(started: StartedParts, runDir: string): Promise<void> {
  await started.stopAll();
  if (!process.env[KEEP_RUN_DIR_VARIABLE]) {
    await rm(runDir, { recursive: true, force: true });
  }
}

/**
 * Like `Promise.all`, but waits for every promise before failing, so nothing is still starting
 * (and so cannot be stopped) when the error reaches the caller.
 */
export async function settleAll<T extends readonly unknown[] | []>(
  values: T,
): Promise<{ -readonly [P in keyof T]: Awaited<T[P]> }> {
  throwIfRejected(await Promise.allSettled(values), 'starting failed');
  return Promise.all(values);
}

function throwIfRejected(results: readonly PromiseSettledResult<unknown>[], summary: string): void {
  const rejections: unknown[] = results.flatMap((result) =>
    result.status === 'rejected' ? [result.reason] : [],
  );
  // Parts that share a failed step (such as choosing the provider) reject with the same error.
  const errors = [...new Set(rejections)];
  if (errors.length === 1) {
    throw errors[0];
  }
  if (errors.length > 1) {
    throw new AggregateError(
      errors,
      `${summary}:\n${errors.map((error) => `- ${errorMessage(error)}`).join('\n')}`,
    );
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isPostgresServer(value: unknown): value is PostgresServer {
  return (
    isRecord(value) &&
    typeof value.name === 'string' &&
    typeof value.version === 'string' &&
    typeof value.host === 'string' &&
    typeof value.port === 'number' &&
    typeof value.superuser === 'string' &&
    typeof value.superuserPassword === 'string' &&
    (value.caFile === undefined || typeof value.caFile === 'string') &&
    typeof value.tlsCapable === 'boolean' &&
    (value.image === undefined || typeof value.image === 'string')
  );
}

function isMysqlServer(value: unknown): value is MysqlServer {
  return (
    isRecord(value) &&
    typeof value.name === 'string' &&
    (value.flavor === 'mariadb' || value.flavor === 'mysql') &&
    typeof value.version === 'string' &&
    typeof value.host === 'string' &&
    typeof value.port === 'number' &&
    typeof value.rootUser === 'string' &&
    typeof value.rootPassword === 'string' &&
    (value.caFile === undefined || typeof value.caFile === 'string') &&
    typeof value.tlsCapable === 'boolean' &&
    typeof value.requireSecureTransport === 'boolean' &&
    (value.image === undefined || typeof value.image === 'string')
  );
}

function isMongoServer(value: unknown): value is MongoServer {
  return (
    isRecord(value) &&
    typeof value.name === 'string' &&
    (value.kind === 'ferretdb' || value.kind === 'mongodb') &&
    typeof value.version === 'string' &&
    typeof value.host === 'string' &&
    typeof value.port === 'number' &&
    (value.plainPort === undefined || typeof value.plainPort === 'number') &&
    typeof value.adminUser === 'string' &&
    typeof value.adminPassword === 'string' &&
    typeof value.adminDatabase === 'string' &&
    (value.caFile === undefined || typeof value.caFile === 'string') &&
    typeof value.supportsRoles === 'boolean' &&
    (value.image === undefined || typeof value.image === 'string')
  );
}

function isTestEnvironment(value: unknown): value is TestEnvironment {
  return (
    isRecord(value) &&
    Array.isArray(value.postgres) &&
    value.postgres.every(isPostgresServer) &&
    Array.isArray(value.mysql) &&
    value.mysql.every(isMysqlServer) &&
    Array.isArray(value.mongodb) &&
    value.mongodb.every(isMongoServer) &&
    typeof value.secretsManagerEndpoint === 'string' &&
    typeof value.runDir === 'string' &&
    (value.mode === 'testcontainers' || value.mode === 'local' || value.mode === 'external')
  );
}
