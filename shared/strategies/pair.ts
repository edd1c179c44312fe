import type { RotationConfig } from '../config';
import type { DatabaseEngine, DatabaseSession, OwnRights } from '../engines/engine';
import {
  AccountLockedError,
  CredentialsMismatchError,
  CredentialsRejectedError,
  NoWorkingCredentialsError,
  PasswordExpiredError,
  PendingCredentialsError,
  PrivilegeDriftError,
} from '../errors';
import { logger } from '../logger';
import {
  ALTERNATE_PASSWORD,
  ALTERNATE_USERNAME,
  type DatabaseSecret,
} from '../secrets/database-secret';
import { setOwnPassword } from './own-password';
import { checkPendingTarget, requirePending } from './pending';
import { openSession, plainTextHint, tryLogin, withSession } from './sessions';
import type { PendingFields, StepContext, StepOutcome } from './strategy';
import { confirmPendingLogsIn, requirePasswordSet, testPendingSecret } from './test-secret';

/**
 * Pair mode, in the single-user functions: a DBA made two equivalent users, the secret holds both
 * (`username`/`password` live, `alternate_username`/`alternate_password` idle), and each rotation
 * has the idle user change its own password, then swaps the two. Nothing is created, granted or
 * revoked, and the live user is never touched, so AWSCURRENT logs in all through a rotation and
 * AWSPREVIOUS until the next one. Before promotion, testSecret compares what each user may do, as
 * each sees itself, and refuses a user that lacks a right of the live one.
 */
export const pairMode = {
  /** The idle user becomes `username`; the live one, with its unchanged password, the alternate. */
  pendingFields(current: DatabaseSecret): PendingFields {
    const alternate = pairOf(current);
    return {
      username: alternate.username,
      [ALTERNATE_USERNAME]: current.username,
      [ALTERNATE_PASSWORD]: current.password,
    };
  },

  async setSecret(context: StepContext): Promise<StepOutcome> {
    const { versions } = context;
    const pending = await requirePending(versions);
    const current = await versions.current();
    const idle = checkPairPending(context, pending, current);
    // The idle user's older password, should it have been put back by hand: AWSPREVIOUS of a pair
    // names it as `username` (it was live) or as the alternate.
    const previous = await versions.previous();
    const older =
      previous?.username === idle.username
        ? previous.password
        : previous?.alternate?.username === idle.username
          ? previous.alternate.password
          : undefined;
    return setOwnPassword(context, pending, {
      login: idle,
      label: `AWSCURRENT's ${ALTERNATE_PASSWORD}`,
      fallback: older === undefined ? undefined : { ...idle, password: older },
      fallbackLabel: 'AWSPREVIOUS',
      // The idle user's old password is of no use to anyone: a pair never retains it.
      retainCurrent: false,
      noWorking: (tried, note = '') =>
        new NoWorkingCredentialsError(
          `None of the versions of secret ${versions.secretId} logs in as "${idle.username}" (the idle user of the pair, AWSCURRENT's "${ALTERNATE_USERNAME}") with its password (tried ${tried.join(', ')}), so its password cannot be changed.${note} ` +
            `The live user "${current.username}" is untouched and keeps working. The idle user's password was changed outside rotation, or it is locked or cannot log in, or an earlier rotation set it and its version then lost the AWSPENDING label (that version is still listed by \`aws secretsmanager list-secret-version-ids --include-deprecated\`, with ROTATION_PASSWORD_SET if setSecret had finished, and its "password" is the idle user's). ` +
            `Put its working password in the secret ("${ALTERNATE_PASSWORD}" of AWSCURRENT, with PutSecretValue) or set its database password to AWSCURRENT's "${ALTERNATE_PASSWORD}" (and unlock it), then rotate again.` +
            plainTextHint(current, context.config),
        ),
    });
  },

  /**
   * The pending (idle) user logs in; then, before it may be promoted, the parity check: what it
   * may do against what the live user may do, each as read in its own session.
   */
  async testSecret(context: StepContext): Promise<StepOutcome> {
    const pending = await context.versions.pending();
    const current = await context.versions.current();
    // No value (configuration check), or a copy of a held version (RotateImmediately=false).
    if (!pending || pending.username === current.username) return testPendingSecret(context);
    await checkParity(context, pending, current, 'testSecret');
    return 'pending-tested';
  },

  /**
   * finishSecret's own check, the same as testSecret's: anyone allowed to invoke the function can
   * call finishSecret directly after testSecret refused, and a DBA can revoke a right in between.
   * Both logins use passwords already recorded as set, so neither can fail.
   */
  async confirmFinish(context: StepContext): Promise<void> {
    const pending = await context.versions.pending();
    const current = await context.versions.current();
    if (!pending || pending.username === current.username) return confirmPendingLogsIn(context);
    await checkParity(context, pending, current, 'finishSecret');
  },
};

/**
 * The pending version matches AWSCURRENT, its user logs in, and it may do everything the live
 * user may, with the same limits; throws otherwise, changing nothing.
 */
async function checkParity(
  context: StepContext,
  pending: DatabaseSecret,
  current: DatabaseSecret,
  step: 'testSecret' | 'finishSecret',
): Promise<void> {
  const { engine, config, versions } = context;
  checkPairPending(context, pending, current);
  requirePasswordSet(versions, step);
  const session = await tryLogin(engine, pending, config);
  if (!session) {
    throw new PendingCredentialsError(
      `${step}: the database rejected the AWSPENDING credentials (user "${pending.username}") of secret ${versions.secretId} version ${versions.token}: setSecret has not applied them. Nothing was changed.`,
    );
  }
  const candidate = await withSession(session, (s) => s.ownRights({ partner: current.username }));
  const liveLogin = await loginUnlessRefused(engine, current, config);
  if ('refused' in liveLogin) {
    // The server refuses the live user: promoting the idle one, which logs in, ends that outage,
    // and its holder (who also holds the live user's credentials) gains nothing by it.
    logger.warn(
      'Pair parity not checked: the database refuses the AWSCURRENT user, so what it may do cannot be read; the AWSPENDING user logs in and is promoted',
      { user: current.username, reason: liveLogin.refused },
    );
    return;
  }
  // Anything else that stops the live user's rights from being read (the server unreachable, a
  // connection lost or timed out) fails the step, to be retried: it must never pass for a refusal.
  const live: OwnRights = await withSession(liveLogin.session, (s) =>
    s.ownRights({ partner: pending.username }),
  );
  const { lacking, extra, limits } = compareRights(live, candidate);
  if (lacking.length > 0 || limits.length > 0) {
    const what = [
      ...(lacking.length > 0 ? [`"${pending.username}" lacks: ${summarize(lacking)}`] : []),
      ...(limits.length > 0
        ? [`their limits differ (these must be the same both ways): ${summarize(limits)}`]
        : []),
    ].join('. ');
    throw new PrivilegeDriftError(
      `Secret ${versions.secretId}: the idle user "${pending.username}" (AWSPENDING) cannot do everything the live user "${current.username}" (AWSCURRENT) can, so ${step} does not promote it; nothing was changed and "${current.username}" keeps working. As each user sees itself, ${what}. ` +
        `Give "${pending.username}" the same rights and limits (the README's "Pair mode" shows how), then finish the rotation: \`rotate --resume\`, or RotateSecret again.`,
    );
  }
  logger.info('Pair parity checked: the idle user may do everything the live one may', {
    user: pending.username,
    compared: live.rights.length + live.limits.length,
    notCompared: [...new Set([...live.unseen, ...candidate.unseen])].join('; '),
  });
  if (extra.length > 0) {
    logger.warn('The idle user of the pair can do more than the live one', {
      user: pending.username,
      extra: summarize(extra),
    });
  }
}

/**
 * Logs in, or says why the database refused the user itself: its password (CredentialsRejected),
 * a locked account, or an expired password. Whatever else fails (unreachable, TLS, a lost or timed
 * out connection) is thrown.
 */
async function loginUnlessRefused(
  engine: DatabaseEngine,
  secret: DatabaseSecret,
  config: RotationConfig,
): Promise<{ session: DatabaseSession } | { refused: string }> {
  try {
    return { session: await openSession(engine, secret, config) };
  } catch (error) {
    if (
      error instanceof CredentialsRejectedError ||
      error instanceof AccountLockedError ||
      error instanceof PasswordExpiredError
    ) {
      return { refused: error.message };
    }
    throw error;
  }
}

/** The pair a secret holds; only called for a secret with the alternate keys. */
function pairOf(current: DatabaseSecret): { username: string; password: string } {
  if (!current.alternate) throw new Error('pair mode needs alternate_username');
  return current.alternate;
}

/**
 * The pending version of a pair must name the idle user, on the same server, and hold the live
 * user's own credentials as its alternate, or promoting it would record a password that no longer
 * works. Returns the idle user's credentials, with AWSCURRENT's connection settings.
 */
function checkPairPending(
  { versions }: StepContext,
  pending: DatabaseSecret,
  current: DatabaseSecret,
): DatabaseSecret {
  const idle = pairOf(current);
  checkPendingTarget(versions, pending, current, idle.username);
  if (
    pending.alternate?.username !== current.username ||
    pending.alternate.password !== current.password
  ) {
    const cancel = `remove its AWSPENDING label (aws secretsmanager update-secret-version-stage --secret-id ${versions.secretId} --version-stage AWSPENDING --remove-from-version-id ${versions.token}) and rotate again`;
    throw new CredentialsMismatchError(
      `Secret ${versions.secretId} version ${versions.token} (AWSPENDING) does not hold AWSCURRENT's "username" and "password" as its "${ALTERNATE_USERNAME}" and "${ALTERNATE_PASSWORD}": AWSCURRENT changed after createSecret made it, and promoting it would record a password of "${current.username}" that is not the one in use. Nothing was changed. ` +
        (versions.passwordSetEarlier()
          ? `setSecret already gave "${pending.username}" this version's password, so first copy this version's "password" into AWSCURRENT's "${ALTERNATE_PASSWORD}" (PutSecretValue), then ${cancel}.`
          : `Cancel this rotation: ${cancel}. The live user is untouched; should a setSecret have been cut off after changing "${pending.username}", the next rotation says how to restore it.`),
    );
  }
  return { ...current, username: idle.username, password: idle.password };
}

/**
 * The parity comparison (testSecret's, finishSecret's and preflight's): the rights of `live` that
 * `candidate` lacks, those `candidate` has beyond `live`, and the limits either has and the other
 * has not (marked with whose they are).
 */
export function compareRights(
  live: Pick<OwnRights, 'rights' | 'limits'>,
  candidate: Pick<OwnRights, 'rights' | 'limits'>,
): { lacking: string[]; extra: string[]; limits: string[] } {
  const minus = (a: readonly string[], b: readonly string[]) => {
    const other = new Set(b);
    return [...new Set(a)].filter((line) => !other.has(line)).sort();
  };
  return {
    lacking: minus(live.rights, candidate.rights),
    extra: minus(candidate.rights, live.rights),
    limits: [
      ...minus(live.limits, candidate.limits).map((line) => `only the live user: ${line}`),
      ...minus(candidate.limits, live.limits).map((line) => `only the idle user: ${line}`),
    ],
  };
}

/** At most ten differences in a message, and how many more. */
function summarize(lines: readonly string[]): string {
  const shown = lines.slice(0, 10).join('; ');
  return lines.length > 10 ? `${shown}; and ${lines.length - 10} more` : shown;
}
