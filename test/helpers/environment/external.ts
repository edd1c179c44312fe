import { errorMessage } from './child-processes';
import { majorVersion, type PostgresFacts, probePostgres } from './postgres-probe';
import type { PostgresServer } from './types';

/**
 * Superuser `postgres://` URL(s) of servers to use instead of starting any; several are separated by commas
 * (percent-encode commas inside passwords).
 */
export const POSTGRES_URL_VARIABLE = 'TEST_POSTGRES_URL';
/** Secrets Manager endpoint to use instead of starting moto. */
export const SECRETS_MANAGER_ENDPOINT_VARIABLE = 'TEST_SECRETS_MANAGER_ENDPOINT';

/** The external PostgreSQL URLs from the environment (empty when none are configured). */
export function externalPostgresUrls(): string[] {
  return (process.env[POSTGRES_URL_VARIABLE] ?? '')
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
