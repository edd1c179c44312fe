import { NoWorkingCredentialsError } from '../errors';
import { checkPendingTarget, requirePending } from './pending';
import { plainTextHint, tryLogin, withSession } from './sessions';
import type { RotationStrategy } from './strategy';
import { testPendingSecret } from './test-secret';

/** The user changes its own password. Between setSecret and finishSecret only AWSPENDING logs in. */
export const singleUser: RotationStrategy = {
  name: 'single-user',

  pendingUsername: (current) => current.username,

  async setSecret({ engine, config, versions }) {
    const pending = await requirePending(versions);
    const retried = await tryLogin(engine, pending, config);
    if (retried) {
      await withSession(retried, (s) => s.ping());
      return 'pending-already-logs-in';
    }
    const current = await versions.current();
    checkPendingTarget(versions, pending, current, current.username);

    const tried = ['AWSPENDING', 'AWSCURRENT'];
    let session = await tryLogin(engine, current, config);
    if (!session) {
      // A last resort, as in AWS's templates: the old password, e.g. restored by hand or after
      // labels were moved back. It is tried with the current version's connection settings.
      const previous = await versions.previous();
      if (previous && previous.username === current.username) {
        tried.push('AWSPREVIOUS');
        session = await tryLogin(engine, { ...current, password: previous.password }, config);
      }
    }
    if (!session) {
      throw new NoWorkingCredentialsError(
        `None of the versions of secret ${versions.secretId} logs in as "${current.username}" (tried ${tried.join(', ')}), so its password cannot be changed. ` +
          'The password was changed outside rotation, or an earlier rotation set it and its version then lost the AWSPENDING label before finishSecret (removed by hand, or moved by a new RotateSecret), so no label holds it; that version is still listed by `aws secretsmanager list-secret-version-ids --include-deprecated`. ' +
          'Either way, put the working password in the secret (PutSecretValue to AWSCURRENT) or set the database password to the AWSCURRENT value, then rotate again.' +
          plainTextHint(current, config),
      );
    }
    await withSession(session, (s) => s.changeOwnPassword(pending.password));
    return 'password-set';
  },

  testSecret: testPendingSecret,
};
