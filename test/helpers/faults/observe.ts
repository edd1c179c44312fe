import { GetSecretValueCommand, ResourceNotFoundException } from '@aws-sdk/client-secrets-manager';
import type { RotationService } from '../rotation-service';
import type { FaultTarget, SecretValue, Strategy } from './targets';

/** The labels of the rotation: what the invariants are about. */
export const LABELS = ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS'] as const;
export type Label = (typeof LABELS)[number];

/**
 * Looks at one secret as the invariants need it: which version each label is on, and whether a
 * labelled version's credentials log in on the real server (directly, never through the proxy).
 * A version's value never changes once it has one, so values are read once per version.
 */
export class SecretObserver {
  private readonly values = new Map<string, Promise<SecretValue | undefined>>();

  public constructor(
    private readonly service: RotationService,
    private readonly target: FaultTarget,
    private readonly arn: string,
  ) {}

  /** The secret as it is now. Logins are tried only when asked, and once per snapshot. */
  public async snapshot(): Promise<Snapshot> {
    return new Snapshot(await this.service.labels(this.arn), this);
  }

  /** The value of a version, or `undefined` when it has none (an AWSPENDING not yet created). */
  public value(versionId: string): Promise<SecretValue | undefined> {
    let value = this.values.get(versionId);
    if (!value) {
      value = this.read(versionId);
      this.values.set(versionId, value);
      // A failed read is not remembered, nor is a version without a value: createSecret gives
      // RotateSecret's empty version its value later.
      value.then(
        (v) => v === undefined && this.values.delete(versionId),
        () => this.values.delete(versionId),
      );
    }
    return value;
  }

  /** Whether these credentials log in on the real server. */
  public canLogIn(value: SecretValue): Promise<boolean> {
    return this.target.canLogIn(value);
  }

  private async read(versionId: string): Promise<SecretValue | undefined> {
    try {
      const out = await this.service.client.send(
        new GetSecretValueCommand({ SecretId: this.arn, VersionId: versionId }),
      );
      return out.SecretString === undefined
        ? undefined
        : (JSON.parse(out.SecretString) as SecretValue);
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }
}

/** What a labelled version can do: `absent` (no such label), `no value`, `logs in`, `refused`. */
export type LoginState = 'absent' | 'no value' | 'logs in' | 'refused';

/** The secret at one moment: labels now, logins tried lazily (and at most once each). */
export class Snapshot {
  private readonly logins = new Map<Label, Promise<LoginState>>();
  private readonly credentials = new Map<string, Promise<boolean>>();

  public constructor(
    /** Label → version id. */
    public readonly labels: Record<string, string>,
    private readonly observer: SecretObserver,
  ) {}

  public login(label: Label): Promise<LoginState> {
    let state = this.logins.get(label);
    if (!state) {
      state = this.tryLogin(label);
      this.logins.set(label, state);
    }
    return state;
  }

  public async logsIn(label: Label): Promise<boolean> {
    return (await this.login(label)) === 'logs in';
  }

  /** The value of the version a label is on, or `undefined` (no such label, or no value). */
  public async value(label: Label): Promise<SecretValue | undefined> {
    const versionId = this.labels[label];
    return versionId ? this.observer.value(versionId) : undefined;
  }

  /** Whether a user logs in with a password now (tried once per snapshot). */
  public async credentialsLogIn(username: unknown, password: unknown): Promise<boolean> {
    // With the secret's connection keys (MongoDB's users live in `dbname`, not in admin).
    const { dbname } = (await this.value('AWSCURRENT')) ?? {};
    const key = JSON.stringify([username, password, dbname]);
    let state = this.credentials.get(key);
    if (!state) {
      state = this.observer.canLogIn({
        ...(dbname === undefined ? {} : { dbname }),
        username,
        password,
      });
      this.credentials.set(key, state);
    }
    return state;
  }

  /** A one-line account for failure messages (usernames and states, never a password). */
  public async describe(): Promise<string> {
    const parts = await Promise.all(
      LABELS.map(async (label) => `${label} ${await this.login(label)}`),
    );
    return parts.join('; ');
  }

  private async tryLogin(label: Label): Promise<LoginState> {
    const versionId = this.labels[label];
    if (!versionId) return 'absent';
    const value = await this.observer.value(versionId);
    if (!value) return 'no value';
    return (await this.observer.canLogIn(value)) ? 'logs in' : 'refused';
  }
}

/**
 * Single-user with dual passwords (RETAIN_CURRENT_PASSWORD) promises what alternating users do:
 * AWSCURRENT logs in at every moment, and AWSPREVIOUS after completion. `false` once a person set
 * a password by hand, which discards what the function kept.
 */
export type DualPasswords = boolean;

/**
 * Pair mode: what the invariants need besides the labels. `live` is the user AWSCURRENT named when
 * the rotation began, with the password the secret held for it: pair mode never changes it.
 * `liveChangedByHand` is set once a person changed that user's password: the invariants about
 * logging in as that user then lapse.
 */
export interface PairFacts {
  live: { username: string; password: string } | undefined;
  liveChangedByHand: boolean;
}

/**
 * Invariant 1, at any moment: single-user, AWSCURRENT or AWSPENDING logs in; alternating users
 * and dual passwords, AWSCURRENT logs in; pair mode, see {@link checkPairAlways}. Returns the
 * violation, or `undefined`.
 */
export async function checkAlways(
  strategy: Strategy,
  s: Snapshot,
  dual: DualPasswords = false,
  pair?: PairFacts,
): Promise<string | undefined> {
  if (strategy === 'pair') {
    const problems = await checkPairAlways(s, pair);
    return problems.length > 0 ? `${problems.join('; ')} (${await s.describe()})` : undefined;
  }
  if (await s.logsIn('AWSCURRENT')) return undefined;
  const either = strategy === 'single-user' && !dual;
  if (either && (await s.logsIn('AWSPENDING'))) return undefined;
  const what = either
    ? 'neither AWSCURRENT nor AWSPENDING logs in'
    : `AWSCURRENT does not log in${dual ? ' (dual passwords keep it working throughout)' : ''}`;
  return `${what} (${await s.describe()})`;
}

/**
 * Pair mode, at any moment:
 * - AWSCURRENT logs in (pair mode never touches the live user, so it does all through a rotation);
 * - the user AWSCURRENT named when the rotation began still logs in with its password;
 * - the idle user (AWSCURRENT's `alternate_username`) logs in with a password a labelled version
 *   holds for it: AWSCURRENT's `alternate_password`, or AWSPENDING's `password` where AWSPENDING
 *   names it. Otherwise its password is stranded, and only a person can bring it back.
 * What is about logging in as a user whose password a person changed is not checked.
 */
async function checkPairAlways(s: Snapshot, pair: PairFacts | undefined): Promise<string[]> {
  const problems: string[] = [];
  const live = pair?.live;
  const byHand = (username: unknown) =>
    pair?.liveChangedByHand === true && (live === undefined || username === live.username);
  const current = await s.value('AWSCURRENT');
  if (!byHand(current?.username) && !(await s.logsIn('AWSCURRENT'))) {
    problems.push('AWSCURRENT does not log in (pair mode never touches the live user)');
  }
  if (live && !byHand(live.username)) {
    if (!(await s.credentialsLogIn(live.username, live.password))) {
      problems.push(
        `the user AWSCURRENT named when the rotation began ("${live.username}") no longer logs in with its password: pair mode must never change it`,
      );
    }
  }
  if (!current) return problems;
  const idle = current.alternate_username;
  if (idle === undefined) {
    problems.push('AWSCURRENT has no "alternate_username": the pair was lost');
    return problems;
  }
  if (byHand(idle)) return problems;
  const pending = await s.value('AWSPENDING');
  const held =
    (await s.credentialsLogIn(idle, current.alternate_password)) ||
    (pending?.username === idle && (await s.credentialsLogIn(idle, pending.password)));
  if (!held) {
    problems.push(
      `the idle user "${String(idle)}" logs in with neither AWSCURRENT's "alternate_password" nor AWSPENDING's "password": no labelled version holds its password`,
    );
  }
  return problems;
}

/**
 * Invariants 2 and 3, once a rotation with `token` completed: AWSCURRENT is the token's version and
 * logs in, for alternating users AWSPREVIOUS logs in too, and no version is labelled AWSPENDING.
 * Pair mode: see {@link checkPairCompleted}.
 */
export async function checkCompleted(
  strategy: Strategy,
  s: Snapshot,
  token: string,
  dual: DualPasswords = false,
  pair?: PairFacts,
): Promise<string[]> {
  const problems: string[] = [];
  if (s.labels.AWSCURRENT !== token) problems.push('AWSCURRENT is not on the rotation’s version');
  if (!(await s.logsIn('AWSCURRENT'))) {
    problems.push(`AWSCURRENT does not log in (${await s.describe()})`);
  }
  if ((strategy === 'alternating-users' || dual) && !(await s.logsIn('AWSPREVIOUS'))) {
    problems.push(`AWSPREVIOUS does not log in (${await s.describe()})`);
  }
  if (strategy === 'pair') problems.push(...(await checkPairCompleted(s, pair)));
  if (s.labels.AWSPENDING) problems.push(`AWSPENDING is left on ${s.labels.AWSPENDING}`);
  return problems;
}

/**
 * Pair mode, once a rotation completed: the users swapped (AWSCURRENT names the idle user of
 * before, and holds the live user of before, with the password the secret had for it, as its
 * `alternate_username`/`alternate_password`), and both AWSCURRENT's alternate and AWSPREVIOUS
 * log in, unless a person changed the live user's password.
 */
async function checkPairCompleted(s: Snapshot, pair: PairFacts | undefined): Promise<string[]> {
  const problems: string[] = [];
  const current = await s.value('AWSCURRENT');
  if (!current) return ['AWSCURRENT has no value'];
  const { alternate_username: idle, alternate_password: password } = current;
  const live = pair?.live;
  if (live && (idle !== live.username || password !== live.password)) {
    problems.push(
      `AWSCURRENT's alternate is not the live user of before ("${live.username}") with its password: the users were not swapped`,
    );
  }
  if (live && current.username === live.username) {
    problems.push(`AWSCURRENT still names "${live.username}": the idle user was not promoted`);
  }
  if (pair?.liveChangedByHand) return problems;
  if (!(await s.credentialsLogIn(idle, password))) {
    problems.push(
      `AWSCURRENT's "alternate_username"/"alternate_password" ("${String(idle)}") do not log in (${await s.describe()})`,
    );
  }
  if (!(await s.logsIn('AWSPREVIOUS'))) {
    problems.push(`AWSPREVIOUS does not log in (${await s.describe()})`);
  }
  return problems;
}
