import { NoWorkingCredentialsError } from '../errors';
import type { DatabaseSecret } from '../secrets/database-secret';
import { checkPendingTarget, requirePending } from './pending';
import { plainTextHint, tryLogin, withSession } from './sessions';
import type { RotationStrategy, StepContext } from './strategy';
import { testPendingSecret } from './test-secret';

/**
 * The user changes its own password. Between setSecret and finishSecret only AWSPENDING logs in
 * (with RETAIN_CURRENT_PASSWORD on MySQL, AWSCURRENT too).
 *
 * No login is tried that the database cannot accept yet: a failed login counts towards MySQL's
 * FAILED_LOGIN_ATTEMPTS and MariaDB's max_password_errors, and one too many locks the account and
 * its application out. So AWSCURRENT logs in first, and AWSPENDING first only when an earlier run
 * of this step recorded (with the PASSWORD_SET label) that the database has it.
 */
export const singleUser: RotationStrategy = {
  name: 'single-user',

  pendingUsername: (current) => current.username,

  async setSecret(context) {
    const { engine, config, versions } = context;
    const pending = await requirePending(versions);
    const current = await versions.current();
    checkPendingTarget(versions, pending, current, current.username);

    const tried: string[] = [];
    if (versions.passwordSetEarlier()) {
      tried.push('AWSPENDING');
      if (await pendingLogsIn(context, pending)) return 'pending-already-logs-in';
    }

    tried.push('AWSCURRENT');
    let login: { session: Awaited<ReturnType<typeof tryLogin>>; password: string } = {
      session: await tryLogin(engine, current, config),
      password: current.password,
    };
    if (!login.session && !tried.includes('AWSPENDING')) {
      // An earlier run may have changed the password and stopped before it could record so.
      tried.push('AWSPENDING');
      if (await pendingLogsIn(context, pending)) return 'pending-already-logs-in';
    }
    if (!login.session) {
      // A last resort, as in AWS's templates: the old password, e.g. restored by hand or after
      // labels were moved back. It is tried with the current version's connection settings.
      const previous = await versions.previous();
      if (previous && previous.username === current.username) {
        tried.push('AWSPREVIOUS');
        login = {
          session: await tryLogin(engine, { ...current, password: previous.password }, config),
          password: previous.password,
        };
      }
    }
    if (!login.session) throw noWorkingCredentials(context, current, tried);
    const result = await withSession(login.session, (s) =>
      s.changeOwnPassword({
        newPassword: pending.password,
        currentPassword: login.password,
        retainCurrent: config.retainCurrentPassword,
      }),
    );
    if (result === 'not-current') {
      // The login used a retained (secondary) password, so the primary one is another: only an
      // earlier run of this step, with RETAIN_CURRENT_PASSWORD, sets one that is not in hand.
      const via = tried.at(-1);
      if (!tried.includes('AWSPENDING')) {
        tried.push('AWSPENDING');
        if (await pendingLogsIn(context, pending)) return 'pending-already-logs-in';
      }
      throw noWorkingCredentials(
        context,
        current,
        tried,
        ` ${via} logged in only as the retained secondary password, which cannot change the primary one.`,
      );
    }
    await versions.recordPasswordSet();
    return 'password-set';
  },

  testSecret: testPendingSecret,
};

/** True (and recorded) when the pending credentials already log in: the step's work is done. */
async function pendingLogsIn(
  { engine, config, versions }: StepContext,
  pending: DatabaseSecret,
): Promise<boolean> {
  const session = await tryLogin(engine, pending, config);
  if (!session) return false;
  await withSession(session, (s) => s.ping());
  await versions.recordPasswordSet();
  return true;
}

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
