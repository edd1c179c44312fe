import { readFile } from 'node:fs/promises';
import type { ConnectionOptions } from 'mysql2/promise';
import { errorMessage } from './child-processes';
import { type MongoFacts, mongoServerName, probeMongo } from './mongo-probe';
import { type MysqlFacts, majorMinorVersion, probeMysql } from './mysql-probe';
import { majorVersion, type PostgresFacts, probePostgres } from './postgres-probe';
import type { MongoServer, MysqlServer, PostgresServer } from './types';

/**
 * Superuser `postgres://` URL(s) of servers to use instead of starting any; several are separated by commas
 * (percent-encode commas inside passwords).
 */
export const POSTGRES_URL_VARIABLE = 'TEST_POSTGRES_URL';
/**
 * Administrator `mysql://user:password@host:port` URL(s) of MySQL or MariaDB servers to use instead of
 * starting any; several are separated by commas (percent-encode commas inside passwords). An optional
 * `?ssl-ca=/path/ca.pem` names the CA file to verify the server certificate with.
 */
export const MYSQL_URL_VARIABLE = 'TEST_MYSQL_URL';
/**
 * Administrator `mongodb://user:password@host:port/?authSource=admin` URL(s) of MongoDB or FerretDB
 * servers to use instead of starting any; several are separated by commas (percent-encode commas
 * inside passwords), so each names one host. The server must accept TLS on that port. Optional:
 * `tlsCAFile=/path/ca.pem` names the CA file to verify the server certificate with, and
 * `plainPort=<port>` (read by the harness only) a separate plain-text port, as FerretDB has.
 */
export const MONGODB_URL_VARIABLE = 'TEST_MONGODB_URL';
/** Secrets Manager endpoint to use instead of starting moto. */
export const SECRETS_MANAGER_ENDPOINT_VARIABLE = 'TEST_SECRETS_MANAGER_ENDPOINT';

/** The external PostgreSQL URLs from the environment (empty when none are configured). */
export function externalPostgresUrls(): string[] {
  return urlList(POSTGRES_URL_VARIABLE);
}

/** The external MySQL/MariaDB URLs from the environment (empty when none are configured). */
export function externalMysqlUrls(): string[] {
  return urlList(MYSQL_URL_VARIABLE);
}

/** The external MongoDB/FerretDB URLs from the environment (empty when none are configured). */
export function externalMongodbUrls(): string[] {
  return urlList(MONGODB_URL_VARIABLE);
}

function urlList(variable: string): string[] {
  return (process.env[variable] ?? '')
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '');
}

/** The external Secrets Manager endpoint from the environment, if configured. */
export function externalSecretsManagerEndpoint(): string | undefined {
  const endpoint = process.env[SECRETS_MANAGER_ENDPOINT_VARIABLE]?.trim();
  if (!endpoint) {
    return undefined;
  }
  if (!URL.canParse(endpoint)) {
    throw new Error(`${SECRETS_MANAGER_ENDPOINT_VARIABLE} is not a URL: ${endpoint}`);
  }
  return endpoint;
}

/**
 * Describes an already-running server from its superuser URL, after checking it answers.
 * The URL's own TLS parameters (`sslmode`, `sslrootcert`) are honoured when probing;
 * `sslrootcert` also becomes the server's `caFile`.
 */
export async function describeExternalPostgres(url: string): Promise<PostgresServer> {
  const parsed = parsePostgresUrl(url);
  let facts: PostgresFacts;
  try {
    facts = await probePostgres({ connectionString: url });
  } catch (error) {
    throw new Error(
      `${POSTGRES_URL_VARIABLE} server ${parsed.host}:${parsed.port} is not usable: ${errorMessage(error)}`,
    );
  }
  return {
    name: `postgresql-${majorVersion(facts.version)}@${parsed.host}:${parsed.port}`,
    version: facts.version,
    host: parsed.host,
    port: parsed.port,
    superuser: parsed.user,
    superuserPassword: parsed.password,
    caFile: parsed.caFile,
    tlsCapable: facts.ssl,
  };
}

function parsePostgresUrl(url: string) {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Do not echo the URL: it contains the superuser password.
    throw new Error(`${POSTGRES_URL_VARIABLE} contains an entry that is not a URL`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new Error(
      `${POSTGRES_URL_VARIABLE} entries must be postgres:// URLs, got ${parsed.protocol}//`,
    );
  }
  return {
    host: decodeURIComponent(parsed.hostname).replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port === '' ? 5432 : Number(parsed.port),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    caFile: parsed.searchParams.get('sslrootcert') ?? undefined,
  };
}

/**
 * Describes an already-running MySQL or MariaDB server from its administrator URL, after checking it
 * answers. Flavor and version come from `SELECT VERSION()`. The check uses TLS, verified against
 * `ssl-ca` when the URL names one, and falls back to a plain connection only when the server
 * offers no TLS at all.
 */
export async function describeExternalMysql(url: string): Promise<MysqlServer> {
  const parsed = parseMysqlUrl(url);
  let facts: MysqlFacts;
  try {
    facts = await probeExternalMysql(parsed);
  } catch (error) {
    throw new Error(
      `${MYSQL_URL_VARIABLE} server ${parsed.host}:${parsed.port} is not usable: ${errorMessage(error)}`,
    );
  }
  return {
    name: `${facts.flavor}-${majorMinorVersion(facts.version)}@${parsed.host}:${parsed.port}`,
    flavor: facts.flavor,
    version: facts.version,
    host: parsed.host,
    port: parsed.port,
    rootUser: parsed.user,
    rootPassword: parsed.password,
    caFile: parsed.caFile,
    tlsCapable: facts.tlsCapable,
    requireSecureTransport: facts.requireSecureTransport,
  };
}

async function probeExternalMysql(parsed: ReturnType<typeof parseMysqlUrl>): Promise<MysqlFacts> {
  const options: ConnectionOptions = {
    host: parsed.host,
    port: parsed.port,
    user: parsed.user,
    password: parsed.password,
  };
  // Without a CA the certificate cannot be checked; TLS still keeps the password off the wire.
  const ssl = parsed.caFile
    ? { ca: await readFile(parsed.caFile, 'utf8'), rejectUnauthorized: true }
    : { rejectUnauthorized: false };
  try {
    return await probeMysql({ ...options, ssl });
  } catch (error) {
    if (!parsed.caFile && isRecord(error) && error.code === 'HANDSHAKE_NO_SSL_SUPPORT') {
      return probeMysql(options);
    }
    throw error;
  }
}

function parseMysqlUrl(url: string) {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Do not echo the URL: it contains the administrator password.
    throw new Error(`${MYSQL_URL_VARIABLE} contains an entry that is not a URL`);
  }
  if (parsed.protocol !== 'mysql:' && parsed.protocol !== 'mariadb:') {
    throw new Error(
      `${MYSQL_URL_VARIABLE} entries must be mysql:// URLs, got ${parsed.protocol}//`,
    );
  }
  return {
    host: decodeURIComponent(parsed.hostname).replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port === '' ? 3306 : Number(parsed.port),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    caFile: parsed.searchParams.get('ssl-ca') ?? undefined,
  };
}

/**
 * Describes an already-running MongoDB or FerretDB server from its administrator URL, after logging
 * in over TLS (verified against `tlsCAFile` when the URL names one) and, separately, in plain text
 * (on `plainPort` if the URL names one, else on the same port). Kind and version come from
 * `buildInfo` (FerretDB adds `ferretdbVersion`). Fails when the server refuses TLS (`port` must be a
 * TLS port) or a named `plainPort` refuses the login. Without `plainPort`, the server's `plainPort`
 * is its port if that also accepts plain text, otherwise undefined.
 */
export async function describeExternalMongodb(url: string): Promise<MongoServer> {
  const parsed = parseMongodbUrl(url);
  const where = `${MONGODB_URL_VARIABLE} server ${parsed.host}:${parsed.port}`;
  const [tls, plain] = await Promise.allSettled([
    probeMongo(parsed.tlsUrl, {
      tls: true,
      // Without a CA the certificate cannot be checked; TLS still keeps the password off the wire.
      ...(parsed.caFile ? {} : { tlsAllowInvalidCertificates: true }),
    }),
    probeMongo(parsed.plainUrl, { tls: false }),
  ]);
  if (parsed.plainPort !== undefined && plain.status === 'rejected') {
    throw new Error(
      `${where}: plainPort ${parsed.plainPort} is not usable: ${errorMessage(plain.reason)}`,
    );
  }
  if (tls.status === 'rejected') {
    const plainResult =
      plain.status === 'fulfilled'
        ? 'it accepts plain text, but the suites need TLS'
        : `plain text failed too: ${errorMessage(plain.reason)}`;
    throw new Error(
      `${where} is not usable over TLS: ${errorMessage(tls.reason)} (${plainResult})`,
    );
  }
  const facts: MongoFacts = tls.value;
  return {
    name: `${mongoServerName(facts)}@${parsed.host}:${parsed.port}`,
    kind: facts.kind,
    version: facts.version,
    host: parsed.host,
    port: parsed.port,
    plainPort: plain.status === 'fulfilled' ? (parsed.plainPort ?? parsed.port) : undefined,
    adminUser: parsed.user,
    adminPassword: parsed.password,
    adminDatabase: parsed.authSource,
    caFile: parsed.caFile,
    // FerretDB 1.x neither stores nor enforces roles; later releases are not known to this harness.
    supportsRoles: facts.kind === 'mongodb',
  };
}

function parseMongodbUrl(url: string) {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Do not echo the URL: it contains the administrator password.
    throw new Error(
      `${MONGODB_URL_VARIABLE} contains an entry that is not a single-host mongodb:// URL`,
    );
  }
  if (parsed.protocol !== 'mongodb:') {
    throw new Error(
      `${MONGODB_URL_VARIABLE} entries must be mongodb:// URLs (one host each), got ${parsed.protocol}//`,
    );
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  const plainPortParameter = parsed.searchParams.get('plainPort');
  const plainPort = plainPortParameter === null ? undefined : Number(plainPortParameter);
  if (plainPort !== undefined && !(Number.isInteger(plainPort) && plainPort > 0)) {
    throw new Error(`${MONGODB_URL_VARIABLE}: plainPort must be a port number`);
  }
  // The URL's own tls/ssl settings would conflict with the probes', which try both; the driver
  // does not know plainPort.
  const withoutTls = withoutParameters(parsed, /^(tls|ssl|plainPort)$/i);
  const plain = withoutParameters(parsed, /^(tls|ssl|plainPort)/i);
  if (plainPort !== undefined) {
    plain.port = String(plainPort);
  }
  return {
    host: decodeURIComponent(parsed.hostname).replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port === '' ? 27017 : Number(parsed.port),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    // The driver's rule: authSource, else the URL's database, else admin.
    authSource: parsed.searchParams.get('authSource') ?? (database || 'admin'),
    caFile: parsed.searchParams.get('tlsCAFile') ?? undefined,
    plainPort,
    tlsUrl: withoutTls.href,
    plainUrl: plain.href,
  };
}

function withoutParameters(url: URL, names: RegExp): URL {
  const copy = new URL(url);
  for (const key of [...copy.searchParams.keys()]) {
    if (names.test(key)) {
      copy.searchParams.delete(key);
    }
  }
  return copy;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
