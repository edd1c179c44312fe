import { PASSWORD_SET } from '../secrets/secrets-manager';

/**
 * What to do about a rotation left with AWSPENDING on a version that is not AWSCURRENT, from that
 * version's labels: the one piece of advice the function's errors, the runner and preflight give.
 * - `resume`: setSecret recorded (PASSWORD_SET) that the database has this version's password.
 *   Removing AWSPENDING would leave that password, the only one that works for a single user, in
 *   a version no label holds, so the rotation must be finished.
 * - `resume-or-cancel`: no setSecret recorded a change. Resuming is right in every case; cancelling
 *   only when no setSecret ran for the version, since one cut off between its change and its
 *   record leaves the database with the version's password. The text says so, so that following
 *   it to the letter never strands the only working password.
 */
export interface RecoveryAdvice {
  action: 'resume' | 'resume-or-cancel';
  text: string;
}

export function recoveryAdvice(
  secretArn: string,
  versionId: string,
  stages: readonly string[],
): RecoveryAdvice {
  if (stages.includes(PASSWORD_SET)) {
    return {
      action: 'resume',
      text: `setSecret has already given the database the password of version ${versionId} (it carries ${PASSWORD_SET}), so finish that rotation: \`rotate --resume\`, or RotateSecret again once the cause is fixed. Do not remove its AWSPENDING label: no label would then hold the password that works`,
    };
  }
  return {
    action: 'resume-or-cancel',
    text: `No setSecret has recorded a password change for version ${versionId}. Finish that rotation (\`rotate --resume\`): that is always safe. Cancel it only if no setSecret ran for it (the function's log shows every step of token ${versionId}): a setSecret cut off between its change and its record leaves the database with this version's password, which cancelling would strand. To cancel: aws secretsmanager update-secret-version-stage --secret-id ${secretArn} --version-stage AWSPENDING --remove-from-version-id ${versionId}`,
  };
}
