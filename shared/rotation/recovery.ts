import { PASSWORD_SET } from '../secrets/secrets-manager';

/**
 * What to do about a rotation left with AWSPENDING on a version that is not AWSCURRENT, from that
 * version's labels: the one piece of advice the function's errors, the runner and preflight give.
 * - `resume`: setSecret recorded (PASSWORD_SET) that the database has this version's password.
 *   Removing AWSPENDING would leave that password, the only one that works for a single user, in
 *   a version no label holds, so the rotation must be finished.
 * - `resume-or-cancel`: no setSecret recorded a change, so cancelling strands nothing (unless a
 *   setSecret was cut off between its change and its record: resuming is right in every case).
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
    text: `No setSecret has recorded a password change for version ${versionId}: finish that rotation (\`rotate --resume\`), which is always safe, or cancel it: aws secretsmanager update-secret-version-stage --secret-id ${secretArn} --version-stage AWSPENDING --remove-from-version-id ${versionId}`,
  };
}
