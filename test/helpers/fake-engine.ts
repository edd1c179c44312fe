import type {
  AlternatingUsersChange,
  ConnectionSettings,
  DatabaseEngine,
  DatabaseSession,
} from '../../shared/engines/engine';
import {
  AccountLockedError,
  CredentialsRejectedError,
  DatabaseStatementError,
  DatabaseUnreachableError,
} from '../../shared/errors';

/**
 * An in-memory database server for unit tests of the core and the strategies: users with
 * passwords, membership of the clone, and switches to make it unreachable or refuse statements.
 */
export class FakeDatabase {
  public readonly users = new Map<string, string>();
  public readonly memberOf = new Map<string, string>();
  public reachable = true;
  /** When set, TLS connections fail as with an unverifiable certificate. */
  public tlsBroken = false;
  public refuseStatements = false;
  public readonly logins: ConnectionSettings[] = [];
  /** What compareAlternatingUsers reports; applyAlternatingUsers levels it away. */
  public drift: string[] = [];
  /** Pair mode: what each user may do, as `ownRights` reports it. */
  public rights = new Map<string, string[]>();
  public limits = new Map<string, string[]>();
  /** Every applyAlternatingUsers call, in order. */
  public readonly applied: AlternatingUsersChange[] = [];
  /** Retained (secondary) passwords, as MySQL's dual passwords keep them. */
  public readonly secondary = new Map<string, string>();
  /** Failed logins per user, as MySQL's FAILED_LOGIN_ATTEMPTS counts them. */
  public readonly failedLogins = new Map<string, number>();
  /** When set, a user with this many failed logins is locked (AccountLockedError). */
  public lockAfter: number | undefined = undefined;
  /** Checks the password changeOwnPassword replaces, as MySQL 8.0.13+'s REPLACE does. */
  public checksReplace = false;
  /** A read replica behind its writer: the next `logins` logins at `host` are refused. */
  public lagOn: { host: string; logins: number } | undefined = undefined;

  public readonly engine: DatabaseEngine = {
    name: 'fake',
    secretEngines: ['fake', 'fake-aurora'],
    defaultPort: 1234,
    defaultDatabase: 'main',
    defaultExcludeCharacters: '/@"\'\\',
    usernameLimit: { max: 20, unit: 'bytes' },
    connect: async (settings) => this.connect(settings),
  };

  private async connect(settings: ConnectionSettings): Promise<DatabaseSession> {
    this.logins.push(settings);
    if (!this.reachable)
      throw new DatabaseUnreachableError(`fake server ${settings.host} unreachable`);
    if (this.tlsBroken && settings.tls !== 'disable') {
      throw new DatabaseUnreachableError('certificate verify failed', { tlsFailure: true });
    }
    const user = settings.username;
    if (this.lagOn && settings.host === this.lagOn.host && this.lagOn.logins > 0) {
      this.lagOn.logins -= 1;
      throw new CredentialsRejectedError(`replica ${settings.host} has not caught up`);
    }
    const failures = this.failedLogins.get(user) ?? 0;
    if (this.lockAfter !== undefined && failures >= this.lockAfter) {
      throw new AccountLockedError(`${user} is locked after ${failures} failed logins`);
    }
    if (
      this.users.get(user) !== settings.password &&
      this.secondary.get(user) !== settings.password
    ) {
      this.failedLogins.set(user, failures + 1);
      throw new CredentialsRejectedError(`rejected ${settings.username}`);
    }
    this.failedLogins.set(user, 0);
    const guard = () => {
      if (this.refuseStatements) throw new DatabaseStatementError('permission denied');
    };
    return {
      ping: async () => guard(),
      changeOwnPassword: async ({ newPassword, currentPassword, retainCurrent }) => {
        guard();
        const primary = this.users.get(user);
        if (this.checksReplace && currentPassword !== primary) return 'not-current';
        if (retainCurrent && primary !== undefined) this.secondary.set(user, primary);
        this.users.set(user, newPassword);
        return 'changed';
      },
      applyAlternatingUsers: async (change: AlternatingUsersChange) => {
        guard();
        if (!this.users.has(change.baseUsername)) throw new DatabaseStatementError('no base user');
        this.applied.push(change);
        this.users.set(change.target, change.password);
        this.drift = []; // levelled
        this.memberOf.set(change.cloneUsername, change.baseUsername);
      },
      checkAlternatingUsers: async () => guard(),
      compareAlternatingUsers: async () => {
        guard();
        return this.drift;
      },
      ownRights: async () => {
        guard();
        return {
          rights: this.rights.get(user) ?? [],
          limits: this.limits.get(user) ?? [],
          unseen: [],
        };
      },
      close: async () => undefined,
    };
  }
}
