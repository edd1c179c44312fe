import type { Context } from 'aws-lambda';
import { loadConfig } from '../config';
import type { DatabaseEngine } from '../engines/engine';
import {
  RotationDisabledError,
  RotationInProgressError,
  VersionNotFoundError,
  VersionNotPendingError,
} from '../errors';
import { logger } from '../logger';
import { generatePassword, passwordAlphabet } from '../password';
import { redactor } from '../redaction';
import { SecretVersions } from '../secrets/secret-versions';
import {
  AWSCURRENT,
  AWSPENDING,
  PASSWORD_SET,
  type SecretMetadata,
  SecretsManagerPort,
} from '../secrets/secrets-manager';
import type { RotationStrategy, StepContext, StepOutcome } from '../strategies/strategy';
import { confirmPendingLogsIn } from '../strategies/test-secret';
import { parseRotationEvent, type RotationEvent } from './event';
import { recoveryAdvice } from './recovery';

export interface RotationHandlerOptions {
  engine: DatabaseEngine;
  strategy: RotationStrategy;
}

export type RotationHandler = (event: unknown, context?: Context) => Promise<void>;

/** Which rotation the runner starts: the secret, and the new version's id. */
export interface StartRequest {
  SecretId: string;
  ClientRequestToken: string;
}

/** The local runner's way to start a rotation; see createRotationStarter. */
export type RotationStarter = (request: StartRequest) => Promise<void>;

/**
 * The Lambda handler for one engine and one strategy: Secrets Manager's four-step protocol, with
 * the stage checks before every step. Every step may be repeated, at any point, with the same
 * effect as running it once. It never starts a rotation: an event cannot ask it to.
 */
export function createRotationHandler(options: RotationHandlerOptions): RotationHandler {
  // An async function of (event, context): the only handler shape the nodejs24.x runtime accepts.
  return async (rawEvent, context) => invoke(options, rawEvent, context, false);
}

/**
 * For the local runner only, exported by each bundle beside `handler` (Lambda invokes `handler`,
 * never this): createSecret that may start the rotation, as RotateSecret would. It stores the new
 * version labelled AWSPENDING if no other rotation is in progress; for a token that is already a
 * version it is createSecret as usual. It runs with the caller's own credentials, so only who may
 * write the secret can start a rotation, and every start is a PutSecretValue in CloudTrail.
 */
export function createRotationStarter(options: RotationHandlerOptions): RotationStarter {
  return (request) =>
    invoke(
      options,
      {
        Step: 'createSecret',
        SecretId: request.SecretId,
        ClientRequestToken: request.ClientRequestToken,
      },
      undefined,
      true,
    );
}

async function invoke(
  { engine, strategy }: RotationHandlerOptions,
  rawEvent: unknown,
  context: Context | undefined,
  start: boolean,
): Promise<void> {
  const started = Date.now();
  if (context) logger.addContext(context);
  logger.appendKeys({ engine: engine.name, strategy: strategy.name });
  try {
    const event = parseRotationEvent(rawEvent);
    logger.appendKeys({
      secretId: event.SecretId,
      step: event.Step,
      token: event.ClientRequestToken,
    });
    // Settings are checked before the first call, so a bad one changes nothing.
    const config = loadConfig(engine.defaultExcludeCharacters);
    passwordAlphabet(config.password, engine.passwordRules);

    const port = new SecretsManagerPort(config.secretsManagerEndpoint);
    const metadata = await port.describe(event.SecretId);
    logger.appendKeys({ secretArn: metadata.arn });
    const versions = new SecretVersions(
      port,
      metadata.arn,
      event.ClientRequestToken,
      engine,
      metadata.versions,
    );
    const outcome = await runStep(
      event,
      metadata,
      { engine, config, versions },
      strategy,
      port,
      start,
    );
    logger.info('Rotation step succeeded', { outcome, durationMs: Date.now() - started });
  } catch (error) {
    logger.error('Rotation step failed', { error, durationMs: Date.now() - started });
    // What leaves the handler is written too (Lambda logs it and returns it to the caller).
    throw redactor.scrubDeep(error);
  } finally {
    logger.resetKeys();
    redactor.clear();
  }
}

async function runStep(
  event: RotationEvent,
  metadata: SecretMetadata,
  context: StepContext,
  strategy: RotationStrategy,
  port: SecretsManagerPort,
  start: boolean,
): Promise<StepOutcome> {
  const token = event.ClientRequestToken;
  if (start && event.Step === 'createSecret' && !metadata.versions.has(token)) {
    checkCanStart(metadata, token);
    return createSecret(event, context, strategy, port, { starting: true });
  }
  const stages = checkStages(metadata, token);
  if (stages.includes(AWSCURRENT)) {
    // The rotation already finished: every step is done. A finishSecret interrupted between its
    // two label moves is completed here, so no stale AWSPENDING label stays behind.
    if (event.Step === 'finishSecret') {
      if (stages.includes(AWSPENDING)) await port.removeStage(metadata.arn, AWSPENDING, token);
      if (stages.includes(PASSWORD_SET)) await port.removeStage(metadata.arn, PASSWORD_SET, token);
    }
    return 'already-current';
  }
  switch (event.Step) {
    case 'createSecret':
      return createSecret(event, context, strategy, port);
    case 'setSecret':
      return strategy.setSecret(context);
    case 'testSecret':
      return strategy.testSecret(context);
    case 'finishSecret':
      await (strategy.confirmFinish ?? confirmPendingLogsIn)(context);
      return finishSecret(metadata, token, port);
  }
}

/** The checks AWS's templates make before every step, with errors that say what to do. */
export function checkStages(metadata: SecretMetadata, token: string): readonly string[] {
  if (metadata.rotationEnabled === false) {
    throw new RotationDisabledError(`Secret ${metadata.arn} is not enabled for rotation`);
  }
  const stages = metadata.versions.get(token);
  if (!stages) {
    throw new VersionNotFoundError(
      `Secret ${metadata.arn} has no version ${token}: the token is not a version of this secret`,
    );
  }
  if (!stages.includes(AWSCURRENT) && !stages.includes(AWSPENDING)) {
    throw new VersionNotPendingError(
      `Secret ${metadata.arn} version ${token} is not labelled AWSPENDING (labels: ${stages.join(', ') || 'none'}), so it is not being rotated`,
    );
  }
  return stages;
}

/**
 * The runner's start mode (createRotationStarter: createSecret for a token that is not yet a
 * version of the secret): what RotateSecret checks before it labels a new version AWSPENDING. The
 * rotation may start only when no version other than AWSCURRENT's carries AWSPENDING, since
 * storing the new version would move the label away from a rotation in progress. Everything
 * else is checked as for any step.
 */
export function checkCanStart(metadata: SecretMetadata, token: string): void {
  if (metadata.rotationEnabled === false) {
    throw new RotationDisabledError(`Secret ${metadata.arn} is not enabled for rotation`);
  }
  const stuck = [...metadata.versions].find(
    ([, stages]) => stages.includes(AWSPENDING) && !stages.includes(AWSCURRENT),
  );
  if (stuck !== undefined) {
    const [version, stages] = stuck;
    throw new RotationInProgressError(
      `Secret ${metadata.arn} already has a rotation in progress: version ${version} is labelled AWSPENDING, so rotation ${token} was not started. ${recoveryAdvice(metadata.arn, version, stages).text}`,
    );
  }
}

/**
 * Stores the next version, labelled AWSPENDING, unless this token's pending version already has
 * a value. It copies every key of AWSCURRENT and changes only the password (and, for alternating
 * users, the username; for a pair, the username and the alternate keys). When `starting`, the token is not a version yet, so there is nothing to
 * read back, and PutSecretValue creates the version with its label.
 */
async function createSecret(
  event: RotationEvent,
  { engine, config, versions }: StepContext,
  strategy: RotationStrategy,
  port: SecretsManagerPort,
  { starting = false } = {},
): Promise<StepOutcome> {
  if (!starting && (await versions.pending())) return 'pending-exists';
  const current = await versions.current();
  const fields = strategy.pendingFields(current, engine, versions.secretId, config);
  const password = generatePassword(config.password, undefined, engine.passwordRules);
  redactor.add(password);
  const value = JSON.stringify({ ...current.fields, ...fields, password });
  await port.putPending(versions.secretId, event.ClientRequestToken, value, event.RotationToken);
  return 'pending-created';
}

/** Moves AWSCURRENT to the token's version, then takes AWSPENDING (and PASSWORD_SET) off it. */
async function finishSecret(
  metadata: SecretMetadata,
  token: string,
  port: SecretsManagerPort,
): Promise<StepOutcome> {
  const currentVersion = [...metadata.versions].find(([, stages]) =>
    stages.includes(AWSCURRENT),
  )?.[0];
  await port.moveCurrent(metadata.arn, token, currentVersion);
  await port.removeStage(metadata.arn, AWSPENDING, token);
  if (metadata.versions.get(token)?.includes(PASSWORD_SET)) {
    await port.removeStage(metadata.arn, PASSWORD_SET, token);
  }
  return 'current-moved';
}
