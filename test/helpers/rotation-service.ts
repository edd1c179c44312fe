import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ResourceNotFoundException,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { captureOutput } from './capture-output';

export type Handler = (event: unknown) => Promise<void>;

/** Loads a built function bundle's handler: `dist/<name>/index.js` (or ROTATION_BUNDLE_DIR). */
export function loadBundle(name: string): Handler {
  const dir = process.env.ROTATION_BUNDLE_DIR ?? join(__dirname, '..', '..', 'dist');
  return require(join(dir, name, 'index.js')).handler as Handler;
}

/**
 * A function ARN that moto does not host: the functions run here, in the test process. moto's
 * RotateSecret labels the new, empty version AWSPENDING (as the real service does before it
 * invokes a function) and then answers ResourceNotFoundException because it cannot invoke it;
 * this class then invokes the handler step by step, as the service would.
 */
const ROTATION_FUNCTION_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:rotation-under-test';
export const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

/** Plays the Secrets Manager rotation service against a real Secrets Manager API (moto). */
export class RotationService {
  public readonly client: SecretsManagerClient;

  public constructor(
    endpoint: string,
    private readonly logFile: string,
  ) {
    this.client = new SecretsManagerClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
  }

  public async createSecret(name: string, value: Record<string, unknown>): Promise<string> {
    const out = await this.client.send(
      new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(value) }),
    );
    return out.ARN as string;
  }

  /**
   * RotateSecret as a user calls it. Returns the token Secrets Manager labelled AWSPENDING.
   * With `rotateImmediately: false` the service only runs testSecret.
   */
  public async startRotation(secretId: string, rotateImmediately = true): Promise<string> {
    const token = crypto.randomUUID();
    try {
      await this.client.send(
        new RotateSecretCommand({
          SecretId: secretId,
          ClientRequestToken: token,
          RotationLambdaARN: ROTATION_FUNCTION_ARN,
          RotationRules: { AutomaticallyAfterDays: 30 },
          RotateImmediately: rotateImmediately,
        }),
      );
      throw new Error(
        'moto invoked a function it should not host; the harness cannot tell what ran',
      );
    } catch (error) {
      if (
        !(
          error instanceof ResourceNotFoundException &&
          error.message.includes(ROTATION_FUNCTION_ARN)
        )
      )
        throw error;
    }
    const stages = await this.stages(secretId);
    if (!stages[token]?.includes('AWSPENDING'))
      throw new Error(`RotateSecret did not label ${token} AWSPENDING`);
    return token;
  }

  /** Invokes one step; the handler's output and any error are appended to the run's log capture. */
  public invoke(handler: Handler, step: string, secretId: string, token: string): Promise<void> {
    return this.invokeEvent(handler, { Step: step, SecretId: secretId, ClientRequestToken: token });
  }

  /** Like `invoke`, but returns what the handler printed and threw instead of throwing. */
  public async invokeCaptured(
    handler: Handler,
    step: string,
    secretId: string,
    token: string,
  ): Promise<{ error?: unknown; output: string }> {
    const run = await captureOutput(() =>
      handler({ Step: step, SecretId: secretId, ClientRequestToken: token }),
    );
    appendFileSync(this.logFile, run.output);
    return run;
  }

  /** Invokes the handler with any event, capturing its output like `invoke`. */
  public async invokeEvent(handler: Handler, event: unknown): Promise<void> {
    const run = await captureOutput(() => handler(event));
    appendFileSync(this.logFile, run.output);
    if (run.error) throw run.error;
  }

  /** A whole rotation; with `twice`, every step is invoked a second time right after the first. */
  public async rotate(
    handler: Handler,
    secretId: string,
    options: { twice?: boolean } = {},
  ): Promise<string> {
    const token = await this.startRotation(secretId);
    for (const step of STEPS) {
      await this.invoke(handler, step, secretId, token);
      if (options.twice) await this.invoke(handler, step, secretId, token);
    }
    return token;
  }

  /**
   * RotateSecret with RotateImmediately=false: the service runs testSecret alone, then removes the
   * AWSPENDING label it added.
   */
  public async testOnly(handler: Handler, secretId: string): Promise<void> {
    const token = await this.startRotation(secretId, false);
    try {
      await this.invoke(handler, 'testSecret', secretId, token);
    } finally {
      await this.removeStage(secretId, 'AWSPENDING', token);
    }
  }

  /** Takes a label off a version, as an operator (or a crash before it was added) would leave it. */
  public async removeStage(secretId: string, stage: string, versionId: string): Promise<void> {
    await this.client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretId,
        VersionStage: stage,
        RemoveFromVersionId: versionId,
      }),
    );
  }

  public async stages(secretId: string): Promise<Record<string, string[]>> {
    const out = await this.client.send(new DescribeSecretCommand({ SecretId: secretId }));
    return out.VersionIdsToStages ?? {};
  }

  public async value(secretId: string, stage: string): Promise<Record<string, unknown>> {
    const out = await this.client.send(
      new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }),
    );
    return JSON.parse(out.SecretString as string) as Record<string, unknown>;
  }

  /** The labels in use, each with the version it is on. */
  public async labels(secretId: string): Promise<Record<string, string>> {
    const labels: Record<string, string> = {};
    for (const [version, stages] of Object.entries(await this.stages(secretId))) {
      for (const stage of stages) labels[stage] = version;
    }
    return labels;
  }
}
