import {
  DescribeSecretCommand,
  type DescribeSecretCommandOutput,
  GetSecretValueCommand,
  InvalidParameterException,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
  type UpdateSecretVersionStageCommandInput,
} from '@aws-sdk/client-secrets-manager';
import { SecretNotFoundError, SecretValueError } from '../errors';

/** What the rotation needs to know of a secret. */
export interface SecretMetadata {
  arn: string;
  /** `false` only when rotation was explicitly disabled. */
  rotationEnabled: boolean | undefined;
  /** Version id → staging labels. */
  versions: ReadonlyMap<string, readonly string[]>;
  /** Tag key → value (RDS marks the master secrets it manages with `aws:rds:…` tags). */
  tags: ReadonlyMap<string, string>;
}

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPENDING = 'AWSPENDING';
export const AWSPREVIOUS = 'AWSPREVIOUS';
/**
 * Our own label, put on the AWSPENDING version by setSecret once the database has that version's
 * password, and taken off by finishSecret. It is the evidence that lets a repeated setSecret log
 * in with the pending password first, so no rotation tries a password the database cannot have
 * yet (a failed login counts towards MySQL's FAILED_LOGIN_ATTEMPTS and MariaDB's
 * max_password_errors), and that tells the runner and preflight whether cancelling a stuck
 * rotation would strand the only working password.
 */
export const PASSWORD_SET = 'ROTATION_PASSWORD_SET';

const clients = new Map<string, SecretsManagerClient>();

/**
 * One client per endpoint for the life of the execution environment: later invocations reuse its
 * connections. The SDK's standard retry mode absorbs throttling and 5xx answers.
 */
function clientFor(endpoint: string | undefined): SecretsManagerClient {
  const key = endpoint ?? '';
  let client = clients.get(key);
  if (!client) {
    client = new SecretsManagerClient(endpoint ? { endpoint } : {});
    clients.set(key, client);
  }
  return client;
}

/** The narrow port over Secrets Manager: the five calls a rotation makes, and nothing else. */
export class SecretsManagerPort {
  private readonly client: SecretsManagerClient;

  public constructor(endpointOrClient?: string | SecretsManagerClient) {
    this.client =
      endpointOrClient instanceof SecretsManagerClient
        ? endpointOrClient
        : clientFor(endpointOrClient);
  }

  public async describe(secretId: string): Promise<SecretMetadata> {
    let out: DescribeSecretCommandOutput;
    try {
      out = await this.client.send(new DescribeSecretCommand({ SecretId: secretId }));
    } catch (error) {
      if (error instanceof ResourceNotFoundException) {
        throw new SecretNotFoundError(`Secret ${secretId} (the event's SecretId) does not exist`, {
          cause: error,
        });
      }
      throw error;
    }
    return {
      arn: out.ARN ?? secretId,
      rotationEnabled: out.RotationEnabled,
      versions: new Map(Object.entries(out.VersionIdsToStages ?? {})),
      tags: new Map((out.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
    };
  }

  /**
   * The SecretString of one version, or `undefined` when that version or label has no value
   * (Secrets Manager answers ResourceNotFoundException, as it does for an AWSPENDING version that
   * createSecret has not filled yet).
   */
  public async getValue(
    secretId: string,
    selector: { versionId?: string; stage: string },
  ): Promise<string | undefined> {
    try {
      const out = await this.client.send(
        new GetSecretValueCommand({
          SecretId: secretId,
          VersionId: selector.versionId,
          VersionStage: selector.stage,
        }),
      );
      if (out.SecretString === undefined) {
        throw new SecretValueError(
          `Secret ${secretId} (${selector.stage}) holds a binary value; these functions need a JSON SecretString`,
        );
      }
      return out.SecretString;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }

  /** Stores the new version under the rotation's token, labelled AWSPENDING. */
  public async putPending(
    secretId: string,
    token: string,
    value: string,
    rotationToken?: string,
  ): Promise<void> {
    await this.client.send(
      new PutSecretValueCommand({
        SecretId: secretId,
        ClientRequestToken: token,
        SecretString: value,
        VersionStages: [AWSPENDING],
        ...(rotationToken ? { RotationToken: rotationToken } : {}),
      }),
    );
  }

  /**
   * Moves AWSCURRENT to `token`; Secrets Manager labels the version it leaves AWSPREVIOUS. A move
   * already made counts as made: when the answer to this call is lost, the SDK sends it again, and
   * Secrets Manager refuses the second one because AWSCURRENT has left `fromVersionId`.
   */
  public async moveCurrent(
    secretId: string,
    token: string,
    fromVersionId: string | undefined,
  ): Promise<void> {
    await this.updateStage(
      {
        SecretId: secretId,
        VersionStage: AWSCURRENT,
        MoveToVersionId: token,
        RemoveFromVersionId: fromVersionId,
      },
      (versions) => versions.get(token)?.includes(AWSCURRENT) === true,
    );
  }

  /**
   * Puts a label on a version, taking it off the version that holds it (a label marks one version
   * at a time). Already there counts as done.
   */
  public async addStage(
    secretId: string,
    stage: string,
    versionId: string,
    fromVersionId: string | undefined,
  ): Promise<void> {
    await this.updateStage(
      {
        SecretId: secretId,
        VersionStage: stage,
        MoveToVersionId: versionId,
        ...(fromVersionId && fromVersionId !== versionId
          ? { RemoveFromVersionId: fromVersionId }
          : {}),
      },
      (versions) => versions.get(versionId)?.includes(stage) === true,
    );
  }

  /**
   * Takes a label off a version. A label that is already gone counts as removed: Secrets Manager
   * also clears AWSPENDING itself once a rotation completes, and may have done so first.
   */
  public async removeStage(secretId: string, stage: string, versionId: string): Promise<void> {
    await this.updateStage(
      { SecretId: secretId, VersionStage: stage, RemoveFromVersionId: versionId },
      (versions) => !versions.get(versionId)?.includes(stage),
    );
  }

  /**
   * Sends a label move. When Secrets Manager refuses it (InvalidParameterException), `done` looks
   * at the labels as they are now: a move already made, by an earlier send whose answer was lost
   * or by Secrets Manager itself, counts as made; anything else is the refusal it seems.
   */
  private async updateStage(
    input: UpdateSecretVersionStageCommandInput & { SecretId: string },
    done: (versions: SecretMetadata['versions']) => boolean,
  ): Promise<void> {
    try {
      await this.client.send(new UpdateSecretVersionStageCommand(input));
    } catch (error) {
      if (!(error instanceof InvalidParameterException)) throw error;
      if (!done((await this.describe(input.SecretId)).versions)) throw error;
    }
  }
}
