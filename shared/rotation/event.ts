import { InvalidEventError, UnknownStepError } from '../errors';

export const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type Step = (typeof STEPS)[number];

/** The event Secrets Manager sends a rotation function. */
export interface RotationEvent {
  Step: Step;
  SecretId: string;
  ClientRequestToken: string;
  /** Present for rotations through an assumed role or across accounts; passed to PutSecretValue. */
  RotationToken?: string;
}

/** Checks the event's shape before anything is called; names the field at fault. */
export function parseRotationEvent(event: unknown): RotationEvent {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new InvalidEventError(
      'The event is not a Secrets Manager rotation event (expected a JSON object)',
    );
  }
  const fields = event as Record<string, unknown>;
  const text = (key: string, max: number): string => {
    const value = fields[key];
    if (typeof value !== 'string' || value.length === 0) {
      throw new InvalidEventError(`The rotation event's "${key}" must be a non-empty string`);
    }
    if (value.length > max) {
      throw new InvalidEventError(`The rotation event's "${key}" is longer than ${max} characters`);
    }
    return value;
  };
  const secretId = text('SecretId', 2048);
  const token = text('ClientRequestToken', 64);
  const step = text('Step', 64);
  if (!STEPS.includes(step as Step)) {
    throw new UnknownStepError(
      `Unknown step "${step.slice(0, 64)}" for secret ${secretId} version ${token}: expected one of ${STEPS.join(', ')}`,
    );
  }
  const rotationToken = fields.RotationToken;
  if (rotationToken !== undefined && rotationToken !== null && typeof rotationToken !== 'string') {
    throw new InvalidEventError(`The rotation event's "RotationToken" must be a string`);
  }
  if ('StartRotation' in fields) {
    // The runner's start mode was once an event field; an invoker of the deployed function could
    // then start (and finish) a rotation without secretsmanager:RotateSecret.
    throw new InvalidEventError(
      'The rotation event has "StartRotation", which Secrets Manager never sends: a deployed function never starts a rotation (the local runner starts one through the bundle\'s startRotation export, which Lambda never invokes)',
    );
  }
  return {
    Step: step as Step,
    SecretId: secretId,
    ClientRequestToken: token,
    ...(rotationToken ? { RotationToken: rotationToken } : {}),
  };
}
