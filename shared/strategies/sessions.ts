import type { RotationConfig } from '../config';
import type {
  ConnectionSettings,
  ConnectionTls,
  DatabaseEngine,
  DatabaseSession,
} from '../engines/engine';
import { planTls } from '../engines/tls';
import { CredentialsRejectedError, DatabaseUnreachableError } from '../errors';
import { logger } from '../logger';
import type { DatabaseSecret } from '../secrets/database-secret';

/** How to connect with a secret's credentials: its address and login, `tls`, and the settings. */
export function connectionSettings(
  engine: DatabaseEngine,
  secret: DatabaseSecret,
  config: RotationConfig,
  tls: ConnectionTls,
  database: string | undefined = secret.dbname,
): ConnectionSettings {
  return {
    host: secret.host,
    port: secret.port,
    username: secret.username,
    password: secret.password,
    database: database ?? engine.defaultDatabase,
    tls,
    connectTimeoutMs: config.connectTimeoutMs,
    statementTimeoutMs: config.statementTimeoutMs,
    flavor: secret.engine,
    parameters: secret.parameters,
  };
}

/**
 * Logs in with a secret's credentials under the TLS plan its `ssl` key and TLS_MODE give. The
 * one plain-text retry happens only in the opt-in `fallback` mode, only after a TLS failure, and
 * always with a warning.
 */
export async function openSession(
  engine: DatabaseEngine,
  secret: DatabaseSecret,
  config: RotationConfig,
  database: string | undefined = secret.dbname,
): Promise<DatabaseSession> {
  const plan = planTls(secret.ssl, config.tlsMode);
  const settings = connectionSettings(engine, secret, config, plan.tls, database);
  try {
    return await engine.connect(settings);
  } catch (error) {
    if (
      !(plan.fallbackToPlainText && error instanceof DatabaseUnreachableError && error.tlsFailure)
    )
      throw error;
    logger.warn(
      'TLS failed and TLS_MODE=fallback allows plain text: connecting WITHOUT encryption. Anyone in the network path can force this and read the passwords sent (with MySQL, the current one too: over plain text its RSA key is fetched unauthenticated). Fix TLS and leave fallback',
      {
        host: secret.host,
        port: secret.port,
        reason: error.message,
      },
    );
    return engine.connect({ ...settings, tls: 'disable' });
  }
}

/** Like openSession, but `undefined` when the server rejects the credentials. */
export async function tryLogin(
  engine: DatabaseEngine,
  secret: DatabaseSecret,
  config: RotationConfig,
  database?: string,
): Promise<DatabaseSession | undefined> {
  try {
    return await openSession(engine, secret, config, database);
  } catch (error) {
    if (error instanceof CredentialsRejectedError) return undefined;
    throw error;
  }
}

/** Runs `work` with a session and always closes it. */
export async function withSession<T>(
  session: DatabaseSession,
  work: (s: DatabaseSession) => Promise<T>,
): Promise<T> {
  try {
    return await work(session);
  } finally {
    await session.close();
  }
}

/**
 * Added to "no credentials work" errors when the logins were in plain text: MariaDB rejects a
 * plain-text login under require_secure_transport=ON exactly as it rejects a wrong password.
 */
/**
 * Logs in with `secret` and runs a query, logging in again after each of `retryDelaysMs` (for a
 * read replica that lags behind its writer); false when the database refuses every login.
 */
export async function logsIn(
  engine: DatabaseEngine,
  secret: DatabaseSecret,
  config: RotationConfig,
  retryDelaysMs: readonly number[] = [],
): Promise<boolean> {
  let session = await tryLogin(engine, secret, config);
  for (const delay of retryDelaysMs) {
    if (session) break;
    await new Promise((resolve) => setTimeout(resolve, delay));
    session = await tryLogin(engine, secret, config);
  }
  if (!session) return false;
  await withSession(session, (s) => s.ping());
  return true;
}

export function plainTextHint(secret: DatabaseSecret, config: RotationConfig): string {
  return planTls(secret.ssl, config.tlsMode).tls === 'disable'
    ? ' These logins were made without TLS ("ssl": false or TLS_MODE=disable); a server that requires TLS (MariaDB with require_secure_transport=ON) rejects them as if the password were wrong.'
    : '';
}
