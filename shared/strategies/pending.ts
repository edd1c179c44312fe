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

/** Host names compare without case, as DNS does. */
export function sameServer(a: DatabaseSecret, b: DatabaseSecret): boolean {
  return a.host.toLowerCase() === b.host.toLowerCase() && a.port === b.port;
}
