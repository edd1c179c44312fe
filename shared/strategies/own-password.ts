import type { DatabaseSecret } from '../secrets/database-secret';
import { tryLogin, withSession } from './sessions';
import type { StepContext, StepOutcome } from './strategy';

/** How one user changes its own password to the pending one: who logs in, and what to say. */
export interface OwnPasswordLogin {
  /** The credentials that should log in now (the user, its address, its password). */
  login: DatabaseSecret;
  /** For the error: where `login`'s password comes from, e.g. `AWSCURRENT`. */
  label: string;
  /** A last resort: the same user with an older password, e.g. restored by hand. */
  fallback: DatabaseSecret | undefined;
  fallbackLabel: string;
  retainCurrent: boolean;
  noWorking: (tried: readonly string[], note?: string) => Error;
}

/**
 * setSecret for a user changing its own password (single-user, and the idle user of a pair).
 *
 * No login is tried that the database cannot accept yet: a failed login counts towards MySQL's
 * FAILED_LOGIN_ATTEMPTS and MariaDB's max_password_errors, and one too many locks the account and
 * its application out. So the held password logs in first, and AWSPENDING first only when an
 * earlier run of this step recorded (with the PASSWORD_SET label) that the database has it.
 */
export async function setOwnPassword(
  context: StepContext,
  pending: DatabaseSecret,
  how: OwnPasswordLogin,
): Promise<StepOutcome> {
  const { engine, config, versions } = context;
  const tried: string[] = [];
  if (versions.passwordSetEarlier()) {
    tried.push('AWSPENDING');
    if (await pendingLogsIn(context, pending)) return 'pending-already-logs-in';
  }

  tried.push(how.label);
  let login: { session: Awaited<ReturnType<typeof tryLogin>>; password: string } = {
    session: await tryLogin(engine, how.login, config),
    password: how.login.password,
  };
  if (!login.session && !tried.includes('AWSPENDING')) {
    // An earlier run may have changed the password and stopped before it could record so.
    tried.push('AWSPENDING');
    if (await pendingLogsIn(context, pending)) return 'pending-already-logs-in';
  }
  if (!login.session && how.fallback && how.fallback.password !== how.login.password) {
    // A last resort, as in AWS's templates: the old password, e.g. restored by hand or after
    // labels were moved back. It is tried with the current version's connection settings.
    tried.push(how.fallbackLabel);
    login = {
      session: await tryLogin(engine, how.fallback, config),
      password: how.fallback.password,
    };
  }
  if (!login.session) throw how.noWorking(tried);
  const result = await withSession(login.session, (s) =>
    s.changeOwnPassword({
      newPassword: pending.password,
      currentPassword: login.password,
      retainCurrent: how.retainCurrent,
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
    throw how.noWorking(
      tried,
      ` ${via} logged in only as the retained secondary password, which cannot change the primary one.`,
    );
  }
  await versions.recordPasswordSet();
  return 'password-set';
}

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
