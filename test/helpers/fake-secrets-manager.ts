import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  InvalidParameterException,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { recordPassword } from './leak/capture-dir';

interface Version {
  value: string | undefined;
  stages: string[];
}

interface Secret {
  arn: string;
  tags: Record<string, string>;
  rotationEnabled: boolean | undefined;
  versions: Map<string, Version>;
}

/**
 * An in-memory model of the Secrets Manager calls a rotation makes, behind aws-sdk-client-mock, so
 * unit tests assert on the state a step leaves (values and labels), not on call order.
 */
export class FakeSecretsManager {
  public readonly mock = mockClient(SecretsManagerClient);
  private readonly secrets = new Map<string, Secret>();
  private counter = 0;

  public constructor() {
    this.mock.on(DescribeSecretCommand).callsFake(({ SecretId }) => {
      const secret = this.get(SecretId);
      return {
        ARN: secret.arn,
        RotationEnabled: secret.rotationEnabled,
        VersionIdsToStages: Object.fromEntries(
          [...secret.versions].map(([id, v]) => [id, [...v.stages]]),
        ),
        Tags: Object.entries(secret.tags).map(([Key, Value]) => ({ Key, Value })),
      };
    });
    this.mock.on(GetSecretValueCommand).callsFake(({ SecretId, VersionId, VersionStage }) => {
      const secret = this.get(SecretId);
      const entry = VersionId
        ? [VersionId, secret.versions.get(VersionId)]
        : [...secret.versions].find(([, v]) => v.stages.includes(VersionStage ?? 'AWSCURRENT'));
      const [id, version] = entry ?? [];
      if (
        !version ||
        version.value === undefined ||
        (VersionStage && !version.stages.includes(VersionStage))
      ) {
        throw new ResourceNotFoundException({ message: 'not found', $metadata: {} });
      }
      return {
        ARN: secret.arn,
        VersionId: id,
        SecretString: version.value,
        VersionStages: version.stages,
      };
    });
    this.mock
      .on(PutSecretValueCommand)
      .callsFake(({ SecretId, ClientRequestToken, SecretString, VersionStages }) => {
        const secret = this.get(SecretId);
        const id = ClientRequestToken ?? `v${++this.counter}`;
        const existing = secret.versions.get(id);
        if (existing?.value !== undefined && existing.value !== SecretString)
          throw new Error('ResourceExistsException');
        for (const stage of VersionStages ?? []) this.detach(secret, stage);
        remember(SecretString);
        secret.versions.set(id, {
          value: SecretString,
          stages: [...new Set([...(existing?.stages ?? []), ...(VersionStages ?? [])])],
        });
        return { ARN: secret.arn, VersionId: id };
      });
    this.mock
      .on(UpdateSecretVersionStageCommand)
      .callsFake(({ SecretId, VersionStage, MoveToVersionId, RemoveFromVersionId }) => {
        this.updateStage(SecretId, VersionStage as string, {
          moveTo: MoveToVersionId,
          removeFrom: RemoveFromVersionId,
        });
        return { ARN: this.get(SecretId).arn };
      });
  }

  /** UpdateSecretVersionStage: moving AWSCURRENT labels the version it leaves AWSPREVIOUS. */
  public updateStage(
    secretId: string | undefined,
    stage: string,
    move: { moveTo?: string; removeFrom?: string },
  ): void {
    const secret = this.get(secretId);
    if (move.removeFrom) {
      const from = secret.versions.get(move.removeFrom);
      if (!from?.stages.includes(stage)) {
        throw new InvalidParameterException({
          message: `${stage} not on ${move.removeFrom}`,
          $metadata: {},
        });
      }
      from.stages = from.stages.filter((s) => s !== stage);
    }
    if (move.moveTo) {
      const to = secret.versions.get(move.moveTo);
      if (!to) throw new Error('InvalidParameterException: no such version');
      to.stages.push(stage);
      if (stage === 'AWSCURRENT') {
        if (move.removeFrom) {
          this.detach(secret, 'AWSPREVIOUS');
          secret.versions.get(move.removeFrom)?.stages.push('AWSPREVIOUS');
        }
        to.stages = to.stages.filter((s) => s !== 'AWSPREVIOUS');
      }
    }
  }

  /** A version with `value` and `stages`, as PutSecretValue with VersionStages makes one. */
  public putVersion(secretId: string, versionId: string, value: unknown, stages: string[]): void {
    const secret = this.get(secretId);
    for (const stage of stages) this.detach(secret, stage);
    remember(JSON.stringify(value));
    secret.versions.set(versionId, { value: JSON.stringify(value), stages: [...stages] });
  }

  /** A pending value stored by someone other than createSecret (hand-made or tampered). */
  public putPending(secretId: string, token: string, value: unknown): void {
    const secret = this.get(secretId);
    this.detach(secret, 'AWSPENDING');
    remember(JSON.stringify(value));
    secret.versions.set(token, { value: JSON.stringify(value), stages: ['AWSPENDING'] });
  }

  /** Creates a secret whose AWSCURRENT holds `value`; returns its ARN. */
  public create(
    name: string,
    value: unknown,
    options: { rotationEnabled?: boolean; tags?: Record<string, string> } = {},
  ): string {
    const arn = `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-AbCdEf`;
    const secret: Secret = {
      arn,
      tags: options.tags ?? {},
      rotationEnabled: options.rotationEnabled ?? true,
      versions: new Map(),
    };
    remember(JSON.stringify(value));
    secret.versions.set(`initial-${name}`, {
      value: JSON.stringify(value),
      stages: ['AWSCURRENT'],
    });
    this.secrets.set(arn, secret);
    this.secrets.set(name, secret);
    return arn;
  }

  /** What RotateSecret does before it invokes the function: an empty version labelled AWSPENDING. */
  public startRotation(secretId: string, token: string): void {
    const secret = this.get(secretId);
    this.detach(secret, 'AWSPENDING');
    secret.versions.set(token, { value: undefined, stages: ['AWSPENDING'] });
  }

  public stages(secretId: string): Record<string, string[]> {
    return Object.fromEntries(
      [...this.get(secretId).versions].map(([id, v]) => [id, [...v.stages]]),
    );
  }

  public value(secretId: string, stage: string): Record<string, unknown> | undefined {
    const version = [...this.get(secretId).versions.values()].find((v) => v.stages.includes(stage));
    return version?.value === undefined
      ? undefined
      : (JSON.parse(version.value) as Record<string, unknown>);
  }

  public setRotationEnabled(secretId: string, enabled: boolean | undefined): void {
    this.get(secretId).rotationEnabled = enabled;
  }

  private get(id: string | undefined): Secret {
    const secret = id ? this.secrets.get(id) : undefined;
    if (!secret) throw new ResourceNotFoundException({ message: `no secret ${id}`, $metadata: {} });
    return secret;
  }

  private detach(secret: Secret, stage: string): void {
    for (const v of secret.versions.values()) v.stages = v.stages.filter((s) => s !== stage);
  }
}

/** Records the passwords of a value the fake stores (a pair's too), for the unit run's leak scan. */
function remember(value: string | undefined): void {
  try {
    const fields = JSON.parse(value ?? 'null') as {
      password?: unknown;
      alternate_password?: unknown;
    } | null;
    recordPassword(fields?.password);
    recordPassword(fields?.alternate_password);
  } catch {
    // Not JSON: nothing to remember.
  }
}
