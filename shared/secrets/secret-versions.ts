import {
  isErrorLike,
  MasterSecretError,
  SecretValueError,
  SecretVersionMissingError,
} from '../errors';
import { logger } from '../logger';
import { redactor } from '../redaction';
import {
  type DatabaseSecret,
  parseDatabaseSecret,
  passwordsIn,
  type SecretShape,
} from './database-secret';
import {
  type Endpoint,
  MANAGED_CLUSTER_TAG,
  MANAGED_INSTANCE_TAG,
  type MasterLocator,
} from './rds-tags';
import {
  AWSCURRENT,
  AWSPENDING,
  AWSPREVIOUS,
  PASSWORD_SET,
  type SecretMetadata,
  type SecretsManagerPort,
} from './secrets-manager';

/**
 * The versions of one secret as one invocation sees them: each read at most once, parsed and
 * checked, and every password handed to the redactor so that no output carries it.
 */
export class SecretVersions {
  private readonly cache = new Map<string, Promise<DatabaseSecret | undefined>>();
  /** RDS-managed master secret ARN → its database's readers, as RDS reported them when located. */
  private readonly managedReaders = new Map<string, readonly Endpoint[]>();
  /** Master secret ARN → where user secrets may point besides the master's server. */
  private readonly readers = new Map<string, Promise<readonly Endpoint[]>>();
  private readonly masters = new Map<string, Promise<DatabaseSecret>>();

  public constructor(
    private readonly port: SecretsManagerPort,
    public readonly secretId: string,
    public readonly token: string,
    private readonly shape: SecretShape,
    /** The labels of every version when the step began (DescribeSecret). */
    private readonly labels: SecretMetadata['versions'] = new Map(),
  ) {}

  /**
   * True when an earlier run of setSecret recorded that the database has this rotation's pending
   * password (the PASSWORD_SET label is on its version).
   */
  public passwordSetEarlier(): boolean {
    return this.labels.get(this.token)?.includes(PASSWORD_SET) === true;
  }

  /** Records that the database now has this rotation's pending password (see PASSWORD_SET). */
  public async recordPasswordSet(): Promise<void> {
    if (this.passwordSetEarlier()) return;
    const holder = [...this.labels].find(([, stages]) => stages.includes(PASSWORD_SET))?.[0];
    await this.port.addStage(this.secretId, PASSWORD_SET, this.token, holder);
  }

  /** AWSCURRENT; a rotation cannot start without it. */
  public async current(): Promise<DatabaseSecret> {
    const secret = await this.read(AWSCURRENT, { stage: AWSCURRENT });
    if (!secret)
      throw new SecretVersionMissingError(`Secret ${this.secretId} has no AWSCURRENT value`);
    return secret;
  }

  /** The AWSPENDING version of this rotation's token, or `undefined` before createSecret filled it. */
  public pending(): Promise<DatabaseSecret | undefined> {
    return this.read(AWSPENDING, { versionId: this.token, stage: AWSPENDING });
  }

  /**
   * AWSPREVIOUS, or `undefined` when there is none or it cannot be used. It is only ever a
   * fallback login, so a malformed old version must not block a rotation.
   */
  public async previous(): Promise<DatabaseSecret | undefined> {
    try {
      return await this.read(AWSPREVIOUS, { stage: AWSPREVIOUS });
    } catch (error) {
      if (!(error instanceof SecretValueError)) throw error;
      logger.warn('Ignoring AWSPREVIOUS: its value is not a usable database secret', {
        reason: error.message,
      });
      return undefined;
    }
  }

  /**
   * Where, besides the master's own server, a user's secret may point: the read replicas and
   * readers of the master's database, as RDS reports them. For an RDS-managed master, those RDS
   * gave when it was located; for a master that names its own RDS endpoint, RDS's answer for that
   * endpoint; otherwise none. Asked of RDS at most once per invocation.
   */
  public readersOf(masterArn: string, locate: MasterLocator): Promise<readonly Endpoint[]> {
    let entry = this.readers.get(masterArn);
    if (!entry) {
      entry = this.master(masterArn, locate).then(
        (master) =>
          this.managedReaders.get(masterArn) ?? locate.readersOfEndpoint(master.host, master.port),
      );
      this.readers.set(masterArn, entry);
    }
    return entry;
  }

  /** AWSCURRENT of the master secret named by `masterarn`; its `engine` key may be absent. */
  public master(masterArn: string, locate?: MasterLocator): Promise<DatabaseSecret> {
    let entry = this.masters.get(masterArn);
    if (!entry) {
      entry = this.readMaster(masterArn, locate);
      this.masters.set(masterArn, entry);
    }
    return entry;
  }

  private async readMaster(masterArn: string, locate?: MasterLocator): Promise<DatabaseSecret> {
    const label = `master secret ${masterArn} AWSCURRENT`;
    let text: string | undefined;
    try {
      text = await this.port.getValue(masterArn, { stage: AWSCURRENT });
    } catch (error) {
      if (error instanceof SecretValueError) throw error;
      throw new MasterSecretError(
        `Cannot read the master secret ${masterArn} named by "masterarn" in secret ${this.secretId}: ${errorName(error)}`,
        { cause: error },
      );
    }
    if (text === undefined) {
      throw new MasterSecretError(
        `The master secret ${masterArn} named by "masterarn" in secret ${this.secretId} does not exist or has no AWSCURRENT value`,
      );
    }
    for (const password of passwordsIn(text)) redactor.add(password);
    const secret = parseDatabaseSecret(
      locate ? await this.withManagedLocation(masterArn, text, locate) : text,
      { secretId: masterArn, label: AWSCURRENT },
      this.shape,
      {
        engineOptional: true,
      },
    );
    logger.debug('Read secret version', { version: label });
    return secret;
  }

  /**
   * A master secret that RDS manages holds only `username` and `password`: its server is the
   * database its system tags name, at the endpoint RDS gives for it (a cluster's writer), and never
   * a host from a secret anyone could write. Any other master secret is returned as it is.
   */
  private async withManagedLocation(
    masterArn: string,
    text: string,
    locate: MasterLocator,
  ): Promise<string> {
    let fields: Record<string, unknown>;
    try {
      fields = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return text; // the parser names the problem
    }
    if (typeof fields !== 'object' || fields === null || 'host' in fields) return text;
    const metadata = await this.port.describe(masterArn);
    const database = await locate.managed(masterArn, metadata.tags);
    if (!database) {
      throw new MasterSecretError(
        `The master secret ${masterArn} named by "masterarn" in secret ${this.secretId} has no "host", and RDS does not manage it (no ${MANAGED_INSTANCE_TAG} or ${MANAGED_CLUSTER_TAG} tag): add the master's "host" and "port"`,
      );
    }
    if (!this.shape.secretEngines.includes(database.engine)) {
      throw new MasterSecretError(
        `The master secret ${masterArn} belongs to ${database.arn}, a "${database.engine}" database, but this function rotates ${this.shape.secretEngines.join('/')} secrets`,
      );
    }
    this.managedReaders.set(masterArn, database.readers);
    return JSON.stringify({
      ...fields,
      host: database.host,
      port: database.port,
      engine: fields.engine ?? database.engine,
    });
  }

  private read(
    label: string,
    selector: { versionId?: string; stage: string },
  ): Promise<DatabaseSecret | undefined> {
    let entry = this.cache.get(label);
    if (!entry) {
      entry = this.port.getValue(this.secretId, selector).then((text) => {
        if (text === undefined) return undefined;
        // Before parsing: even a version that fails its checks must not be echoed anywhere.
        for (const password of passwordsIn(text)) redactor.add(password);
        return parseDatabaseSecret(text, { secretId: this.secretId, label }, this.shape);
      });
      this.cache.set(label, entry);
    }
    return entry;
  }
}

function errorName(error: unknown): string {
  return isErrorLike(error) ? error.name : 'unknown error';
}
