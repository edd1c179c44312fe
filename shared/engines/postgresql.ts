import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import saslprep from '@mongodb-js/saslprep';
import { Client, DatabaseError, escapeIdentifier, escapeLiteral, type QueryResult } from 'pg';
import {
  CredentialsRejectedError,
  DatabaseStatementError,
  DatabaseUnreachableError,
  isErrorLike,
  type RotationError,
  UnsupportedServerError,
} from '../errors';
import {
  type AlternatingUsers,
  type AlternatingUsersChange,
  type ConnectionSettings,
  type DatabaseEngine,
  type DatabaseSession,
  dualPasswordsUnsupported,
  type InspectionRequest,
  type OwnPasswordChange,
  type SessionInspection,
} from './engine';
import { inspectPostgres } from './postgresql-inspect';
import {
  type LoginFacts,
  parseSettingKey,
  readLoginFacts,
  settingAssignment,
  settingKey,
} from './postgresql-rights';
import { isTlsError, tlsOptions } from './tls';

/** PostgreSQL and Aurora PostgreSQL through `pg`. */
export const postgresql: DatabaseEngine = {
  name: 'postgresql',
  secretEngines: ['postgres', 'aurora-postgresql'],
  defaultPort: 5432,
  defaultDatabase: 'postgres',
  // AWS's default; the colon is excluded for .pgpass files.
  defaultExcludeCharacters: ':/@"\'\\',
  // NAMEDATALEN - 1.
  usernameLimit: { max: 63, unit: 'bytes' },
  connect: connectPostgres,
};

async function connectPostgres(settings: ConnectionSettings): Promise<DatabaseSession> {
  const client = new Client({
    host: settings.host,
    port: settings.port,
    user: settings.username,
    password: settings.password,
    database: settings.database,
    ssl: tlsOptions(settings.tls, settings.host) ?? false,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    application_name: 'rotation-lambdas',
    // A step must never hang on a lock until Lambda kills it mid-statement
    // (DB_STATEMENT_TIMEOUT_SECONDS; by default 15 s, and 10 s for a lock).
    statement_timeout: settings.statementTimeoutMs,
    lock_timeout: Math.max(settings.statementTimeoutMs - 5_000, 1_000),
    // A session whose client vanished mid-transaction (a connection lost without the server
    // being told, a frozen or killed Lambda) would otherwise hold its locks on the roles until TCP
    // keepalive notices, hours later, and every retry would hit lock_timeout. The server ends such
    // a session after this long, shorter than lock_timeout, so a retry waits it out.
    idle_in_transaction_session_timeout: 5_000,
  });
  // An idle client that loses its socket emits 'error'; without a listener that would crash.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw classifyConnectError(error, settings);
  }
  return new PostgresSession(client, settings);
}

/** The clone's own setting that makes it the base at login. */
const ROLE_SETTING = settingKey('', 'role');

/** Invalid password, and no such role (reported as a failed password unless auth is `trust`). */
const REJECTED_CODES = new Set(['28P01']);

function classifyConnectError(error: unknown, settings: ConnectionSettings): RotationError {
  const who = `user "${settings.username}" at ${settings.host}:${settings.port}`;
  if (error instanceof DatabaseError) {
    if (
      REJECTED_CODES.has(error.code ?? '') ||
      (error.code === '28000' && /role .* does not exist/.test(error.message))
    ) {
      return new CredentialsRejectedError(`PostgreSQL rejected the credentials of ${who}`, {
        cause: error,
      });
    }
    if (error.code === '28000' && /pg_hba\.conf/.test(error.message)) {
      // The server's pg_hba.conf has no line for this connection: most often it demands TLS.
      return new DatabaseUnreachableError(
        `PostgreSQL at ${settings.host}:${settings.port} refused the connection for ${who} (${error.message}); with TLS ${settings.tls}`,
        { cause: error, tlsFailure: settings.tls === 'disable' },
      );
    }
    return new DatabaseUnreachableError(`PostgreSQL refused to log in ${who}: ${error.message}`, {
      cause: error,
    });
  }
  const message = isErrorLike(error) ? error.message : String(error);
  return new DatabaseUnreachableError(
    `Could not reach PostgreSQL at ${settings.host}:${settings.port} (TLS ${settings.tls}): ${message}`,
    { cause: error, tlsFailure: settings.tls !== 'disable' && isTlsError(error) },
  );
}

class PostgresSession implements DatabaseSession {
  public constructor(
    private readonly client: Client,
    private readonly settings: ConnectionSettings,
  ) {}

  public async ping(): Promise<void> {
    await this.run('SELECT 1');
  }

  public async changeOwnPassword({
    newPassword,
    retainCurrent,
  }: OwnPasswordChange): Promise<'changed'> {
    if (retainCurrent) throw dualPasswordsUnsupported('PostgreSQL');
    await this.requireScram();
    await this.run(
      `ALTER ROLE CURRENT_USER WITH PASSWORD ${escapeLiteral(scramSha256Verifier(newPassword))}`,
    );
    return 'changed';
  }

  /**
   * The model: the base user owns everything. The clone is a member of the base role and every
   * session it opens runs `SET ROLE` to the base (a per-role default), so both users act as the
   * base: same privileges, whatever is granted to the base later, and objects either creates are
   * owned by the base and usable by both. Membership and the default are re-applied on every
   * rotation, so a clone whose grants were tampered with or created by AWS's template is repaired.
   */
  public async applyAlternatingUsers(change: AlternatingUsersChange): Promise<void> {
    const base = escapeIdentifier(change.baseUsername);
    const clone = escapeIdentifier(change.cloneUsername);
    const verifier = escapeLiteral(scramSha256Verifier(change.password));
    await this.requireScram();
    await this.run('BEGIN');
    try {
      if (!(await this.roleExists(change.baseUsername))) {
        throw new DatabaseStatementError(
          `PostgreSQL role "${change.baseUsername}" does not exist on ${this.settings.host}; alternating users start from an existing base user`,
        );
      }
      const cloneExists = await this.roleExists(change.cloneUsername);
      if (!cloneExists) {
        await this.run(`CREATE ROLE ${clone} WITH LOGIN INHERIT PASSWORD ${verifier}`, change);
      }
      if (cloneExists || change.target !== change.cloneUsername) {
        const target = escapeIdentifier(change.target);
        await this.run(`ALTER ROLE ${target} WITH LOGIN PASSWORD ${verifier}`, change);
      }
      if (!(await this.isMember(change.cloneUsername, change.baseUsername))) {
        await this.run(`GRANT ${base} TO ${clone}`, change);
      }
      await this.run(
        `ALTER ROLE ${clone} SET role TO ${escapeLiteral(change.baseUsername)}`,
        change,
      );
      await this.syncLoginFacts(change);
      const differences = await this.loginDifferences(change.baseUsername, change.cloneUsername);
      if (differences.length > 0) {
        throw new DatabaseStatementError(
          `Could not make "${change.cloneUsername}" log in as "${change.baseUsername}" does: ${differences.join('; ')}`,
        );
      }
      await this.run('COMMIT');
    } catch (error) {
      await this.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /** What applyAlternatingUsers refuses; changes nothing. */
  public async checkAlternatingUsers(_change: AlternatingUsersChange): Promise<void> {}

  /**
   * Run as the master: what differs between the two users at login, where SET ROLE does not
   * reach: the clone's membership of the base and its switch to it, each setting of the base
   * (per role, and per role and database), CONNECTION LIMIT and VALID UNTIL, and memberships of
   * the clone's own. Read in a transaction that is rolled back (values are compared as the server
   * reads them, through set_config, so `64MB` equals `65536`).
   */
  public async compareAlternatingUsers(users: AlternatingUsers): Promise<string[]> {
    await this.run('BEGIN');
    try {
      return await this.loginDifferences(users.baseUsername, users.cloneUsername);
    } finally {
      await this.run('ROLLBACK').catch(() => undefined);
    }
  }

  private facts(roles: string[]): Promise<Map<string, LoginFacts>> {
    return readLoginFacts((sql, values) => this.run(sql, undefined, values), roles);
  }

  private async loginDifferences(base: string, clone: string): Promise<string[]> {
    const facts = await this.facts([base, clone]);
    const b = facts.get(base);
    const c = facts.get(clone);
    if (!b || !c) return [];
    const names = { base: `"${base}"`, clone: `"${clone}"` };
    const differences: string[] = [];
    if (!c.memberOf.has(base)) {
      differences.push(`${names.clone} is not a member of ${names.base}, so it cannot act as it`);
    } else if (c.memberOf.get(base) === false) {
      differences.push(
        `${names.clone} may not SET ROLE to ${names.base} (its membership has SET FALSE)`,
      );
    }
    for (const role of c.memberOf.keys()) {
      if (role !== base && !b.memberOf.has(role)) {
        differences.push(`${names.clone} is a member of "${role}" (${names.base} is not)`);
      }
    }
    if (c.settings.get(ROLE_SETTING) !== base) {
      differences.push(
        `${names.clone} does not become ${names.base} at login (ALTER ROLE … SET role)`,
      );
    }
    const keys = new Set([...b.settings.keys(), ...c.settings.keys()]);
    keys.delete(ROLE_SETTING);
    for (const key of keys) {
      const want = b.settings.get(key);
      const have = c.settings.get(key);
      const { database, name } = parseSettingKey(key);
      const where = database === '' ? '' : ` in database "${database}"`;
      if (want === undefined) {
        differences.push(
          `${names.clone} has setting ${name}=${have}${where} (${names.base} does not)`,
        );
      } else if (have === undefined) {
        differences.push(
          `${names.clone} lacks setting ${name}=${want}${where} (${names.base} has it)`,
        );
      } else if (!(await this.sameSetting(name, want, have))) {
        differences.push(
          `${names.clone} has setting ${name}=${have}${where} where ${names.base} has ${name}=${want}`,
        );
      }
    }
    if (b.connectionLimit !== c.connectionLimit) {
      differences.push(
        `${names.clone} has CONNECTION LIMIT ${c.connectionLimit} where ${names.base} has ${b.connectionLimit}`,
      );
    }
    if (b.validUntil !== c.validUntil) {
      differences.push(
        `${names.clone} is VALID UNTIL ${c.validUntil} where ${names.base} is VALID UNTIL ${b.validUntil}`,
      );
    }
    return differences;
  }

  /** Makes the clone's login-time facts the base's (in the caller's transaction). */
  private async syncLoginFacts(change: AlternatingUsersChange): Promise<void> {
    const { baseUsername: base, cloneUsername: clone } = change;
    const facts = await this.facts([base, clone]);
    const b = facts.get(base);
    const c = facts.get(clone);
    if (!b || !c) return;
    const role = escapeIdentifier(clone);
    const inDatabase = (database: string) =>
      database === '' ? '' : ` IN DATABASE ${escapeIdentifier(database)}`;
    if (c.memberOf.get(base) === false) {
      await this.run(`GRANT ${escapeIdentifier(base)} TO ${role} WITH SET TRUE`, change);
    }
    for (const [key, value] of b.settings) {
      if (key === ROLE_SETTING) continue;
      const have = c.settings.get(key);
      if (have !== undefined && (await this.sameSetting(parseSettingKey(key).name, value, have)))
        continue;
      const { database, name } = parseSettingKey(key);
      await this.run(
        `ALTER ROLE ${role}${inDatabase(database)} SET ${settingAssignment(name, value)}`,
        change,
      );
    }
    for (const key of c.settings.keys()) {
      if (key === ROLE_SETTING || b.settings.has(key)) continue;
      const { database, name } = parseSettingKey(key);
      const quoted = name.split('.').map(escapeIdentifier).join('.');
      await this.run(`ALTER ROLE ${role}${inDatabase(database)} RESET ${quoted}`, change);
    }
    if (b.connectionLimit !== c.connectionLimit) {
      await this.run(
        `ALTER ROLE ${role} CONNECTION LIMIT ${Math.trunc(b.connectionLimit)}`,
        change,
      );
    }
    // No expiry reads as `infinity` (readLoginFacts), which is also how one is removed.
    if (b.validUntil !== c.validUntil) {
      await this.run(`ALTER ROLE ${role} VALID UNTIL ${escapeLiteral(b.validUntil)}`, change);
    }
    for (const other of c.memberOf.keys()) {
      if (other !== base && !b.memberOf.has(other)) {
        await this.run(`REVOKE ${escapeIdentifier(other)} FROM ${role}`, change);
      }
    }
  }

  /**
   * Whether two stored values of a setting mean the same, as the server reads them: each goes
   * through set_config in a savepoint that is rolled back. A value the master may not set
   * compares as text.
   */
  private async sameSetting(name: string, a: string, b: string): Promise<boolean> {
    if (a === b) return true;
    const read = async (value: string) => {
      await this.run('SAVEPOINT rotation_setting');
      try {
        const result = await this.run(
          'SELECT pg_catalog.set_config($1, $2, true) AS v',
          undefined,
          [name, value],
        );
        return String(result.rows[0]?.v);
      } catch {
        return value;
      } finally {
        await this.run('ROLLBACK TO SAVEPOINT rotation_setting');
      }
    };
    return (await read(a)) === (await read(b));
  }

  /**
   * Before PostgreSQL 10 the server does not recognise a SCRAM verifier: it would store the one
   * sent as if it were the password itself (hashed with MD5), and the user could no longer log in
   * with its password. Refused before anything changes.
   */
  private async requireScram(): Promise<void> {
    const { rows } = await this.run(
      "SELECT current_setting('server_version_num')::int AS num, current_setting('server_version') AS version",
    );
    const row = rows[0] as { num: number; version: string } | undefined;
    if (row && row.num < MIN_SERVER_VERSION_NUM) {
      throw new UnsupportedServerError(
        `PostgreSQL ${row.version} at ${this.settings.host}:${this.settings.port} is older than 10: it would store the SCRAM-SHA-256 verifier these functions send as if it were the password, locking the user out. Nothing was changed. These functions support PostgreSQL 10 and later (every version RDS still runs).`,
      );
    }
  }

  /** Preflight's read-only checks (postgresql-inspect.ts). */
  public inspect(request: InspectionRequest): Promise<SessionInspection> {
    return inspectPostgres(this.client, this.settings, request, (users) =>
      this.compareAlternatingUsers(users),
    );
  }

  public async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }

  private async roleExists(name: string): Promise<boolean> {
    const result = await this.run('SELECT 1 FROM pg_roles WHERE rolname = $1', undefined, [name]);
    return result.rowCount === 1;
  }

  private async isMember(member: string, role: string): Promise<boolean> {
    const result = await this.run(
      `SELECT 1 FROM pg_auth_members m
         JOIN pg_roles r ON r.oid = m.roleid
         JOIN pg_roles u ON u.oid = m.member
        WHERE r.rolname = $1 AND u.rolname = $2`,
      undefined,
      [role, member],
    );
    return (result.rowCount ?? 0) > 0;
  }

  /**
   * Runs a statement, with `values` for its `$n` parameters. The statement text is never put in
   * an error: it may hold a password verifier. A privilege error gets the hint PostgreSQL 16's
   * stricter rules call for; a lost connection is a DatabaseUnreachableError, whichever statement
   * it happens in.
   */
  private async run(
    sql: string,
    change?: AlternatingUsersChange,
    values?: unknown[],
  ): Promise<QueryResult> {
    try {
      return await this.client.query(sql, values);
    } catch (error) {
      const verb = sql.split(' ', 2).join(' ');
      if (error instanceof DatabaseError) {
        const parameter = /permission denied to set parameter "([^"]+)"/.exec(error.message)?.[1];
        const hint =
          error.code === '42501' && change && parameter
            ? ` The base user "${change.baseUsername}" has a setting of "${parameter}" that only a superuser (or a holder of SET on it) may give to a role, and the clone needs it too: as a superuser, GRANT SET ON PARAMETER ${escapeIdentifier(parameter)} TO "${this.settings.username}" (PostgreSQL 15 and later), or set it on "${change.cloneUsername}" by hand.`
            : error.code === '42501' && change
              ? ` The master user "${this.settings.username}" needs CREATEROLE, and on PostgreSQL 16 and later ADMIN OPTION on "${change.baseUsername}" (as a superuser: GRANT "${change.baseUsername}" TO "${this.settings.username}" WITH ADMIN OPTION).`
              : '';
        throw new DatabaseStatementError(
          `PostgreSQL refused ${verb} as user "${this.settings.username}": ${error.message} (SQLSTATE ${error.code}).${hint}`,
          { cause: error },
        );
      }
      throw new DatabaseUnreachableError(
        `Lost the PostgreSQL connection to ${this.settings.host}:${this.settings.port} during ${verb}`,
        { cause: error },
      );
    }
  }
}

/** PostgreSQL 10: the first to recognise a SCRAM-SHA-256 verifier given as a password. */
const MIN_SERVER_VERSION_NUM = 100_000;

/**
 * The SCRAM-SHA-256 verifier PostgreSQL itself would store for `password` (RFC 5802/7677, as in
 * PostgreSQL's scram_build_secret), so only the verifier, never the password, is in the SQL text
 * the server parses and may log (log_statement = 'ddl' logs ALTER ROLE verbatim).
 */
export function scramSha256Verifier(
  password: string,
  iterations = 4096,
  salt = randomBytes(16),
): string {
  let normalized = password;
  try {
    normalized = saslprep(password);
  } catch {
    // PostgreSQL uses the password as it is when SASLprep refuses it.
  }
  const salted = pbkdf2Sync(normalized, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
