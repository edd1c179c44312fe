import { CredentialsMismatchError, SecretVersionMissingError } from '../errors';
import type { DatabaseSecret } from '../secrets/database-secret';
import type { SecretVersions } from '../secrets/secret-versions';

/** The AWSPENDING value setSecret applies; createSecret must have stored it. */
export async function requirePending(versions: SecretVersions): Promise<DatabaseSecret> {
  const pending = await versions.pending();
  if (!pending) {
    throw new SecretVersionMissingError(
      `Secret ${versions.secretId} version ${versions.token} (AWSPENDING) has no value: createSecret has not run for this rotation`,
    );
  }
  return pending;
}

/** The pending version may change only the expected user on the same server. */
export function checkPendingTarget(
  versions: SecretVersions,
  pending: DatabaseSecret,
  current: DatabaseSecret,
  expectedUsername: string,
): void {
  const where = `Secret ${versions.secretId} version ${versions.token} (AWSPENDING)`;
  if (pending.username !== expectedUsername) {
    throw new CredentialsMismatchError(
      `${where} names user "${pending.username}", but this rotation may only change "${expectedUsername}" (from AWSCURRENT user "${current.username}")`,
    );
  }
  if (!sameServer(pending, current)) {
    throw new CredentialsMismatchError(
      `${where} names host ${pending.host}:${pending.port}, but AWSCURRENT names ${current.host}:${current.port}`,
    );
  }
}

/**
 * Host names compare without case, as DNS does; a name in `aliases` (DATABASE_HOST_ALIASES) counts
 * as the endpoint it stands for.
 */
export function sameServer(
  a: { host: string; port: number },
  b: { host: string; port: number },
  aliases: ReadonlyMap<string, string> = new Map(),
): boolean {
  const name = (host: string) => aliases.get(host.toLowerCase()) ?? host.toLowerCase();
  return name(a.host) === name(b.host) && a.port === b.port;
}
