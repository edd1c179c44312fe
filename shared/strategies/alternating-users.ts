import type { AlternatingUsers, DatabaseSession, UsernameLimit } from '../engines/engine';
import {
  MasterSecretError,
  NoWorkingCredentialsError,
  PasswordExpiredError,
  PrivilegeDriftError,
  SecretValueError,
  UnboundPairError,
  UsernameTooLongError,
} from '../errors';
import type { DatabaseSecret } from '../secrets/database-secret';
import { rdsLocator } from '../secrets/rds';
import { checkPendingTarget, requirePending, sameServer } from './pending';
import { plainTextHint, tryLogin, withSession } from './sessions';
import type { RotationStrategy, StepContext } from './strategy';
import { testPendingSecret } from './test-secret';

/** The suffix AWS's templates use, so secrets rotated by them keep rotating here. */
export const CLONE_SUFFIX = '_clone';

/** The user without the clone suffix. */
export function baseUsername(username: string): string {
  return username.endsWith(CLONE_SUFFIX) ? username.slice(0, -CLONE_SUFFIX.length) : username;
}

/** `name` ↔ `name_clone`. Throws when the result would be empty or longer than the limit. */
export function alternateUsername(username: string, limit: UsernameLimit): string {
  const base = baseUsername(username);
  if (base.length === 0) {
    throw new UsernameTooLongError(
      `Username "${username}" is only the clone suffix; it has no base user to alternate with`,
    );
  }
  if (username !== base) return base;
  const clone = `${base}${CLONE_SUFFIX}`;
  const length = limit.unit === 'bytes' ? Buffer.byteLength(clone, 'utf8') : [...clone].length;
  if (length > limit.max) {
    throw new UsernameTooLongError(
      `The alternate username "${clone}" is ${length} ${limit.unit}, longer than the database's ${limit.max}-${limit.unit === 'bytes' ? 'byte' : 'character'} limit: shorten username "${base}" to ${limit.max - CLONE_SUFFIX.length} ${limit.unit} or less`,
    );
  }
  return clone;
}

/**
 * A master user keeps two users, `name` and `name_clone`, and each rotation gives the one not in
 * AWSCURRENT a new password, so the current credentials keep working throughout and AWSPREVIOUS
 * still logs in afterwards.
 */
export const alternatingUsers: RotationStrategy = {
  name: 'alternating-users',

  pendingFields(current, engine, secretId, config) {
    if (current.alternate) {
      throw new SecretValueError(
        `Secret ${secretId} (AWSCURRENT) has "alternate_username" and "alternate_password": that is a pair, which the single-user function of this engine rotates without a master (README, "Pair mode"). Attach that function, or remove the two keys to use alternating users`,
      );
    }
    if (!current.masterarn) {
      throw new SecretValueError(
        `Secret ${secretId} (AWSCURRENT) has no "masterarn" key: alternating-users needs the ARN of the master secret that creates and alters "${baseUsername(current.username)}${CLONE_SUFFIX}"`,
      );
    }
    const pending = alternateUsername(current.username, engine.usernameLimit);
    const limit = config.usernameCharacterLimit;
    const length = [...pending].length;
    if (limit !== undefined && pending !== baseUsername(current.username) && length > limit) {
      throw new UsernameTooLongError(
        `The alternate username "${pending}" is ${length} characters, longer than USERNAME_CHARACTER_LIMIT (${limit}): shorten username "${baseUsername(current.username)}" to ${limit - CLONE_SUFFIX.length} characters or less, or raise the setting`,
      );
    }
    return { username: pending };
  },

  /**
   * Every run does the whole step, a retry included: the adapter levels the pair again each time,
   * so a grant a DBA made since the last run is healed by rotating again. Before the master acts:
   * AWSCURRENT logs in (the caller holds the live user), the master is not one of the pair, and,
   * the idle user is bound to this secret (see {@link bindIdleUser}).
   */
  async setSecret(context) {
    const { engine, config, versions } = context;
    const pending = await requirePending(versions);
    const current = await versions.current();
    checkPendingTarget(
      versions,
      pending,
      current,
      alternateUsername(current.username, engine.usernameLimit),
    );

    // Proof that whoever holds this secret holds the user it rotates: without it, anyone who can
    // write a secret naming a masterarn could have the master create users for them.
    const proof = await tryLogin(engine, current, config);
    if (!proof) {
      throw new NoWorkingCredentialsError(
        `The AWSCURRENT credentials of secret ${versions.secretId} (user "${current.username}") do not log in. Alternating users requires them as proof before the master acts: fix the password of "${current.username}" or the secret, then rotate again.${plainTextHint(current, config)}`,
      );
    }
    await withSession(proof, (s) => s.ping());

    const users = pairOf(current, engine);
    // The master's secret is checked first (same server, not one of the pair), so no login is
    // ever tried as the master's own user with this secret's passwords.
    await locateMaster(context, current);
    const change = { ...users, target: pending.username, password: pending.password };
    await withSession(await masterSession(context, current), async (master) => {
      // What the adapter refuses (a disabled idle user, …) is named as such, before any login as
      // the idle base.
      await master.checkAlternatingUsers(change);
      await bindIdleUser(context, { current, pending, users, master });
      await master.applyAlternatingUsers(change);
    });
    await versions.recordPasswordSet();
    return 'password-set';
  },

  /**
   * The pending user logs in, then the master checks that the two users have the same effective
   * rights, so finishSecret never promotes a user that cannot do what the current one can. When
   * Secrets Manager calls testSecret alone, the current user logs in and the pair is checked the
   * same way.
   */
  async testSecret(context) {
    // On a read replica or Aurora reader, the password set on the writer arrives a little later.
    const onReader = await userOnReader(context);
    const outcome = await testPendingSecret(context, onReader ? REPLICA_RETRY_DELAYS_MS : []);
    const { engine, versions } = context;
    const current = await versions.current();
    const pending = await versions.pending();
    const drift = await withSession(await masterSession(context, current), (s) =>
      s.compareAlternatingUsers({ ...pairOf(current, engine), target: pending?.username }),
    );
    if (drift.length > 0) {
      const who = pending ? `AWSPENDING user "${pending.username}"` : 'the two users';
      throw new PrivilegeDriftError(
        `Secret ${versions.secretId}: ${who} cannot do exactly what the other user can, so it must not be promoted. As the server reports them: ${drift.join('; ')}. Rotate again once the cause is fixed (setSecret levels the pair on every run), or align the users by hand.`,
      );
    }
    return outcome;
  },
};

/** The pair a secret's AWSCURRENT user belongs to. */
function pairOf(current: DatabaseSecret, engine: StepContext['engine']): AlternatingUsers {
  const base = baseUsername(current.username);
  return {
    baseUsername: base,
    cloneUsername: `${base}${CLONE_SUFFIX}`,
    database: current.dbname ?? engine.defaultDatabase,
  };
}

/**
 * The pairing rule's second half, before the master levels the idle user or sets its password.
 * Without it, anyone who may write a secret and create users could have the master hand them
 * another user: a secret naming `victim_clone` (a clone they made) would have it set `victim`'s
 * password, and one naming `report` (a base they made) would have it set the password of an
 * existing `report_clone`. The idle user is bound to the secret when either:
 * - the pair is already level, as the server reports it (compareAlternatingUsers, asked as the
 *   master, with no login as the idle user), or the idle user does not exist yet: the holder of
 *   the live user then gains nothing it cannot already do. Only who could already give one user
 *   all of the other's rights can make them level;
 * - or the secret holds the idle user's working password: AWSPREVIOUS, as the secret's own
 *   rotations (and AWS's) leave it, or, once setSecret recorded it, AWSPENDING. One login at
 *   most, so a secret writer cannot spend an account's failed-login allowance through it (a run
 *   cut off before its record left the pair level: it levels before it sets the password).
 */
async function bindIdleUser(
  { engine, config, versions }: StepContext,
  {
    current,
    pending,
    users,
    master,
  }: {
    current: DatabaseSecret;
    pending: DatabaseSecret;
    users: AlternatingUsers;
    master: DatabaseSession;
  },
): Promise<void> {
  const drift = await master.compareAlternatingUsers({
    ...users,
    target: pending.username,
    purpose: 'bind',
  });
  if (drift.length === 0) return;
  const previous = await versions.previous();
  const candidate = versions.passwordSetEarlier()
    ? { label: 'AWSPENDING', password: pending.password }
    : previous && previous.username === pending.username
      ? { label: 'AWSPREVIOUS', password: previous.password }
      : undefined;
  if (candidate) {
    try {
      const session = await tryLogin(
        engine,
        { ...current, username: pending.username, password: candidate.password },
        config,
      );
      // The login is the proof; the session is not used.
      if (session) return await session.close();
    } catch (error) {
      // An expired password is a right one (the idle user's expiry, which the new one clears).
      if (error instanceof PasswordExpiredError) return;
      throw error;
    }
  }
  throw new UnboundPairError(
    `Secret ${versions.secretId}: AWSCURRENT names "${current.username}", so this rotation would have the master level "${pending.username}" and set its password. The master does that only when the two users are already level or the secret holds the working password of "${pending.username}". They are not level (${drift.join('; ')}), and ${candidate ? `the ${candidate.label} password of "${pending.username}" does not log in` : `AWSPREVIOUS does not name "${pending.username}"`}. Nothing was changed. If both users are yours, put the working password of "${pending.username}" in the secret as AWSCURRENT with username "${pending.username}" (PutSecretValue), then rotate again.${plainTextHint(current, config)}`,
  );
}

/**
 * Waits between test logins on a read replica or reader: each failed login may count against
 * the clone under a failed-login policy, so there are few, spread over about four seconds.
 */
const REPLICA_RETRY_DELAYS_MS = [1000, 3000];

/** True when the user's secret names the master's server, or one of its replicas or readers. */
async function onMastersServer(
  { versions, config }: StepContext,
  masterArn: string,
  master: DatabaseSecret,
  current: DatabaseSecret,
): Promise<'same' | 'reader' | 'other'> {
  if (sameServer(master, current, config.hostAliases)) return 'same';
  const readers = await versions.readersOf(masterArn, rdsLocator);
  return readers.some((reader) => sameServer(reader, current, config.hostAliases))
    ? 'reader'
    : 'other';
}

async function userOnReader(context: StepContext): Promise<boolean> {
  const current = await context.versions.current();
  if (!current.masterarn) return false;
  const master = await context.versions.master(current.masterarn, rdsLocator);
  return (await onMastersServer(context, current.masterarn, master, current)) === 'reader';
}

/**
 * The master secret named by the current secret's `masterarn`, once it is shown to name the same
 * server, or one the user's secret is a read replica or reader of (so the master password is
 * never sent anywhere else), and a user outside the pair. Preflight asks the same.
 */
export async function locateMaster(
  context: StepContext,
  current: DatabaseSecret,
): Promise<{ master: DatabaseSecret; user: 'same' | 'reader' }> {
  const { engine, versions } = context;
  const masterArn = current.masterarn;
  if (!masterArn) {
    throw new SecretValueError(`Secret ${versions.secretId} (AWSCURRENT) has no "masterarn" key`);
  }
  const stored = await versions.master(masterArn, rdsLocator);
  // A master secret may omit `engine`; it is the same server as the user's.
  const master = stored.engine ? stored : { ...stored, engine: current.engine };
  const pair = pairOf(current, engine);
  if (master.username === pair.baseUsername || master.username === pair.cloneUsername) {
    throw new UnboundPairError(
      `Secret ${versions.secretId} names user "${current.username}", and its master secret ${masterArn} logs in as "${master.username}", one of the pair "${pair.baseUsername}"/"${pair.cloneUsername}": the master never rotates or levels its own user. Rotate the master's secret with a single-user function, and give this secret a user of its own`,
    );
  }
  const user = await onMastersServer(context, masterArn, master, current);
  if (user === 'other') {
    throw new MasterSecretError(
      `The master secret ${masterArn} is for ${master.host}:${master.port}, but secret ${versions.secretId} is for ${current.host}:${current.port}; they must name the same server, or one of its read replicas or readers as RDS reports them`,
    );
  }
  return { master, user };
}

/** Logs in as the master (see {@link locateMaster}), to its own database. */
async function masterSession(
  context: StepContext,
  current: DatabaseSecret,
): Promise<DatabaseSession> {
  const { engine, config } = context;
  const { master } = await locateMaster(context, current);
  // The master logs in to its own database (for MongoDB, its authentication database).
  const session = await tryLogin(engine, master, config);
  if (!session) {
    throw new MasterSecretError(
      `The database rejected the credentials of master secret ${current.masterarn} (user "${master.username}")`,
    );
  }
  return session;
}
