import { randomBytes } from 'node:crypto';
import { access, constants, mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MongoClientOptions } from 'mongodb';
import type { TestCertificates } from './certificates';
import {
  captureCommand,
  describeExit,
  errorMessage,
  logTail,
  spawnLogged,
  terminate,
  type WatchedProcess,
  waitFor,
} from './child-processes';
import { type MongoFacts, mongoMajorMinor, probeMongo } from './mongo-probe';
import type { MongoServer, Started } from './types';

/** The FerretDB release `scripts/install-ferretdb.sh` builds. */
export const FERRETDB_VERSION = 'v1.24.0';
/** Optional: path of the FerretDB binary, instead of the install script's cache path. */
export const FERRETDB_BIN_VARIABLE = 'FERRETDB_BIN';
const INSTALL_HINT = 'run scripts/install-ferretdb.sh';
/** The user created at startup (`--setup-username`) and reported as the administrator. */
const ADMIN_USER = 'rotation_root';
const ADMIN_DATABASE = 'admin';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** Where `scripts/install-ferretdb.sh` puts the binary by default. */
export function defaultFerretdbPath(): string {
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cacheHome, 'rotation-lambdas', `ferretdb-${FERRETDB_VERSION}`, 'ferretdb');
}

/**
 * The FerretDB binary: `$FERRETDB_BIN`, or the install script's cache path.
 * @throws if there is none: the suites must fail, not skip.
 */
export async function findFerretdb(): Promise<string> {
  const configured = process.env[FERRETDB_BIN_VARIABLE]?.trim();
  const binary = configured || defaultFerretdbPath();
  try {
    await access(binary, constants.X_OK);
    return binary;
  } catch {
    const where = configured
      ? `${FERRETDB_BIN_VARIABLE}=${configured} is not an executable file`
      : `no executable at ${binary}, and ${FERRETDB_BIN_VARIABLE} is not set`;
    throw new Error(`FerretDB not found: ${INSTALL_HINT} (${where})`);
  }
}

/** The binary's version (`ferretdb --version` prints `version: v1.24.0` among other lines). */
export async function ferretdbVersion(binary: string): Promise<string> {
  let output: string;
  try {
    output = await captureCommand(binary, ['--version'], { env: ferretdbEnvironment() });
  } catch (error) {
    throw new Error(`cannot run FerretDB (${binary}): ${errorMessage(error)}`);
  }
  const version = /^version:\s*(\S+)\s*$/m.exec(output)?.[1];
  if (!version) {
    throw new Error(`\`${binary} --version\` reported no version:\n${output.trim()}`);
  }
  return version;
}

/** `ferretdb-<major.minor>`, e.g. `ferretdb-1.24`. */
export function ferretdbServerName(version: string): string {
  return `ferretdb-${mongoMajorMinor(version)}`;
}

/** Everything needed to start one local server. */
export interface LocalFerretdbOptions {
  name: string;
  binary: string;
  runDir: string;
  /** TLS listener. */
  port: number;
  /** Plain-text listener. */
  plainPort: number;
  certificates: TestCertificates;
}

/**
 * Starts FerretDB with its SQLite backend in a fresh directory `runDir/<name>/`, listening on
 * 127.0.0.1 with TLS on `port` (test certificates; no client certificate required) and in plain
 * text on `plainPort`, with the new (SCRAM) authentication and a `rotation_root` user with a random
 * password in `admin`. Waits until that user can log in over both listeners.
 * Output goes to `runDir/<name>.log`.
 *
 * FerretDB 1.x stores no roles and enforces no authorization, hence `supportsRoles: false`.
 */
export async function startLocalFerretdb(
  options: LocalFerretdbOptions,
): Promise<Started<MongoServer>> {
  const { name, port, plainPort, certificates } = options;
  const serverDir = join(options.runDir, name);
  const dataDir = join(serverDir, 'data');
  const stateDir = join(serverDir, 'state');
  const logFile = join(options.runDir, `${name}.log`);
  const password = randomBytes(24).toString('base64url');
  await mkdir(dataDir, { recursive: true });
  await mkdir(stateDir, { recursive: true });

  const server = await spawnLogged(
    options.binary,
    [
      '--handler=sqlite',
      // A file: URL of an existing directory, ending in '/'.
      `--sqlite-url=${pathToFileURL(dataDir).href}/`,
      `--state-dir=${stateDir}`,
      `--listen-addr=127.0.0.1:${plainPort}`,
      `--listen-tls=127.0.0.1:${port}`,
      `--listen-tls-cert-file=${certificates.certFile}`,
      `--listen-tls-key-file=${certificates.keyFile}`,
      // No --listen-tls-ca-file: with it, FerretDB requires client certificates.
      '--debug-addr=-',
      '--telemetry=disable',
      // SCRAM logins checked against the users createUser stores (experimental in FerretDB 1.x).
      '--test-enable-new-auth',
      // Creates the user only while the database does not exist yet, i.e. on this first start.
      `--setup-database=${ADMIN_DATABASE}`,
      `--setup-username=${ADMIN_USER}`,
      `--setup-password=${password}`,
    ],
    logFile,
    { cwd: serverDir, env: ferretdbEnvironment() },
  );
  const stop = () => terminate(server, 'SIGTERM', { graceMs: STOP_TIMEOUT_MS });
  try {
    const ca = await readFile(certificates.caFile, 'utf8');
    const login: MongoClientOptions = {
      auth: { username: ADMIN_USER, password },
      authSource: ADMIN_DATABASE,
      serverSelectionTimeoutMS: 2_000,
    };
    const facts = await waitUntilAccepting(name, server, port, { ...login, tls: true, ca });
    await probePlain(name, plainPort, login);
    if (facts.kind !== 'ferretdb') {
      throw new Error(
        `the server on 127.0.0.1:${port} is not FerretDB (buildInfo: ${facts.version})`,
      );
    }
    const value: MongoServer = {
      name,
      kind: 'ferretdb',
      version: facts.version,
      host: '127.0.0.1',
      port,
      plainPort,
      adminUser: ADMIN_USER,
      adminPassword: password,
      adminDatabase: ADMIN_DATABASE,
      caFile: certificates.caFile,
      supportsRoles: false,
    };
    return { value, stop };
  } catch (error) {
    await stop();
    throw new Error(`${errorMessage(error)}\n${await logTail(logFile)}`);
  }
}

/** This process's environment without `FERRETDB_*` variables, which FerretDB reads as flags. */
function ferretdbEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('FERRETDB_')),
  );
}

/** Logs in as the administrator the way the suites will: over TLS, checking the certificate. */
function waitUntilAccepting(
  name: string,
  server: WatchedProcess,
  port: number,
  options: MongoClientOptions,
): Promise<MongoFacts> {
  return waitFor(
    `FerretDB server ${name} on 127.0.0.1:${port} (TLS)`,
    () => probeMongo(`mongodb://127.0.0.1:${port}/`, options),
    {
      timeoutMs: START_TIMEOUT_MS,
      failFast: async () => {
        const status = server.exitStatus();
        return (
          status && new Error(`FerretDB server ${name} ${describeExit(status)} during startup`)
        );
      },
    },
  );
}

async function probePlain(name: string, port: number, options: MongoClientOptions): Promise<void> {
  try {
    await probeMongo(`mongodb://127.0.0.1:${port}/`, { ...options, tls: false });
  } catch (error) {
    throw new Error(
      `FerretDB server ${name} refused ${ADMIN_USER} on its plain-text port 127.0.0.1:${port}: ${errorMessage(error)}`,
    );
  }
}
