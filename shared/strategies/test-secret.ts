import { PendingCredentialsError, SecretVersionMissingError } from '../errors';
import type { SecretVersions } from '../secrets/secret-versions';
import { logsIn, openSession, withSession } from './sessions';
import type { StepContext, StepOutcome } from './strategy';

/**
 * testSecret for both strategies: the pending credentials log in and run a query. Secrets Manager
 * also calls testSecret alone (RotateSecret with RotateImmediately=false) to check the
 * configuration; if the pending version has no value then, the current credentials are tested,
 * which is what that check can prove.
 */
export async function testPendingSecret(
  { engine, config, versions }: StepContext,
  /** Waits before each further login, for a read replica that may lag behind its writer. */
  retryDelaysMs: readonly number[] = [],
): Promise<StepOutcome> {
  const pending = await versions.pending();
  if (!pending) {
    const current = await versions.current();
    await withSession(await openSession(engine, current, config), (s) => s.ping());
    return 'current-tested';
  }
  // RotateSecret with RotateImmediately=false labels a copy of the secret's value AWSPENDING
  // (Secrets Manager's of AWSCURRENT; moto's can be of an older version): a password the secret
  // already holds, not one setSecret may not have applied yet.
  const held = [await versions.current(), await versions.previous()];
  const copy = held.some(
    (v) => v !== undefined && v.username === pending.username && v.password === pending.password,
  );
  if (!copy) requirePasswordSet(versions, 'testSecret');
  if (!(await logsIn(engine, pending, config, retryDelaysMs))) {
    throw new PendingCredentialsError(
      `The database rejected the AWSPENDING credentials (user "${pending.username}") of secret ${versions.secretId} version ${versions.token}: setSecret has not applied them`,
    );
  }
  return 'pending-tested';
}

/**
 * No login with the pending password before setSecret recorded (ROTATION_PASSWORD_SET) that the
 * database has it: such a login could only fail, and anyone allowed to invoke the function could
 * repeat it until an account with a failed-login limit (MySQL's FAILED_LOGIN_ATTEMPTS, MariaDB's
 * max_password_errors) locks.
 */
export function requirePasswordSet(versions: SecretVersions, step: string): void {
  if (versions.passwordSetEarlier()) return;
  throw new PendingCredentialsError(
    `${step} of secret ${versions.secretId} version ${versions.token}: setSecret has not recorded that the database has the AWSPENDING password (the version lacks the ROTATION_PASSWORD_SET label), so no login is tried with it and nothing was changed. Run the rotation's setSecret first (rotate again, or \`rotate --resume\`).`,
  );
}

/**
 * finishSecret's own check before it promotes: the pending credentials log in. Secrets Manager
 * calls finishSecret only after testSecret passed, but anyone allowed to invoke the function can
 * call it directly; one login per rotation keeps it from promoting a password the database never
 * got. Once AWSCURRENT has moved (a retried finishSecret), the step is done without it.
 */
export async function confirmPendingLogsIn({
  engine,
  config,
  versions,
}: StepContext): Promise<void> {
  const pending = await versions.pending();
  if (!pending) {
    throw new SecretVersionMissingError(
      `Secret ${versions.secretId} version ${versions.token} (AWSPENDING) has no value: createSecret has not run for this rotation, so finishSecret promotes nothing`,
    );
  }
  requirePasswordSet(versions, 'finishSecret');
  if (!(await logsIn(engine, pending, config))) {
    throw new PendingCredentialsError(
      `finishSecret refuses to promote version ${versions.token} of secret ${versions.secretId}: its credentials (user "${pending.username}") do not log in, so setSecret has not applied them. Nothing was changed; run the rotation's setSecret and testSecret first.`,
    );
  }
}
