import type { RotationConfig } from '../config';
import type { DatabaseEngine } from '../engines/engine';
import type { DatabaseSecret } from '../secrets/database-secret';
import type { SecretVersions } from '../secrets/secret-versions';

/** What a strategy is handed for one step of one rotation. */
export interface StepContext {
  engine: DatabaseEngine;
  config: RotationConfig;
  versions: SecretVersions;
}

/** What a step did, for the log line that closes the invocation. */
export type StepOutcome =
  | 'pending-created'
  | 'pending-exists'
  | 'password-set'
  | 'pending-already-logs-in'
  | 'pending-tested'
  | 'current-tested'
  | 'current-moved'
  | 'already-current';

/** The keys of AWSCURRENT that the pending version replaces, besides `password`. */
export interface PendingFields {
  username: string;
  [key: string]: unknown;
}

/** How the database side of a rotation is done: one user changing itself, or two alternating. */
export interface RotationStrategy {
  /** For logs: `single-user` or `alternating-users`. */
  readonly name: string;
  /**
   * Checks that the current secret suits the strategy and returns the keys the pending version
   * changes besides the new password: `username` (and a pair's alternate keys). Runs in
   * createSecret before anything is written.
   */
  pendingFields(
    current: DatabaseSecret,
    engine: DatabaseEngine,
    secretId: string,
    config: RotationConfig,
  ): PendingFields;
  setSecret(context: StepContext): Promise<StepOutcome>;
  testSecret(context: StepContext): Promise<StepOutcome>;
  /**
   * finishSecret's check before it moves AWSCURRENT; throws to refuse, changing nothing. Default:
   * the pending credentials log in (confirmPendingLogsIn).
   */
  confirmFinish?(context: StepContext): Promise<void>;
}
