import { PendingCredentialsError } from '../errors';
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
  if (!(await logsIn(engine, pending, config, retryDelaysMs))) {
    throw new PendingCredentialsError(
      `The database rejected the AWSPENDING credentials (user "${pending.username}") of secret ${versions.secretId} version ${versions.token}: setSecret has not applied them`,
    );
  }
  return 'pending-tested';
}
