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

/** How the database side of a rotation is done: one user changing itself, or two alternating. */
export interface RotationStrategy {
  /** For logs: `single-user` or `alternating-users`. */
  readonly name: string;
  /**
   * Checks that the current secret suits the strategy and returns the username the pending
   * version will hold. Runs in createSecret before anything is written.
   */
  pendingUsername(
    current: DatabaseSecret,
    engine: DatabaseEngine,
    secretId: string,
    config: RotationConfig,
  ): string;
  setSecret(context: StepContext): Promise<StepOutcome>;
  testSecret(context: StepContext): Promise<StepOutcome>;
}
