import { NoWorkingCredentialsError } from '../errors';
import type { DatabaseSecret } from '../secrets/database-secret';
import { setOwnPassword } from './own-password';
import { pairMode } from './pair';
import { checkPendingTarget, requirePending } from './pending';
import { plainTextHint } from './sessions';
import type { RotationStrategy, StepContext } from './strategy';
import { confirmPendingLogsIn, testPendingSecret } from './test-secret';

/**
 * The user changes its own password. Between setSecret and finishSecret only AWSPENDING logs in
 * (with RETAIN_CURRENT_PASSWORD on MySQL, AWSCURRENT too).
 *
 * A secret with `alternate_username` and `alternate_password` is a pair (README, "Pair mode"):
 * the idle user changes its own password the same way, and the live one is never touched.
 */
export const singleUser: RotationStrategy = {
  name: 'single-user',

  pendingFields: (current) =>
    current.alternate ? pairMode.pendingFields(current) : { username: current.username },

  async setSecret(context) {
    if ((await context.versions.current()).alternate) return pairMode.setSecret(context);
    const pending = await requirePending(context.versions);
    const current = await context.versions.current();
    checkPendingTarget(context.versions, pending, current, current.username);
    const previous = await context.versions.previous();
    return setOwnPassword(context, pending, {
      login: current,
      label: 'AWSCURRENT',
      fallback:
        previous && previous.username === current.username
          ? { ...current, password: previous.password }
          : undefined,
      fallbackLabel: 'AWSPREVIOUS',
      retainCurrent: context.config.retainCurrentPassword,
      noWorking: (tried, note) => noWorkingCredentials(context, current, tried, note),
    });
  },

  async testSecret(context) {
    if ((await context.versions.current()).alternate) return pairMode.testSecret(context);
    return testPendingSecret(context);
  },

  async confirmFinish(context) {
    if ((await context.versions.current()).alternate) return pairMode.confirmFinish(context);
    return confirmPendingLogsIn(context);
  },
};

/** No version logs in (with the primary password): what happened and what a person does. */
function noWorkingCredentials(
  { config, versions }: StepContext,
  current: DatabaseSecret,
  tried: readonly string[],
  note = '',
): NoWorkingCredentialsError {
  return new NoWorkingCredentialsError(
    `None of the versions of secret ${versions.secretId} logs in as "${current.username}" with its password (tried ${tried.join(', ')}), so its password cannot be changed.${note} ` +
      'The password was changed outside rotation, or an earlier rotation set it and its version then lost the AWSPENDING label before finishSecret (removed by hand, or moved by a new RotateSecret), so no label holds it; that version is still listed by `aws secretsmanager list-secret-version-ids --include-deprecated`, and carries the ROTATION_PASSWORD_SET label if setSecret had finished. ' +
      'Either way, put the working password in the secret (PutSecretValue to AWSCURRENT) or set the database password to the AWSCURRENT value, then rotate again.' +
      plainTextHint(current, config),
  );
}
