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
  /** The secret's `engine` value (`mongo` or `docdb`, `mysql` or `aurora-mysql`, …). */
  flavor: string;
  /** The secret's values for the keys the engine lists in `secretParameters`. */
  parameters: Readonly<Record<string, string>>;
}

/** What the master session must make true for alternating users. */
export interface AlternatingUsersChange {
  /** The user named in the secret without the clone suffix; it owns what both users create. */
  baseUsername: string;
  /** The base name with the clone suffix. */
  cloneUsername: string;
  /** Which of the two gets `password` (the pending version's username). */
  target: string;
  password: string;
  /** The users' database from the secret (`dbname`): MongoDB's authentication database. */
  database: string | undefined;
}

/** A logged-in connection. Every method throws DatabaseStatementError when the server refuses. */
export interface DatabaseSession {
  /** Runs a trivial query, proving the login gives a usable session. */
  ping(): Promise<void>;
  /** Changes the password of the user this session logged in as. */
  changeOwnPassword(newPassword: string): Promise<void>;
  /**
   * Run as the master user: creates the clone if it is missing, sets the target's password, and
   * brings the clone's privileges level with the base user's, on every call.
   */
  applyAlternatingUsers(change: AlternatingUsersChange): Promise<void>;
  close(): Promise<void>;
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
