import { type Document, MongoClient, MongoServerError } from 'mongodb';
import {
  CredentialsRejectedError,
  DatabaseStatementError,
  DatabaseUnreachableError,
  IdleUserDisabledError,
  isErrorLike,
  type RotationError,
} from '../../errors';
import {
  type AlternatingUsers,
  type AlternatingUsersChange,
  type ConnectionSettings,
  type DatabaseEngine,
  type DatabaseSession,
  dualPasswordsUnsupported,
  type InspectionRequest,
  type OwnPasswordChange,
  type OwnRights,
  type SessionInspection,
} from '../engine';
import { isTlsError, tlsOptions } from '../tls';
import { inspectMongo } from './inspect';
import { readOwnRights } from './own-rights';
import {
  differences,
  restrictionsBlocker,
  toUserInfo,
  type UserInfo,
  userDifferences,
} from './users';

/** MongoDB and Amazon DocumentDB through the `mongodb` driver. */
export const mongodb: DatabaseEngine = {
  name: 'mongodb',
  // AWS's templates use `mongo` for both; `docdb` marks DocumentDB explicitly.
  secretEngines: ['mongo', 'docdb'],
  defaultPort: 27017,
  // The authentication database.
  defaultDatabase: 'admin',
  defaultExcludeCharacters: '/@"\'\\',
  // MongoDB sets no limit of its own; this keeps names sane.
  usernameLimit: { max: 1024, unit: 'bytes' },
  secretParameters: ['replicaSet'],
  connect: connectMongo,
};

/** DocumentDB by the secret's `engine`, or by its endpoint's domain. */
export function isDocumentDb(settings: Pick<ConnectionSettings, 'flavor' | 'host'>): boolean {
  return settings.flavor === 'docdb' || /\.docdb(-elastic)?\.amazonaws\.com$/i.test(settings.host);
}

/** Host names and IP addresses only: the host goes into a connection string, credentials never do. */
const HOST = /^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])$/;

/** The options a connection uses; exported so the DocumentDB differences can be tested. */
export function clientOptions(settings: ConnectionSettings) {
  const tls = tlsOptions(settings.tls, settings.host);
  const replicaSet = settings.parameters.replicaSet;
  return {
    auth: { username: settings.username, password: settings.password },
    authSource: settings.database ?? 'admin',
    tls: tls !== undefined,
    ...(tls
      ? {
          ca: tls.ca as string[],
          // The shared context: without it every connection builds one from `ca` (tls.ts).
          secureContext: tls.secureContext,
          tlsAllowInvalidHostnames: settings.tls === 'verify-ca',
        }
      : {}),
    // Fail well inside the Lambda's time limit, and say the server was unreachable.
    serverSelectionTimeoutMS: settings.connectTimeoutMs,
    connectTimeoutMS: settings.connectTimeoutMs,
    socketTimeoutMS: 15_000,
    ...(replicaSet ? { replicaSet } : { directConnection: true }),
    // DocumentDB does not support retryable writes.
    retryWrites: !isDocumentDb(settings),
    maxPoolSize: 1,
    appName: 'rotation-lambdas',
  };
}

async function connectMongo(settings: ConnectionSettings): Promise<DatabaseSession> {
  if (!HOST.test(settings.host)) {
    throw new DatabaseUnreachableError(`"${settings.host}" is not a host name or IP address`);
  }
  const host =
    settings.host.includes(':') && !settings.host.startsWith('[')
      ? `[${settings.host}]`
      : settings.host;
  const client = new MongoClient(`mongodb://${host}:${settings.port}/`, clientOptions(settings));
  try {
    await client.connect();
    await client.db(settings.database ?? 'admin').command({ ping: 1 });
  } catch (error) {
    await client.close().catch(() => undefined);
    throw classifyConnectError(error, settings);
  }
  return new MongoSession(client, settings);
}

/** AuthenticationFailed. */
const AUTHENTICATION_FAILED = 18;

function classifyConnectError(error: unknown, settings: ConnectionSettings): RotationError {
  const who = `user "${settings.username}" (authentication database "${settings.database ?? 'admin'}") at ${settings.host}:${settings.port}`;
  if (error instanceof MongoServerError && error.code === AUTHENTICATION_FAILED) {
    return new CredentialsRejectedError(`MongoDB rejected the credentials of ${who}`, {
      cause: error,
    });
  }
  const message = isErrorLike(error) ? error.message : String(error);
  const reason = (error as { reason?: { error?: unknown } }).reason?.error;
  return new DatabaseUnreachableError(
    `Could not reach MongoDB at ${settings.host}:${settings.port} for ${who} (TLS ${settings.tls}): ${message}`,
    {
      cause: error,
      tlsFailure: settings.tls !== 'disable' && (isTlsError(error) || isTlsError(reason)),
    },
  );
}

class MongoSession implements DatabaseSession {
  public constructor(
    private readonly client: MongoClient,
    private readonly settings: ConnectionSettings,
  ) {}

  public async ping(): Promise<void> {
    await this.command(this.settings.database ?? 'admin', { ping: 1 }, 'ping');
  }

  /** updateUser on the user's own authentication database; the server needs changeOwnPassword. */
  public async changeOwnPassword({
    newPassword,
    retainCurrent,
  }: OwnPasswordChange): Promise<'changed'> {
    if (retainCurrent) throw dualPasswordsUnsupported('MongoDB');
    await this.command(
      this.settings.database ?? 'admin',
      { updateUser: this.settings.username, pwd: newPassword },
      'updateUser',
    );
    return 'changed';
  }

  /**
   * In the users' authentication database: the clone gets the base user's roles and
   * authentication restrictions on every rotation. Each MongoDB command is atomic, so creating
   * the clone (with its roles and password) is one step, and when the base user is the target its
   * password is set only after the clone is brought level.
   */
  public async applyAlternatingUsers(change: AlternatingUsersChange): Promise<void> {
    const database = change.database ?? 'admin';
    const base = await this.userInfo(database, change.baseUsername);
    if (!base) {
      throw new DatabaseStatementError(
        `MongoDB user "${change.baseUsername}" does not exist in database "${database}"; alternating users start from an existing base user`,
      );
    }
    const clone = await this.userInfo(database, change.cloneUsername);
    this.refuse(change, base, clone);
    const documentDb = isDocumentDb(this.settings);
    const level = clone ? differences(base, clone) : {};
    if (change.target === change.cloneUsername) {
      if (!clone) {
        await this.command(
          database,
          {
            createUser: change.cloneUsername,
            pwd: change.password,
            roles: base.roles,
            ...(base.authenticationRestrictions.length > 0
              ? { authenticationRestrictions: base.authenticationRestrictions }
              : {}),
            ...(base.customData ? { customData: base.customData } : {}),
            ...(base.mechanisms && !documentDb ? { mechanisms: base.mechanisms } : {}),
          },
          'createUser',
        );
      } else {
        await this.command(
          database,
          { updateUser: change.cloneUsername, pwd: change.password, ...level },
          'updateUser',
        );
      }
      return;
    }
    if (clone && Object.keys(level).length > 0) {
      await this.command(database, { updateUser: change.cloneUsername, ...level }, 'updateUser');
    }
    await this.command(
      database,
      { updateUser: change.baseUsername, pwd: change.password },
      'updateUser',
    );
  }

  /** What applyAlternatingUsers refuses (see {@link refuse}); changes nothing. */
  public async checkAlternatingUsers(change: AlternatingUsersChange): Promise<void> {
    const database = change.database ?? 'admin';
    const base = await this.userInfo(database, change.baseUsername);
    if (!base) return;
    this.refuse(change, base, await this.userInfo(database, change.cloneUsername));
  }

  /**
   * Authentication restrictions are never copied onto the live clone: when the base (the
   * target) has restrictions the clone lacks, IdleUserDisabledError.
   */
  private refuse(
    change: AlternatingUsersChange,
    base: UserInfo,
    clone: UserInfo | undefined,
  ): void {
    const database = change.database ?? 'admin';
    if (change.target === change.baseUsername && clone) {
      const blocker = restrictionsBlocker(base, clone, {
        base: `"${change.baseUsername}"`,
        clone: `"${change.cloneUsername}"`,
      });
      if (blocker) {
        throw new IdleUserDisabledError(
          `MongoDB user ${blocker} (database "${database}"). This rotation would give the base user the new password and copy its restrictions onto the live clone, which could shut out its clients, so nothing was changed. Give "${change.cloneUsername}" the same restrictions (updateUser with authenticationRestrictions) if its clients satisfy them, or remove them from "${change.baseUsername}", then rotate again.`,
        );
      }
    }
  }

  /**
   * Run as the master: how the clone's roles (on every database), authentication restrictions
   * and custom data differ from the base user's, as usersInfo reports them.
   */
  public async compareAlternatingUsers(users: AlternatingUsers): Promise<string[]> {
    const database = users.database ?? 'admin';
    const base = await this.userInfo(database, users.baseUsername);
    const clone = await this.userInfo(database, users.cloneUsername);
    if (!base || !clone) return [];
    return userDifferences(base, clone, {
      base: `"${users.baseUsername}"`,
      clone: `"${users.cloneUsername}"`,
    });
  }

  /** Preflight's read-only checks (mongodb/inspect.ts). */
  public inspect(request: InspectionRequest): Promise<SessionInspection> {
    return inspectMongo(this.client, this.settings, request, isDocumentDb(this.settings));
  }

  /** Pair mode's parity check, in the user's authentication database: see mongodb/own-rights.ts. */
  public ownRights(pair: { partner: string }): Promise<OwnRights> {
    return readOwnRights((database, command, name) => this.command(database, command, name), {
      username: this.settings.username,
      database: this.settings.database ?? 'admin',
      partner: pair.partner,
    });
  }

  public async close(): Promise<void> {
    await this.client.close().catch(() => undefined);
  }

  private async userInfo(database: string, user: string): Promise<UserInfo | undefined> {
    const reply = await this.command(
      database,
      { usersInfo: { user, db: database }, showAuthenticationRestrictions: true },
      'usersInfo',
    );
    const found = (reply.users as Document[] | undefined)?.[0];
    if (!found) return undefined;
    return toUserInfo(found);
  }

  /** Runs one command; errors name the command, never its fields (they may hold a password). */
  private async command(database: string, command: Document, name: string): Promise<Document> {
    try {
      return await this.client.db(database).command(command);
    } catch (error) {
      if (error instanceof MongoServerError) {
        throw new DatabaseStatementError(
          `MongoDB refused ${name} in database "${database}" as user "${this.settings.username}": ${error.message} (code ${error.code})`,
          { cause: error },
        );
      }
      throw new DatabaseUnreachableError(
        `Lost the MongoDB connection to ${this.settings.host}:${this.settings.port} during ${name}`,
        { cause: error },
      );
    }
  }
}
