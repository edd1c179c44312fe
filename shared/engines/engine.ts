import type { PasswordRules } from '../config';
import { ConfigurationError } from '../errors';
/**
 * The contract between the rotation strategies and one database engine. An adapter knows its
 * driver and its server, and nothing of Secrets Manager: it is handed connection settings and
 * usernames, never a secret.
 */

/** How a session secures its connection, after the secret's `ssl` key and TLS_MODE are resolved. */
export type ConnectionTls = 'verify-full' | 'verify-ca' | 'disable';

export interface ConnectionSettings {
  host: string;
  port: number;
  username: string;
  password: string;
  /** The database (PostgreSQL, MySQL) or authentication database (MongoDB) to log in to. */
  database: string | undefined;
  tls: ConnectionTls;
  connectTimeoutMs: number;
  /**
   * The longest a statement may wait or run (MySQL: the session's `lock_wait_timeout`, and a
   * client-side bound a little above it), so a hung statement fails the step cleanly instead of
   * the Lambda timing out in the middle of it.
   */
  statementTimeoutMs: number;
  /** The secret's `engine` value (`mongo` or `docdb`, `mysql` or `aurora-mysql`, …). */
  flavor: string;
  /** The secret's values for the keys the engine lists in `secretParameters`. */
  parameters: Readonly<Record<string, string>>;
}

/** The refusal of RETAIN_CURRENT_PASSWORD by a server without dual passwords. */
export function dualPasswordsUnsupported(server: string): ConfigurationError {
  return new ConfigurationError(
    `RETAIN_CURRENT_PASSWORD=true needs dual passwords (MySQL 8.0.14 or later), which ${server} does not have: unset it for this function`,
  );
}

/** Preflight's finding for RETAIN_CURRENT_PASSWORD on a server without dual passwords. */
export function noDualPasswords(server: string): Finding {
  return {
    check: 'dual passwords',
    status: 'fail',
    detail: dualPasswordsUnsupported(server).message,
  };
}

/**
 * Preflight's `clone rights` finding: the differences testSecret would refuse (`warn`), or
 * `pass` with `equal`, what being level means on that engine.
 */
export function cloneRightsFinding(
  names: { base: string; clone: string },
  drift: readonly string[],
  equal: string,
): Finding {
  return drift.length > 0
    ? {
        check: 'clone rights',
        status: 'warn',
        detail: `${names.clone} cannot do exactly what ${names.base} can: ${drift.join('; ')}. The next setSecret brings it level; testSecret refuses to promote it until then`,
      }
    : { check: 'clone rights', status: 'pass', detail: `${names.clone} ${equal}` };
}

/** A user's change of its own password (single-user). */
export interface OwnPasswordChange {
  newPassword: string;
  /** The password this session logged in with. Where the server can, it is checked (REPLACE). */
  currentPassword: string;
  /**
   * Keep `currentPassword` working as a secondary password (MySQL 8.0.14+'s dual passwords,
   * `RETAIN CURRENT PASSWORD`). Engines without dual passwords refuse it with a clear error.
   */
  retainCurrent: boolean;
}

/** What the master session must make true for alternating users. */
export interface AlternatingUsersChange {
  /** The user named in the secret without the clone suffix; it owns what both users create. */
  baseUsername: string;
  /** The base name with the clone suffix. */
  cloneUsername: string;
  /**
   * Which of the two gets `password` (the pending version's username): the idle user. The other
   * one is the live user, whose credentials AWSCURRENT holds and applications use.
   */
  target: string;
  password: string;
  /** The users' database from the secret (`dbname`): MongoDB's authentication database. */
  database: string | undefined;
}

/** The two users of alternating users, as the master sees them. */
export interface AlternatingUsers {
  /** The user named in the secret without the clone suffix: whose rights the clone must have. */
  baseUsername: string;
  cloneUsername: string;
  /** The users' database from the secret (`dbname`): MongoDB's authentication database. */
  database: string | undefined;
  /**
   * The user about to be promoted (AWSPENDING's), when known (testSecret); `undefined` in
   * preflight. Lets an adapter tell a difference that blocks promotion from one that the next
   * rotation removes (MySQL: a host the live clone still has and the base no longer does).
   */
  target?: string | undefined;
  /**
   * `bind`: asked before the master hands the target to the secret's holder (the pairing rule),
   * so only differences that would make that a gain count. An adapter whose levelling is not one
   * transaction (MySQL) then leaves out what a new clone merely lacks of the base: a run cut off
   * half-way leaves it so, and the holder of the base gains nothing by it.
   */
  purpose?: 'promote' | 'bind';
}

/** A logged-in connection. Every method throws DatabaseStatementError when the server refuses. */
export interface DatabaseSession {
  /** Runs a trivial query, proving the login gives a usable session. */
  ping(): Promise<void>;
  /**
   * Changes the password of the user this session logged in as. `not-current` when the server
   * checked that `currentPassword` is the account's password and found it is not (MySQL 8.0.13+
   * with `REPLACE`: the session logged in with a retained secondary password); nothing changed.
   */
  changeOwnPassword(change: OwnPasswordChange): Promise<'changed' | 'not-current'>;
  /**
   * Run as the master user: makes the pair right for this rotation, on every call (a retried
   * setSecret levels again whatever an earlier attempt did). The rights contract, which every
   * adapter keeps and documents for its engine:
   * - **Refuse first.** Before changing anything, throw IdleUserDisabledError when the target
   *   (the idle user) exists and is disabled in a way the live user is not (locked, unable to log
   *   in, expired, narrower login restrictions), naming the user and the state; and
   *   UnboundPairError when someone other than the master could take the clone over (PostgreSQL
   *   16+: ADMIN OPTION on it). A missing base user is a DatabaseStatementError.
   * - **Never make the live user worse.** Nothing that disables a login is copied onto the live
   *   user; a change that would narrow where or how the live user logs in waits until it is idle.
   * - **Level.** Create the clone where it is missing, with the base user's rights (as the
   *   engine's model defines them, see {@link compareAlternatingUsers}); then set the target's
   *   password, keeping its authentication method.
   */
  applyAlternatingUsers(change: AlternatingUsersChange): Promise<void>;
  /**
   * Run as the master user: throws what {@link applyAlternatingUsers} would refuse before changing
   * anything (its "refuse first" step), and changes nothing. The strategy asks it before it binds
   * the pair to the secret, so a disabled idle user is named as such, not as an unbound pair.
   */
  checkAlternatingUsers(change: AlternatingUsersChange): Promise<void>;
  /**
   * Run as the master user: how the clone's effective rights differ from the base user's, as the
   * server reports them, one sentence per difference and never a password. Empty when they are
   * equal, or when there is no clone yet. testSecret refuses to promote while this is not empty,
   * and preflight reports it. What "rights" covers is the engine's model, each part in both
   * directions, so the clone can do exactly what the base can, no less and no more (README, "The
   * rights contract on …"):
   * - PostgreSQL: membership of the base (INHERIT, SET, no ADMIN OPTION) and the role the base
   *   becomes at login; SUPERUSER, CREATEDB, CREATEROLE, REPLICATION, BYPASSRLS; settings per role
   *   and database, CONNECTION LIMIT, VALID UNTIL; no other memberships, owned objects or direct
   *   grants of the clone; no other role holding the clone. Excludes pg_hba.conf and database-wide
   *   settings.
   * - MySQL and MariaDB, at every host of the base: privileges at every level with GRANT OPTION,
   *   dynamic privileges, roles with ADMIN OPTION, default roles, PROXY, partial revokes, account
   *   options (REQUIRE, limits, lifetime, lock, password policies); the same hosts. Excludes the
   *   authentication method, comments and attributes, and objects the base is DEFINER of.
   * - MongoDB and DocumentDB: roles on every database, authentication restrictions, custom data.
   *   Excludes what a role grants (roles compare by name).
   */
  compareAlternatingUsers(users: AlternatingUsers): Promise<string[]>;
  /**
   * Pair mode's parity check, read-only: what this session's user may do, as it may read about
   * itself without extra rights. One sentence per right or limit, naming neither this user nor
   * `partner` (the other user of the pair), so that the two users' lists compare as text. Never a
   * password, nor a setting's value (a digest of it instead).
   */
  ownRights(pair: { partner: string }): Promise<OwnRights>;
  /**
   * Read-only checks for `rotation-lambdas preflight`: what the server is, how this connection is
   * secured, and whether this session's user may do its part of a rotation. Must change nothing
   * on the server. Optional: preflight reports "not checked" for an adapter without it.
   */
  inspect?(request: InspectionRequest): Promise<SessionInspection>;
  close(): Promise<void>;
}

/** What {@link DatabaseSession.ownRights} saw, and what it could not see. */
export interface OwnRights {
  /** What it may do: the idle user must have each line of the live one's. */
  rights: string[];
  /**
   * What narrows what it may do, or where and how it logs in (settings, partial revokes, account
   * options, authentication restrictions): these must be the same both ways, since one more of
   * them takes something away.
   */
  limits: string[];
  /** What a user cannot read about itself on this engine, so the comparison does not cover it. */
  unseen: string[];
}

/**
 * What preflight asks a session: `login` for the connection only (server, TLS, writable), `self`
 * for single-user (the session's user will change its own password), `master` for alternating
 * users (the session's user will create and alter the clone).
 */
export type InspectionRequest =
  | { role: 'login' }
  | {
      role: 'self';
      /** RETAIN_CURRENT_PASSWORD: the rotation will keep the old password (dual passwords). */
      retainCurrent: boolean;
    }
  | {
      role: 'master';
      baseUsername: string;
      cloneUsername: string;
      /** The users' database from the secret (`dbname`): MongoDB's authentication database. */
      database: string | undefined;
    };

/** `unknown`: the server does not say, or does not enforce it (FerretDB's roles). */
export type FindingStatus = 'pass' | 'warn' | 'fail' | 'info' | 'unknown';

/** One check's result, in words an operator can act on. Never holds a password. */
export interface Finding {
  /** Short name of what was checked, e.g. `privileges`, `clone name`, `writable`. */
  check: string;
  status: FindingStatus;
  detail: string;
}

/** The TLS of one connection, as the driver or a probe saw it. */
export interface TlsDetails {
  /** e.g. `TLSv1.3`. */
  protocol: string | undefined;
  cipher: string | undefined;
  /** The server certificate's subject and issuer, as `CN=…, O=…`. */
  subject: string | undefined;
  issuer: string | undefined;
  subjectAltNames: string | undefined;
  /** ISO 8601. */
  validTo: string | undefined;
  /** Where these details come from: `driver`, `server` (a status view) or `probe` (a separate connection). */
  source: 'driver' | 'server' | 'probe';
}

/** A server's own password rules, when it has and shows any (MySQL's validate_password, …). */
export interface ServerPasswordRules {
  /** Where the rules come from, e.g. `validate_password`. */
  source: string;
  minLength: number;
  minLowercase: number;
  minUppercase: number;
  minDigits: number;
  minSpecial: number;
}

/** What {@link DatabaseSession.inspect} found. */
export interface SessionInspection {
  /** The server's product and version, e.g. `PostgreSQL 17.10`. */
  server: string;
  /** This connection's TLS; `undefined` when it is plain text. */
  tls: TlsDetails | undefined;
  /** The server's real limit on user names, when it can be read (PostgreSQL's max_identifier_length). */
  usernameLimit: UsernameLimit | undefined;
  passwordRules: ServerPasswordRules | undefined;
  findings: Finding[];
}

export interface UsernameLimit {
  max: number;
  /** PostgreSQL counts bytes (NAMEDATALEN), MySQL and MariaDB characters. */
  unit: 'bytes' | 'characters';
}

/** One engine: static facts about its secrets, and a way to log in. */
export interface DatabaseEngine {
  /** For logs: `postgresql`, `mysql`, … */
  readonly name: string;
  /** The values of the secret's `engine` key this adapter serves. */
  readonly secretEngines: readonly string[];
  readonly defaultPort: number;
  /** Extra string keys of the secret the adapter reads (e.g. MongoDB's `replicaSet`). */
  readonly secretParameters?: readonly string[];
  /** The database to log in to when the secret has no `dbname`. */
  readonly defaultDatabase: string | undefined;
  /** `EXCLUDE_CHARACTERS` when unset, as in AWS's template for this engine. */
  readonly defaultExcludeCharacters: string;
  /** What the server demands of every password beyond a length, when it does (Redshift). */
  readonly passwordRules?: PasswordRules;
  /**
   * The longest username the engine accepts, checked in createSecret before anything is written.
   * An adapter whose limit depends on the server version checks the server's own limit again.
   */
  readonly usernameLimit: UsernameLimit;
  /**
   * Logs in. Throws CredentialsRejectedError when the server says the credentials are wrong,
   * DatabaseUnreachableError (with `tlsFailure` set when TLS could not be set up or verified)
   * when it cannot be reached, and never returns an unauthenticated session.
   */
  connect(settings: ConnectionSettings): Promise<DatabaseSession>;
}
