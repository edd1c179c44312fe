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
 * Invariant 1, at any moment: single-user, AWSCURRENT or AWSPENDING logs in; alternating users
 * and dual passwords, AWSCURRENT logs in. Returns the violation, or `undefined`.
 */
export async function checkAlways(
  strategy: Strategy,
  s: Snapshot,
  dual: DualPasswords = false,
): Promise<string | undefined> {
  if (await s.logsIn('AWSCURRENT')) return undefined;
  const either = strategy === 'single-user' && !dual;
  if (either && (await s.logsIn('AWSPENDING'))) return undefined;
  const what = either
    ? 'neither AWSCURRENT nor AWSPENDING logs in'
    : `AWSCURRENT does not log in${dual ? ' (dual passwords keep it working throughout)' : ''}`;
  return `${what} (${await s.describe()})`;
}

/**
 * Invariants 2 and 3, once a rotation with `token` completed: AWSCURRENT is the token's version and
 * logs in, for alternating users AWSPREVIOUS logs in too, and no version is labelled AWSPENDING.
 */
export async function checkCompleted(
  strategy: Strategy,
  s: Snapshot,
  token: string,
  dual: DualPasswords = false,
): Promise<string[]> {
  const problems: string[] = [];
  if (s.labels.AWSCURRENT !== token) problems.push('AWSCURRENT is not on the rotation’s version');
  if (!(await s.logsIn('AWSCURRENT'))) {
    problems.push(`AWSCURRENT does not log in (${await s.describe()})`);
  }
  if ((strategy === 'alternating-users' || dual) && !(await s.logsIn('AWSPREVIOUS'))) {
    problems.push(`AWSPREVIOUS does not log in (${await s.describe()})`);
  }
  if (s.labels.AWSPENDING) problems.push(`AWSPENDING is left on ${s.labels.AWSPENDING}`);
  return problems;
}
