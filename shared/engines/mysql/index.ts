import { randomBytes } from 'node:crypto';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import mysql2, { type Connection, type RowDataPacket } from 'mysql2/promise';
import {
  AccountLockedError,
  CredentialsRejectedError,
  DatabaseStatementError,
  DatabaseUnreachableError,
  IdleUserDisabledError,
  isErrorLike,
  PasswordExpiredError,
  type RotationError,
  UnsupportedServerError,
  UsernameTooLongError,
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
import { inspectMysql } from './inspect';
import { readOwnRights } from './own-rights';
import {
  type AccountRights,
  accountName,
  inheritedRestrictions,
  parseRestrictions,
  type Right,
  readRights,
  requireClause,
  rightsDifferences,
  syncStatements,
} from './rights';

export { accountName } from './rights';

import { isTlsError, tlsOptions } from '../tls';
import {
  alternatingUsersFloor,
  hasPartialRevokes,
  maxUsernameLength,
  parseServerVersion,
  type ServerInfo,
  serverName,
  supportsAlterUser,
  supportsDualPasswords,
  supportsReplace,
} from './server';

/**
 * The statement a user runs to change its own password. MySQL 5.7.6+ takes `ALTER USER
 * CURRENT_USER()` (MySQL 8 removed `PASSWORD()`); MariaDB allows `ALTER USER` only to holders of
 * CREATE USER, so a MariaDB user changes its own password with `SET PASSWORD`, as it always could.
 * From MySQL 8.0.13 it names the password it replaces (`REPLACE`): the change then happens only
 * while that is still the account's password, which accounts with `PASSWORD REQUIRE CURRENT`
 * (or a server with `password_require_current=ON`) demand, and which MySQL checks without
 * counting a failed login. `retain` keeps the old password working as the secondary one.
 */
export function ownPasswordStatement(
  info: ServerInfo,
  change: Pick<OwnPasswordChange, 'newPassword' | 'currentPassword' | 'retainCurrent'>,
): string {
  if (!(info.flavor === 'mysql' && supportsAlterUser(info))) {
    return `SET PASSWORD = PASSWORD(${mysql2.escape(change.newPassword)})`;
  }
  const replace = supportsReplace(info) ? ` REPLACE ${mysql2.escape(change.currentPassword)}` : '';
  const retain = change.retainCurrent ? ' RETAIN CURRENT PASSWORD' : '';
  return `ALTER USER CURRENT_USER() IDENTIFIED BY ${mysql2.escape(change.newPassword)}${replace}${retain}`;
}

/** The statement a privileged user runs to change another account's password. */
export function passwordStatement(
  info: ServerInfo,
  account: string,
  password: string,
  plugin?: string,
): string {
  if (!supportsAlterUser(info))
    return `SET PASSWORD FOR ${account} = PASSWORD(${mysql2.escape(password)})`;
  const withPlugin =
    info.flavor === 'mysql' && plugin && MYSQL_PASSWORD_PLUGINS.has(plugin)
      ? ` WITH ${plugin}`
      : '';
  return `ALTER USER ${account} IDENTIFIED${withPlugin} BY ${mysql2.escape(password)}`;
}

/**
 * CREATE USER with the base user's password plugin (MySQL: its plugin; MariaDB: the first
 * password-based plugin of its authentication chain, e.g. ed25519), else the server's default.
 */
export function createUserStatement(
  info: ServerInfo,
  account: string,
  password: string,
  plugin?: string,
): string {
  if (info.flavor === 'mariadb' && plugin && MARIADB_PASSWORD_PLUGINS.has(plugin)) {
    return `CREATE USER ${account} IDENTIFIED VIA ${plugin} USING PASSWORD(${mysql2.escape(password)})`;
  }
  const withPlugin =
    info.flavor === 'mysql' && plugin && MYSQL_PASSWORD_PLUGINS.has(plugin)
      ? ` WITH ${plugin}`
      : '';
  return `CREATE USER ${account} IDENTIFIED${withPlugin} BY ${mysql2.escape(password)}`;
}

/** One step of a MariaDB authentication chain (`IDENTIFIED VIA a OR b`). */
export interface AuthStep {
  plugin: string;
  /** What the plugin keeps: a hash for a password plugin, a PAM service or a principal otherwise. */
  authString: string;
}

/**
 * A MariaDB account's authentication chain from its mysql.global_priv JSON: `auth_or` lists the
 * steps, `{}` standing for the one kept at the top level (`plugin`, `authentication_string`).
 */
export function authChain(priv: unknown): AuthStep[] {
  const json = (typeof priv === 'string' ? JSON.parse(priv) : (priv ?? {})) as Record<
    string,
    unknown
  >;
  const top = { plugin: text(json.plugin), authString: text(json.authentication_string) };
  const steps = Array.isArray(json.auth_or) ? (json.auth_or as Record<string, unknown>[]) : [];
  if (steps.length === 0) return [top];
  return steps.map((step) =>
    step && typeof step === 'object' && 'plugin' in step
      ? { plugin: text(step.plugin), authString: text(step.authentication_string) }
      : top,
  );
}

/**
 * MariaDB's plugins that check a password, each taking `USING PASSWORD('…')` (ed25519 from 10.4,
 * parsec from 11.6).
 */
const MARIADB_PASSWORD_PLUGINS = new Set([
  'mysql_native_password',
  'mysql_old_password',
  'ed25519',
  'parsec',
]);

/** The first password-based plugin of a chain, if any. */
export function passwordPlugin(chain: readonly AuthStep[]): string | undefined {
  return chain.find((step) => MARIADB_PASSWORD_PLUGINS.has(step.plugin))?.plugin;
}

/**
 * MariaDB's ALTER USER that gives `account` a new password and keeps every plugin of its chain:
 * each password-based plugin gets the password in its own form (`USING PASSWORD('…')`), every
 * other plugin keeps what it had (`unix_socket`, `pam USING 'service'`).
 */
export function mariadbPasswordStatement(
  account: string,
  chain: readonly AuthStep[],
  password: string,
): string {
  const steps = chain.map((step) =>
    MARIADB_PASSWORD_PLUGINS.has(step.plugin)
      ? `${step.plugin} USING PASSWORD(${mysql2.escape(password)})`
      : step.authString
        ? `${step.plugin} USING ${mysql2.escape(step.authString)}`
        : step.plugin,
  );
  return `ALTER USER ${account} IDENTIFIED VIA ${steps.join(' OR ')}`;
}

/** A password nobody knows, strong enough for validate_password, for a clone not finished yet. */
function throwAwayPassword(): string {
  return `${randomBytes(24).toString('base64')}aZ9!`;
}

const MYSQL_PASSWORD_PLUGINS = new Set([
  'mysql_native_password',
  'caching_sha2_password',
  'sha256_password',
]);

function createMysqlEngine(
  name: string,
  secretEngines: string[],
  maxLength: number,
): DatabaseEngine {
  return {
    name,
    secretEngines,
    defaultPort: 3306,
    defaultDatabase: undefined,
    defaultExcludeCharacters: '/@"\'\\',
    usernameLimit: { max: maxLength, unit: 'characters' },
    connect: connectMysql,
  };
}

/** MySQL and Aurora MySQL through `mysql2`; the limit is MySQL 5.7.8+'s, and the server's own is checked too. */
export const mysql = createMysqlEngine('mysql', ['mysql', 'aurora-mysql'], 32);

/** MariaDB through `mysql2`. */
export const mariadb = createMysqlEngine('mariadb', ['mariadb'], 80);

/** How much longer the client waits than the server's own lock timeout. */
const CLIENT_TIMEOUT_MARGIN_MS = 5000;
/** How long closing a connection may take before it is destroyed instead. */
const CLOSE_TIMEOUT_MS = 2000;

/** ER_CREDENTIALS_CONTRADICT_TO_HISTORY: the password is in the account's password history. */
const ER_PASSWORD_HISTORY = 3638;

function errnoOf(error: DatabaseStatementError): unknown {
  return (error.cause as { errno?: unknown } | undefined)?.errno;
}

/** Server errors meaning the credentials are wrong (ER_ACCESS_DENIED_ERROR). */
const REJECTED_ERRNOS = new Set([1045]);
/**
 * Server errors meaning the account itself is refused: MySQL's ER_ACCOUNT_HAS_BEEN_LOCKED (3118)
 * and its block after FAILED_LOGIN_ATTEMPTS (3955), MariaDB's block after max_password_errors
 * (4150) and its ACCOUNT LOCK (4151).
 */
const LOCKED_ERRNOS = new Set([3118, 3955, 4150, 4151]);
/** ER_MUST_CHANGE_PASSWORD_LOGIN: the password is right, but it has expired. */
const ER_MUST_CHANGE_PASSWORD_LOGIN = 1862;
/** ER_INCORRECT_CURRENT_PASSWORD: REPLACE named a password that is not the account's. */
const ER_INCORRECT_CURRENT_PASSWORD = 3891;
/** ER_SPECIFIC_ACCESS_DENIED_ERROR, e.g. RETAIN CURRENT PASSWORD without the privilege. */
const ER_SPECIFIC_ACCESS_DENIED = 1227;
/** ER_LOCK_WAIT_TIMEOUT: lock_wait_timeout or innodb_lock_wait_timeout passed. */
const ER_LOCK_WAIT_TIMEOUT = 1205;
/** MariaDB's ER_STATEMENT_TIMEOUT: max_statement_time passed. */
const ER_STATEMENT_TIMEOUT = 1969;
/** ER_SECURE_TRANSPORT_REQUIRED (MySQL 3159, MariaDB 4036): the server demands TLS. */
const TLS_REQUIRED_ERRNOS = new Set([3159, 4036]);

async function connectMysql(settings: ConnectionSettings): Promise<DatabaseSession> {
  const tls = tlsOptions(settings.tls, settings.host);
  let connection: Connection;
  try {
    connection = await mysql2.createConnection({
      host: settings.host,
      port: settings.port,
      user: settings.username,
      password: settings.password,
      database: settings.database,
      connectTimeout: settings.connectTimeoutMs,
      ssl: tls ? mysqlSsl(tls.ca as string[], settings.tls === 'verify-full') : undefined,
      ...(tls && settings.tls === 'verify-full' && isIP(settings.host)
        ? { stream: () => socketNamed(settings.host, settings.port) }
        : {}),
      multipleStatements: false,
      supportBigNumbers: true,
    });
  } catch (error) {
    throw classifyConnectError(error, settings);
  }
  connection.on('error', () => undefined);
  const session = new MysqlSession(connection, settings);
  try {
    // mysql2 escapes with backslashes; under NO_BACKSLASH_ESCAPES that escaping would be wrong.
    // Lock waits are bounded, so a statement stuck behind another session fails the step cleanly
    // instead of the Lambda timing out in the middle of it (lock_wait_timeout defaults to a year).
    // MariaDB's SET PASSWORD waits for a global read lock without that bound, so there the
    // server ends any statement after the same time (max_statement_time, in a comment only
    // MariaDB executes), rather than leave it queued to run after the client has given up.
    const seconds = Math.ceil(settings.statementTimeoutMs / 1000);
    await session.run(
      `SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', ''), lock_wait_timeout = ${seconds}, innodb_lock_wait_timeout = ${seconds} /*M!100100 , max_statement_time = ${seconds} */`,
      'SET SESSION',
    );
  } catch (error) {
    await session.close();
    throw error;
  }
  return session;
}

/**
 * The TCP socket for a server given by IP address, carrying that address as the name Node checks
 * the certificate against. mysql2 upgrades to TLS with no `servername` for an IP address, and Node
 * then checks the certificate against the socket's `_host`, which a socket connected to an IP
 * never gets: it fell back to "localhost", so any trusted certificate naming localhost passed for
 * every IP address (found by test/integration/tls-identity.test.ts).
 */
function socketNamed(host: string, port: number): Socket {
  const socket = netConnect(port, host);
  socket.setNoDelay(true);
  (socket as Socket & { _host?: string })._host = host;
  return socket;
}

const sslObjects = new WeakMap<string[], Map<boolean, object>>();

/**
 * mysql2 keeps the TLS context it builds for an `ssl` object and reuses it for the same object,
 * so the same trust list and mode always get the same object (see trustedContext in tls.ts).
 */
function mysqlSsl(ca: string[], verifyIdentity: boolean): object {
  let byMode = sslObjects.get(ca);
  if (!byMode) {
    byMode = new Map();
    sslObjects.set(ca, byMode);
  }
  let ssl = byMode.get(verifyIdentity);
  if (!ssl) {
    ssl = { ca, rejectUnauthorized: true, verifyIdentity };
    byMode.set(verifyIdentity, ssl);
  }
  return ssl;
}

function classifyConnectError(error: unknown, settings: ConnectionSettings): RotationError {
  const who = `user "${settings.username}" at ${settings.host}:${settings.port}`;
  const errno = (error as { errno?: unknown }).errno;
  const code = (error as { code?: unknown }).code;
  const message = isErrorLike(error) ? error.message : String(error);
  if (typeof errno === 'number' && REJECTED_ERRNOS.has(errno)) {
    return new CredentialsRejectedError(`MySQL rejected the credentials of ${who}`, {
      cause: error,
    });
  }
  if (typeof errno === 'number' && LOCKED_ERRNOS.has(errno)) {
    return accountLocked(errno, message, settings, error);
  }
  if (errno === ER_MUST_CHANGE_PASSWORD_LOGIN) {
    return new PasswordExpiredError(
      `MySQL accepted the password of ${who}, but it has expired (ALTER USER … PASSWORD EXPIRE, or its lifetime passed): the session cannot be used until the password is changed`,
      { cause: error },
    );
  }
  if (
    (typeof errno === 'number' && TLS_REQUIRED_ERRNOS.has(errno)) ||
    /secure transport/i.test(message)
  ) {
    return new DatabaseUnreachableError(
      `MySQL at ${settings.host}:${settings.port} requires TLS (require_secure_transport), but the connection for ${who} was plain text: remove "ssl": false from the secret or TLS_MODE=disable`,
      { cause: error, tlsFailure: false },
    );
  }
  const tlsFailure =
    settings.tls !== 'disable' && (code === 'HANDSHAKE_NO_SSL_SUPPORT' || isTlsError(error));
  return new DatabaseUnreachableError(
    `Could not log in to MySQL at ${settings.host}:${settings.port} as ${who} (TLS ${settings.tls}): ${message}`,
    { cause: error, tlsFailure },
  );
}

/**
 * The account is locked or blocked: no further login is tried. The server's message (it names
 * the account, never a password) and the statement that lifts it.
 */
function accountLocked(
  errno: number,
  message: string,
  settings: ConnectionSettings,
  cause: unknown,
): AccountLockedError {
  const account = `${mysql2.escape(settings.username)}@'<host>'`;
  const hosts = `(its hosts: SELECT Host FROM mysql.user WHERE User = ${mysql2.escape(settings.username)})`;
  const remedy =
    errno === 4150
      ? `MariaDB blocked it after max_password_errors failed logins; an administrator runs FLUSH PRIVILEGES, or ALTER USER ${account} ACCOUNT UNLOCK ${hosts}`
      : errno === 3955
        ? `MySQL blocked it after FAILED_LOGIN_ATTEMPTS failed logins, for PASSWORD_LOCK_TIME; an administrator runs ALTER USER ${account} ACCOUNT UNLOCK ${hosts}`
        : `an administrator locked it (ACCOUNT LOCK); if that was not meant, ALTER USER ${account} ACCOUNT UNLOCK ${hosts}`;
  return new AccountLockedError(
    `MySQL refuses user "${settings.username}" at ${settings.host}:${settings.port}: the account is locked (${message}; error ${errno}). No further login is tried, since each would count as another failure: ${remedy}. Then retry the rotation.`,
    { cause },
  );
}

type Row = RowDataPacket & Record<string, unknown>;

/**
 * A MySQL or MariaDB session. For alternating users (run as the master) it keeps the rights
 * contract of engine.ts on these servers:
 * - **Compared and levelled**, per host of the base user, both ways: static privileges at every
 *   level (global, database, table, column, routine) with GRANT OPTION, MySQL's dynamic
 *   privileges, roles with ADMIN OPTION, default roles, PROXY grants, MySQL's partial revokes, and
 *   the account options (REQUIRE, resource limits, password lifetime, ACCOUNT LOCK, and MySQL's
 *   password history, reuse interval, PASSWORD REQUIRE CURRENT and failed-login policy, each from
 *   the version that has it). The clone exists at exactly the base's hosts.
 * - **Excluded**: the authentication method and password (the rotation sets the target's own,
 *   keeping its plugins), comments and attributes, MySQL's multi-factor authentication, an
 *   expired password (the new password clears it), temporary failed-login locks, and what the
 *   base user owns or is the DEFINER of.
 * - **Floor**: MySQL 8.0, MariaDB 10.4 (UnsupportedServerError before anything changes).
 * - **The master needs** CREATE USER, SELECT on the `mysql` schema, every privilege of the base
 *   user WITH GRANT OPTION (on the same level or above), ADMIN OPTION on each of its roles (or
 *   ROLE_ADMIN), PROXY … WITH GRANT OPTION for each PROXY grant, no partial revoke of its own
 *   that the base does not share, and on MySQL SYSTEM_USER when the base user has it.
 */
class MysqlSession implements DatabaseSession {
  private info: Promise<ServerInfo> | undefined;

  public constructor(
    private readonly connection: Connection,
    private readonly settings: ConnectionSettings,
  ) {}

  public async ping(): Promise<void> {
    await this.run('SELECT 1');
  }

  public async changeOwnPassword(change: OwnPasswordChange): Promise<'changed' | 'not-current'> {
    const info = await this.server();
    if (change.retainCurrent && !supportsDualPasswords(info)) {
      throw dualPasswordsUnsupported(
        `${info.flavor === 'mariadb' ? 'MariaDB' : 'MySQL'} ${info.major}.${info.minor}.${info.patch}`,
      );
    }
    try {
      // Named by its own first words: MariaDB users change their own password with SET PASSWORD.
      await this.run(ownPasswordStatement(info, change));
    } catch (error) {
      if (!(error instanceof DatabaseStatementError)) throw error;
      const errno = errnoOf(error);
      if (errno === ER_INCORRECT_CURRENT_PASSWORD) return 'not-current';
      if (errno === ER_SPECIFIC_ACCESS_DENIED && change.retainCurrent) {
        throw new DatabaseStatementError(
          `MySQL refused RETAIN CURRENT PASSWORD for user "${this.settings.username}": keeping the old password as a secondary one needs APPLICATION_PASSWORD_ADMIN (GRANT APPLICATION_PASSWORD_ADMIN ON *.* TO ${mysql2.escape(this.settings.username)}@'<host>'), or CREATE USER. Nothing was changed.`,
          { cause: error },
        );
      }
      throw error;
    }
    return 'changed';
  }

  /** What applyAlternatingUsers refuses, checked alone (step 1 of it); changes nothing. */
  public async checkAlternatingUsers(change: AlternatingUsersChange): Promise<void> {
    await this.refusals(change);
  }

  private async refusals(change: AlternatingUsersChange): Promise<{
    info: ServerInfo;
    hosts: string[];
    cloneHosts: string[];
    states: Map<string, AccountState>;
  }> {
    const info = await this.server();
    const floor = alternatingUsersFloor(info);
    if (floor) {
      throw new UnsupportedServerError(
        `Alternating users needs ${floor} or later: its rights model reads ${info.flavor === 'mysql' ? "MySQL 8.0's mysql.global_grants, role_edges and default_roles" : "MariaDB 10.4's mysql.global_priv"}, which ${serverName(info)} does not have. Nothing was changed; use single-user rotation, or upgrade the server`,
      );
    }
    const limit = maxUsernameLength(info);
    if ([...change.cloneUsername].length > limit) {
      throw new UsernameTooLongError(
        `The alternate username "${change.cloneUsername}" is longer than this server's ${limit}-character limit; shorten "${change.baseUsername}" to ${limit - 6} characters or less`,
      );
    }
    const { baseUsername: base, cloneUsername: clone, target } = change;
    const hosts = await this.accountHosts(base);
    if (hosts.length === 0) {
      throw new DatabaseStatementError(
        `MySQL user "${base}" does not exist on ${this.settings.host}; alternating users start from an existing base user`,
      );
    }
    const cloneHosts = await this.accountHosts(clone);
    const live = target === base ? clone : base;
    const states = await this.accountStates(info, [base, clone]);

    for (const host of hosts) {
      const idle = states.get(stateKey(target, host));
      const other = states.get(stateKey(live, host));
      if (idle?.locked && other && !other.locked) {
        const account = accountName(target, host);
        throw new IdleUserDisabledError(
          `"${target}"@"${host}" is locked (ACCOUNT LOCK) and "${live}"@"${host}", the user AWSCURRENT holds, is not: this rotation would give the new password to a user that cannot log in, and levelling would copy the lock onto the user applications use. Nothing was changed. If the lock was not meant, run ALTER USER ${account} ACCOUNT UNLOCK and rotate again; if it was, lock "${live}"@"${host}" too, or stop rotating this secret`,
        );
      }
      if (target === base && idle && other) {
        // Copied onto the live clone, a certificate requirement shuts out its clients without
        // that certificate, and a lifetime its password has outlived expires it at once. (REQUIRE
        // SSL is copied: the functions, and RDS's clients by default, already use TLS.)
        const account = `"${target}"@"${host}"`;
        if (!['NONE', 'SSL'].includes(idle.requires) && idle.requires !== other.requires) {
          throw new IdleUserDisabledError(
            `${account} requires ${idle.requires} and "${live}"@"${host}", the user AWSCURRENT holds, requires ${other.requires}: levelling would copy the requirement onto the user applications use, and shut out its clients that do not meet it. Nothing was changed. Give "${live}"@"${host}" the same requirement (ALTER USER … REQUIRE ${idle.requires}) once its clients meet it, or remove it from ${account}, then rotate again`,
          );
        }
        if (idle.lifetimeDays > 0 && other.passwordAgeDays >= idle.lifetimeDays) {
          throw new IdleUserDisabledError(
            `${account} has PASSWORD EXPIRE INTERVAL ${idle.lifetimeDays} DAY, and the password of "${live}"@"${host}", the user AWSCURRENT holds, is ${other.passwordAgeDays} days old: levelling would copy the lifetime onto it and expire its password at once. Nothing was changed. Rotate with a longer lifetime on ${account}, or give it PASSWORD EXPIRE DEFAULT until the rotation has run`,
          );
        }
      }
      if (info.flavor === 'mariadb' && idle && !passwordPlugin(idle.chain)) {
        throw new DatabaseStatementError(
          `"${target}"@"${host}" authenticates only by ${idle.chain.map((s) => s.plugin).join(' OR ')}, with no password-based plugin (mysql_native_password, ed25519, parsec) for the rotation's password. Nothing was changed: add one (ALTER USER ${accountName(target, host)} IDENTIFIED VIA … OR mysql_native_password USING PASSWORD('…'))`,
        );
      }
    }
    if (hasPartialRevokes(info)) {
      const master = await this.masterRestrictions();
      if (master.length > 0) {
        for (const host of hosts) {
          const [want, have] = await this.rightsOf(info, base, clone, host);
          const inherited = inheritedRestrictions(master, want, have);
          if (inherited.length > 0) {
            throw new DatabaseStatementError(
              `The master user "${this.settings.username}" holds partial revokes (REVOKE … ON a database of what it holds on *.*) that MySQL would copy onto "${clone}"@"${host}" when granting it what "${base}"@"${host}" holds on *.* without them: ${inherited.join('; ')}. The clone could not do what the base can. Nothing was changed: grant the master those privileges on those databases (lifting its partial revokes), or give "${base}"@"${host}" the same partial revokes`,
            );
          }
        }
      }
    }
    return { info, hosts, cloneHosts, states };
  }

  /**
   * Refuses first, then levels, then sets the password; MySQL cannot roll DDL back, so the order
   * is what makes a retry safe.
   *
   * 1. **Refuse, changing nothing**: a server below the floor (MySQL 8.0, MariaDB 10.4:
   *    UnsupportedServerError); a target (the idle user) locked at a host where the live user is
   *    not (IdleUserDisabledError: levelling would copy the lock onto the live user, or undo a
   *    DBA's lock on the idle one); a MariaDB target with no password-based plugin; a master whose
   *    own partial revokes MySQL would copy onto the clone with a global privilege the base holds
   *    unrestricted.
   * 2. **Level** at every host of the base user, whatever the target: create the clone where it
   *    is missing (with a throw-away password when it is not the target; it gets the real one
   *    when next the target) and make its rights equal to the base's (mysql/rights.ts). A clone
   *    account at a host the base no longer has is dropped when the clone is the target; while
   *    the clone is live it stays until then.
   * 3. **Set the target's password** on every host, keeping its authentication (MySQL: the
   *    base's plugin for the clone; MariaDB: every plugin of the target's chain). One login from
   *    this network proves nothing about the accounts at the other hosts, so every call sets it
   *    again; a clone created by an attempt that failed half-way has a throw-away password until
   *    a retry finishes the work.
   */
  public async applyAlternatingUsers(change: AlternatingUsersChange): Promise<void> {
    // 1. Refuse, before changing anything.
    const { info, hosts, cloneHosts, states } = await this.refusals(change);
    const { baseUsername: base, cloneUsername: clone, target } = change;

    // 2. Level, at every host of the base user.
    for (const host of hosts) {
      if (!cloneHosts.includes(host)) {
        // While the clone is live, a new account of it may match first for some clients (a host
        // more specific than its others): it takes the login the clone has now, copied from one
        // of its accounts, so AWSCURRENT keeps working there. Idle, it gets a throw-away password.
        const source = target === clone ? undefined : cloneHosts[0];
        const baseState = states.get(stateKey(base, host));
        const plugin =
          info.flavor === 'mariadb' ? passwordPlugin(baseState?.chain ?? []) : baseState?.plugin;
        await this.run(
          source === undefined
            ? createUserStatement(info, accountName(clone, host), throwAwayPassword(), plugin)
            : await this.copiedLoginStatement(info, clone, source, host, states),
          'CREATE USER',
        );
      }
      await this.syncRights(info, base, clone, host);
    }
    if (target === clone) {
      for (const host of cloneHosts.filter((h) => !hosts.includes(h))) {
        await this.run(`DROP USER ${accountName(clone, host)}`, 'DROP USER');
      }
    }

    // 3. The target's password, at every host.
    const after = info.flavor === 'mariadb' ? await this.accountStates(info, [target]) : states;
    for (const host of hosts) {
      const account = accountName(target, host);
      const statement =
        info.flavor === 'mariadb' && supportsAlterUser(info)
          ? mariadbPasswordStatement(
              account,
              after.get(stateKey(target, host))?.chain ?? [],
              change.password,
            )
          : passwordStatement(
              info,
              account,
              change.password,
              target === clone ? states.get(stateKey(base, host))?.plugin : undefined,
            );
      try {
        await this.run(statement, 'ALTER USER');
      } catch (error) {
        // MySQL's password history refuses the password this host's account already has: a
        // fresh random password is only there because an earlier attempt set it.
        if (!(error instanceof DatabaseStatementError && errnoOf(error) === ER_PASSWORD_HISTORY))
          throw error;
      }
    }
  }

  /**
   * Run as the master: how the clone's rights differ from the base user's at each host the base
   * user is defined at, as the server reports them. Empty when they are equal, or when the clone
   * does not exist yet at any host (nothing has been promoted to it). A clone account at a host
   * the base no longer has is a difference only when the clone is the one to be promoted, or
   * that is not known (preflight): while the clone is live it stays until it is next the target.
   */
  public async compareAlternatingUsers(users: AlternatingUsers): Promise<string[]> {
    const info = await this.server();
    const hosts = await this.accountHosts(users.baseUsername);
    const cloneHosts = new Set(await this.accountHosts(users.cloneUsername));
    if (cloneHosts.size === 0) return [];
    // Binding the clone to a secret that holds the base: levelling runs statement by statement,
    // so a cut-off run leaves a new clone with part of the base's rights. Only a right the clone
    // holds beyond the base would make handing it over a gain.
    const bindingClone = users.purpose === 'bind' && users.target === users.cloneUsername;
    const differences: string[] = [];
    for (const host of hosts) {
      const names = {
        base: `"${users.baseUsername}"@"${host}"`,
        clone: `"${users.cloneUsername}"@"${host}"`,
      };
      if (bindingClone) {
        if (!cloneHosts.has(host)) continue;
        const [base, clone] = await this.rightsOf(
          info,
          users.baseUsername,
          users.cloneUsername,
          host,
        );
        const beyond = new Map(
          [...clone].filter(
            ([label, right]) =>
              !base.has(label) && right.kind !== 'options' && right.kind !== 'default-roles',
          ),
        );
        differences.push(...rightsDifferences(new Map(), beyond, names));
        continue;
      }
      if (!cloneHosts.has(host)) {
        differences.push(`${names.clone} does not exist (${names.base} does)`);
        continue;
      }
      const [base, clone] = await this.rightsOf(
        info,
        users.baseUsername,
        users.cloneUsername,
        host,
      );
      differences.push(...rightsDifferences(base, clone, names));
    }
    if (users.target === undefined || users.target === users.cloneUsername) {
      for (const host of [...cloneHosts].filter((h) => !hosts.includes(h))) {
        differences.push(
          `"${users.cloneUsername}"@"${host}" exists but "${users.baseUsername}"@"${host}" does not: it keeps its own rights and a password no version of the secret holds (the next setSecret that targets the clone drops it)`,
        );
      }
    }
    return differences;
  }

  /** Preflight's read-only checks (mysql/inspect.ts). */
  public async inspect(request: InspectionRequest): Promise<SessionInspection> {
    const info = await this.server();
    const socket = (this.connection as unknown as { connection?: { stream?: unknown } }).connection
      ?.stream;
    return inspectMysql(
      this,
      { socket, settings: this.settings, info, usernameMax: maxUsernameLength(info) },
      request,
    );
  }

  /**
   * Pair mode's parity check: the account's own grants, default roles and options, as it may read
   * them about itself (mysql/own-rights.ts). Read-only, and needs no privilege.
   */
  public async ownRights(pair: { partner: string }): Promise<OwnRights> {
    const info = await this.server();
    return readOwnRights((sql, verb) => this.run(sql, verb), info.flavor, pair.partner);
  }

  /** Ends the connection; one that does not end promptly (a statement left waiting) is destroyed. */
  public async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const ended = this.connection.end().then(
      () => true,
      () => false,
    );
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), CLOSE_TIMEOUT_MS);
    });
    if (!(await Promise.race([ended, late]))) this.connection.destroy();
    clearTimeout(timer);
  }

  /** Runs one statement; errors name `verb`, never the statement (it may hold a password). */
  public async run(sql: string, verb = sql.split(' ', 2).join(' ')): Promise<Row[]> {
    try {
      // The server's lock waits end first (lock_wait_timeout, set at login); this bound is for a
      // server that stops answering.
      const [rows] = await this.connection.query<Row[]>({
        sql,
        timeout: this.settings.statementTimeoutMs + CLIENT_TIMEOUT_MARGIN_MS,
      });
      return Array.isArray(rows) ? rows : [];
    } catch (error) {
      const errno = (error as { errno?: unknown }).errno;
      const seconds = this.settings.statementTimeoutMs / 1000;
      if ((error as { code?: unknown }).code === 'PROTOCOL_SEQUENCE_TIMEOUT') {
        throw new DatabaseStatementError(
          `MySQL did not answer ${verb} as user "${this.settings.username}" within ${seconds + CLIENT_TIMEOUT_MARGIN_MS / 1000} s (DB_STATEMENT_TIMEOUT_SECONDS is ${seconds}); the step failed and can be retried`,
          { cause: error },
        );
      }
      if (errno === ER_LOCK_WAIT_TIMEOUT || errno === ER_STATEMENT_TIMEOUT) {
        throw new DatabaseStatementError(
          `MySQL gave up ${verb} as user "${this.settings.username}" after ${seconds} s (DB_STATEMENT_TIMEOUT_SECONDS, applied as lock_wait_timeout, innodb_lock_wait_timeout and MariaDB's max_statement_time), most likely waiting for a lock another session holds (a long transaction, LOCK TABLES, FLUSH TABLES WITH READ LOCK or a backup). Nothing was changed by it; the step can be retried`,
          { cause: error },
        );
      }
      if (typeof errno === 'number') {
        throw new DatabaseStatementError(
          `MySQL refused ${verb} as user "${this.settings.username}": ${isErrorLike(error) ? error.message : String(error)} (error ${errno})`,
          { cause: error },
        );
      }
      throw new DatabaseUnreachableError(
        `Lost the MySQL connection to ${this.settings.host}:${this.settings.port} during ${verb}`,
        { cause: error },
      );
    }
  }

  private server(): Promise<ServerInfo> {
    this.info ??= this.run('SELECT VERSION() AS version').then((rows) =>
      parseServerVersion(String(rows[0]?.version ?? '')),
    );
    return this.info;
  }

  private async accountHosts(user: string): Promise<string[]> {
    const rows = await this.run(
      `SELECT Host AS host FROM mysql.user WHERE User = ${mysql2.escape(user)}`,
      'SELECT mysql.user',
    );
    return rows.map((r) => text(r.host));
  }

  private async rightsOf(
    info: ServerInfo,
    base: string,
    clone: string,
    host: string,
  ): Promise<[AccountRights, AccountRights]> {
    const [want, have] = await readRights(this, info, [
      { user: base, host },
      { user: clone, host },
    ]);
    return [want ?? new Map(), have ?? new Map()];
  }

  /**
   * Lock state and authentication of each account of `users`, by user and host: MySQL's
   * mysql.user columns, MariaDB's mysql.global_priv JSON (its chain of plugins).
   */
  private async accountStates(
    info: ServerInfo,
    users: string[],
  ): Promise<Map<string, AccountState>> {
    const names = users.map((u) => mysql2.escape(u)).join(', ');
    const rows =
      info.flavor === 'mysql'
        ? await this.run(
            `SELECT User AS u, Host AS h, account_locked AS locked, plugin, ssl_type, ssl_cipher, x509_issuer, x509_subject, password_lifetime AS lifetime, DATEDIFF(NOW(), password_last_changed) AS age FROM mysql.user WHERE User IN (${names})`,
            'SELECT mysql.user',
          )
        : await this.run(
            `SELECT g.User AS u, g.Host AS h, JSON_VALUE(g.Priv, '$.account_locked') AS locked, g.Priv AS priv, u.ssl_type, u.ssl_cipher, u.x509_issuer, u.x509_subject, JSON_VALUE(g.Priv, '$.password_lifetime') AS lifetime, DATEDIFF(NOW(), FROM_UNIXTIME(JSON_VALUE(g.Priv, '$.password_last_changed'))) AS age FROM mysql.global_priv g JOIN mysql.user u ON u.User = g.User AND u.Host = g.Host WHERE g.User IN (${names})`,
            'SELECT mysql.global_priv',
          );
    const states = new Map<string, AccountState>();
    for (const row of rows) {
      const chain = info.flavor === 'mariadb' ? authChain(row.priv) : [];
      states.set(stateKey(text(row.u), text(row.h)), {
        locked: ['Y', 'true', '1'].includes(text(row.locked)),
        requires: requireClause(row),
        lifetimeDays: Math.max(Number(text(row.lifetime) || 0), 0),
        passwordAgeDays: Number(text(row.age) || 0),
        plugin: info.flavor === 'mysql' ? text(row.plugin) : passwordPlugin(chain),
        chain,
      });
    }
    return states;
  }

  /**
   * CREATE USER for `user`@`host` with the authentication `user`@`source` has (its plugin and
   * stored hash, or MariaDB's whole chain), so the same password logs in at both. The hash travels
   * in the statement only, which errors never show.
   */
  private async copiedLoginStatement(
    info: ServerInfo,
    user: string,
    source: string,
    host: string,
    states: Map<string, AccountState>,
  ): Promise<string> {
    const account = accountName(user, host);
    if (info.flavor === 'mariadb') {
      const chain = states.get(stateKey(user, source))?.chain ?? [];
      const steps = chain.map((step) =>
        step.authString ? `${step.plugin} USING ${mysql2.escape(step.authString)}` : step.plugin,
      );
      return `CREATE USER ${account} IDENTIFIED VIA ${steps.join(' OR ')}`;
    }
    const [row] = await this.run(
      `SELECT plugin, HEX(authentication_string) AS auth FROM mysql.user WHERE User = ${mysql2.escape(user)} AND Host = ${mysql2.escape(source)}`,
      'SELECT mysql.user',
    );
    const plugin = text(row?.plugin);
    const hex = text(row?.auth);
    if (!/^\w+$/.test(plugin) || !/^[0-9A-Fa-f]*$/.test(hex)) {
      throw new DatabaseStatementError(
        `Could not read the authentication of "${user}"@"${source}" to create "${user}"@"${host}" with it`,
      );
    }
    return `CREATE USER ${account} IDENTIFIED WITH ${plugin} AS ${hex === '' ? "''" : `0x${hex}`}`;
  }

  /** This session's user's own partial revokes (MySQL 8.0.16+). */
  private async masterRestrictions(): Promise<Right[]> {
    const rows = await this.run(
      "SELECT JSON_EXTRACT(User_attributes, '$.Restrictions') AS r FROM mysql.user WHERE Host = SUBSTRING_INDEX(CURRENT_USER(), '@', -1) AND User = LEFT(CURRENT_USER(), CHAR_LENGTH(CURRENT_USER()) - CHAR_LENGTH(SUBSTRING_INDEX(CURRENT_USER(), '@', -1)) - 1)",
      'SELECT mysql.user',
    );
    return rows.flatMap((row) => parseRestrictions(row.r));
  }

  /**
   * Makes the clone's rights equal to the base's, then reads both again to prove it. A second
   * round catches what one statement undid of another (revoking a MySQL role drops it from the
   * default roles).
   */
  private async syncRights(
    info: ServerInfo,
    base: string,
    clone: string,
    host: string,
  ): Promise<void> {
    const names = { base: `"${base}"@"${host}"`, clone: `"${clone}"@"${host}"` };
    for (let round = 0; round < 2; round++) {
      const [want, have] = await this.rightsOf(info, base, clone, host);
      const stale = [
        ...[...want.values()].flatMap((r) =>
          r.kind === 'stale' ? [`${names.base}: ${r.label}`] : [],
        ),
        ...[...have.values()].flatMap((r) =>
          r.kind === 'stale' ? [`${names.clone}: ${r.label}`] : [],
        ),
      ];
      if (stale.length > 0) {
        throw new DatabaseStatementError(
          `MySQL applies privileges its grant tables do not hold, or the other way round, so no grant can give ${names.clone} what ${names.base} holds: ${stale.join('; ')}. ${round === 0 ? 'Nothing was changed at this host' : 'The levelling statements stopped here'}. After REVOKE GRANT OPTION ON *.* while a dynamic privilege is held WITH GRANT OPTION, MySQL keeps applying the option until FLUSH PRIVILEGES (or a restart); run FLUSH PRIVILEGES, check the two users' grants, and rotate again`,
        );
      }
      const statements = syncStatements(want, have, accountName(clone, host), info.flavor);
      if (statements.length === 0) return;
      for (const statement of statements) {
        try {
          await this.run(statement, statement.split(' ', 1)[0]);
        } catch (error) {
          if (!(error instanceof DatabaseStatementError)) throw error;
          const proxied = /^(?:GRANT|REVOKE) PROXY ON (\S+)/.exec(statement)?.[1];
          if (proxied) {
            throw new DatabaseStatementError(
              `${error.message}. ${names.base} and ${names.clone} differ in PROXY ON ${proxied}, which the master user "${this.settings.username}" cannot change: it needs GRANT PROXY ON ${proxied} TO '${this.settings.username}'@'<host>' WITH GRANT OPTION (run as ${proxied} itself, or by an account that holds it WITH GRANT OPTION), or a DBA levels the clone by hand`,
              { cause: error.cause },
            );
          }
          throw new DatabaseStatementError(
            `${error.message}. The master user "${this.settings.username}" must hold every privilege of ${names.base} WITH GRANT OPTION, and ADMIN OPTION on each of its roles (or ROLE_ADMIN), to give them to ${names.clone}`,
            { cause: error.cause },
          );
        }
      }
    }
    const [want, have] = await this.rightsOf(info, base, clone, host);
    const differences = rightsDifferences(want, have, names);
    if (differences.length > 0) {
      throw new DatabaseStatementError(
        `Could not make the rights of ${names.clone} equal to those of ${names.base}: ${differences.join('; ')}`,
      );
    }
  }
}

interface AccountState {
  locked: boolean;
  /** The REQUIRE clause (`NONE`, `SSL`, `X509`, `ISSUER …`). */
  requires: string;
  /** The account's own password lifetime in days; 0 for none or the server's default. */
  lifetimeDays: number;
  /** Days since its password was last set. */
  passwordAgeDays: number;
  /** MySQL: the plugin; MariaDB: the first password-based plugin of the chain. */
  plugin: string | undefined;
  /** MariaDB's chain of plugins (empty on MySQL). */
  chain: AuthStep[];
}

function stateKey(user: string, host: string): string {
  return `${user}\n${host}`;
}

function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}
