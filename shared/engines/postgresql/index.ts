import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import saslprep from '@mongodb-js/saslprep';
import { Client, DatabaseError, escapeIdentifier, escapeLiteral, type QueryResult } from 'pg';
import {
  CredentialsRejectedError,
  DatabaseStatementError,
  DatabaseUnreachableError,
  IdleUserDisabledError,
  isErrorLike,
  type RotationError,
  UnboundPairError,
  UnsupportedServerError,
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
import { inspectPostgres } from './inspect';
import { readOwnRights } from './own-rights';
import {
  ATTRIBUTES,
  type Attribute,
  expectedRoleSettings,
  type Grant,
  type LoginFacts,
  type PgRun,
  parseSettingKey,
  readHolders,
  readHoldings,
  readLoginFacts,
  settingAssignment,
  settingKey,
} from './rights';

/**
 * PostgreSQL and Aurora PostgreSQL through `pg`.
 *
 * Alternating users' rights model (postgresql/rights.ts, README "The rights contract —
 * PostgreSQL"): the clone is a member of the base (INHERIT TRUE, SET TRUE, no ADMIN OPTION) and
 * becomes at login the role the base becomes (the base itself, or the role its own `role` setting
 * names, per role and database). Compared and levelled from the base to the clone: the attributes
 * SUPERUSER, CREATEDB, CREATEROLE, REPLICATION, BYPASSRLS (INHERIT: the clone always has it; LOGIN:
 * both); every setting of the base (per role, and per role and database); CONNECTION LIMIT and
 * VALID UNTIL; memberships of the clone's own (revoked); what the clone owns or was granted directly
 * (REASSIGN OWNED to the base, then DROP OWNED, in the connected database and for shared objects;
 * in other databases only reported). Refused before anything changes: a clone anyone but the master
 * (or a superuser) is a member of (UnboundPairError), and an idle user that is NOLOGIN, CONNECTION
 * LIMIT 0 or expired where the live one is not (IdleUserDisabledError).
 *
 * Excluded: privileges the base has (the clone uses them as the base, whatever they are); pg_hba.conf
 * (no catalog shows per-user rules); `ALTER DATABASE … SET` and `ALTER ROLE ALL … SET`, which apply
 * to both alike (but a `role` set there is not modelled: the base would become that role, the clone,
 * whose own `role` setting takes precedence, would not); members of the base; the clone's holdings
 * in other databases than the connected one, which are only reported; a narrower CONNECTION LIMIT
 * (not 0) or a future VALID UNTIL of the idle base, which is copied onto the live clone.
 */
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
    // Names resolve in pg_catalog only: a user's own search_path (a role setting) could put its
    // own functions before the catalog's and make this session's queries answer what it likes.
    options: '-c search_path=pg_catalog,pg_temp',
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
    // A `role` setting (ALTER ROLE … SET role) makes the session another role at login, and
    // CURRENT_USER would then change that role's password (an alternating-users clone becomes its
    // base, the live user). Back to the login role, and check that it is the secret's user.
    await this.run('SET ROLE NONE');
    const who = (await this.run('SELECT session_user AS s, current_user AS c')).rows[0] as
      | { s: string; c: string }
      | undefined;
    if (who?.s !== this.settings.username || who.c !== who.s) {
      throw new DatabaseStatementError(
        `PostgreSQL: the session for "${this.settings.username}" runs as "${who?.c}" (login role "${who?.s}"), so its password was not changed`,
      );
    }
    await this.run(
      `ALTER ROLE CURRENT_USER WITH PASSWORD ${escapeLiteral(scramSha256Verifier(newPassword))}`,
    );
    return 'changed';
  }

  /**
   * The model (see postgresql/rights.ts): the base user owns everything. The clone is a member of
   * the base role and every session it opens runs `SET ROLE` to the base, or to the role the
   * base's own `role` setting makes it (a per-role default), so both act alike: same privileges,
   * whatever is granted to the base later, and objects either creates have the same owner. What
   * SET ROLE does not carry over (attributes, login settings, what the clone holds of its own) is
   * levelled on every call, so a retried setSecret levels again whatever changed in between.
   *
   * Refuses first, changing nothing: a missing base user, a clone someone else holds
   * (UnboundPairError), an idle user disabled where the live one is not (IdleUserDisabledError).
   * Then all of it runs in one transaction, ending with a comparison: whatever the master could not
   * level rolls it all back, with the statements that would.
   */
  public async applyAlternatingUsers(change: AlternatingUsersChange): Promise<void> {
    const { baseUsername, cloneUsername } = change;
    const clone = escapeIdentifier(cloneUsername);
    const verifier = escapeLiteral(scramSha256Verifier(change.password));
    await this.requireScram();
    await this.run('BEGIN');
    try {
      if (!(await this.roleExists(baseUsername))) {
        throw new DatabaseStatementError(
          `PostgreSQL role "${baseUsername}" does not exist on ${this.settings.host}; alternating users start from an existing base user`,
        );
      }
      await this.requireBound(cloneUsername);
      await this.requireIdleEnabled(change);
      const cloneExists = await this.roleExists(cloneUsername);
      if (!cloneExists) {
        await this.run(`CREATE ROLE ${clone} WITH LOGIN INHERIT PASSWORD ${verifier}`, change);
      }
      if (cloneExists || change.target !== cloneUsername) {
        const target = escapeIdentifier(change.target);
        await this.run(`ALTER ROLE ${target} WITH LOGIN PASSWORD ${verifier}`, change);
      }
      await this.levelClone(change);
      const differences = await this.differences(baseUsername, cloneUsername);
      if (differences.length > 0) {
        throw new DatabaseStatementError(
          `Could not make "${cloneUsername}" able to do exactly what "${baseUsername}" can, so nothing was changed: ${differences.join('; ')}`,
        );
      }
      await this.run('COMMIT');
    } catch (error) {
      await this.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /**
   * What applyAlternatingUsers refuses before it changes anything (an unbound clone, a disabled
   * idle user), read in a transaction that is rolled back; changes nothing.
   */
  public async checkAlternatingUsers(change: AlternatingUsersChange): Promise<void> {
    await this.run('BEGIN');
    try {
      if (!(await this.roleExists(change.baseUsername))) return;
      await this.requireBound(change.cloneUsername);
      await this.requireIdleEnabled(change);
    } finally {
      await this.run('ROLLBACK').catch(() => undefined);
    }
  }

  /**
   * Run as the master: what differs between the two users (postgresql/rights.ts): the clone's
   * membership of the base and its switch to it, role attributes, each setting of the base (per
   * role, and per role and database), CONNECTION LIMIT, VALID UNTIL and LOGIN, memberships of the
   * clone's own, and what it owns or was granted directly, in every database. Throws
   * UnboundPairError when someone else holds the clone. Read in a transaction that is rolled back
   * (values are compared as the server reads them, through set_config, so `64MB` equals `65536`).
   */
  public async compareAlternatingUsers(users: AlternatingUsers): Promise<string[]> {
    await this.run('BEGIN');
    try {
      await this.requireBound(users.cloneUsername);
      return await this.differences(users.baseUsername, users.cloneUsername);
    } finally {
      await this.run('ROLLBACK').catch(() => undefined);
    }
  }

  private facts(roles: string[]): Promise<Map<string, LoginFacts>> {
    return readLoginFacts((sql, values) => this.run(sql, undefined, values), roles);
  }

  private get query(): PgRun {
    return (sql, values) => this.run(sql, undefined, values);
  }

  /**
   * UnboundPairError when a role other than the master (or a superuser) is a member of the clone,
   * above all with ADMIN OPTION (what PostgreSQL 16 and later give a CREATEROLE role on a role it
   * creates): it could reset the clone's password, or act as it, and through it as the base once
   * the clone is a member of it.
   */
  private async requireBound(cloneUsername: string): Promise<void> {
    // A master that is one of the pair is refused before this (locateMaster, in the strategy).
    const holders = await readHolders(this.query, cloneUsername);
    if (holders.length === 0) return;
    const since16 = (await this.serverVersion()) >= 160_000;
    const clone = escapeIdentifier(cloneUsername);
    const who = holders.map(
      (h) =>
        `"${h.member}" ${h.admin ? 'holds ADMIN OPTION on' : 'is a member of'} "${cloneUsername}"${h.grantor ? ` (granted by "${h.grantor}")` : ''}`,
    );
    const revokes = holders.map(
      (h) =>
        `REVOKE ${clone} FROM ${escapeIdentifier(h.member)}${since16 && h.grantor ? ` GRANTED BY ${escapeIdentifier(h.grantor)}` : ''}`,
    );
    throw new UnboundPairError(
      `PostgreSQL role "${cloneUsername}" is not bound to its base user's secret: ${who.join('; ')}. Such a role could change its password or act as it, and through it as the base user once the clone is a member of it, so the master will not give it a password or rights. Nothing was changed. If that role should not hold the clone, as a superuser: ${revokes.join('; ')}; then rotate again.`,
    );
  }

  /**
   * IdleUserDisabledError when the target exists and cannot log in where the live user can
   * (NOLOGIN, CONNECTION LIMIT 0, VALID UNTIL past): levelling would copy that onto the live
   * clone, or promote a user that cannot log in.
   */
  private async requireIdleEnabled(change: AlternatingUsersChange): Promise<void> {
    const live = change.target === change.baseUsername ? change.cloneUsername : change.baseUsername;
    const facts = await this.facts([change.target, live]);
    const idle = facts.get(change.target);
    const other = facts.get(live);
    if (!idle || !other) return;
    const role = escapeIdentifier(change.target);
    const states: [string, string][] = [];
    if (!idle.canLogin && other.canLogin) states.push(['NOLOGIN', `ALTER ROLE ${role} LOGIN`]);
    if (idle.connectionLimit === 0 && other.connectionLimit !== 0) {
      states.push([
        'CONNECTION LIMIT 0',
        `ALTER ROLE ${role} CONNECTION LIMIT ${Math.trunc(other.connectionLimit)}`,
      ]);
    }
    if (idle.expired && !other.expired) {
      states.push([
        `VALID UNTIL ${idle.validUntil}, in the past`,
        `ALTER ROLE ${role} VALID UNTIL ${escapeLiteral(other.validUntil)}`,
      ]);
    }
    if (states.length === 0) return;
    const consequence =
      change.target === change.baseUsername
        ? `levelling would copy that onto "${live}", which AWSCURRENT names, and no version of the secret would log in`
        : `it would be promoted while it cannot log in`;
    throw new IdleUserDisabledError(
      `PostgreSQL role "${change.target}", the idle user this rotation would give the new password, has ${states.map(([s]) => s).join(' and ')}, which "${live}" (the live user) has not: ${consequence}. Nothing was changed. If "${change.target}" should log in again, as the master: ${states.map(([, fix]) => fix).join('; ')}; then rotate again.`,
    );
  }

  /** The `role` setting the clone must have in each database, from the base's (postgresql/rights.ts). */
  private async roleSettings(base: string, b: LoginFacts): Promise<Map<string, string>> {
    const named = [...b.settings]
      .filter(([key]) => parseSettingKey(key).name === 'role')
      .map(([, value]) => value);
    const privilege = (await this.serverVersion()) >= 160_000 ? 'SET' : 'MEMBER';
    const { rows } = await this.run(
      `SELECT r.rolname FROM pg_catalog.pg_roles r
        WHERE r.rolname = ANY($2::text[]) AND pg_catalog.pg_has_role($1::name, r.oid, $3)`,
      undefined,
      [base, named, privilege],
    );
    return expectedRoleSettings(base, b.settings, new Set(rows.map((row) => String(row.rolname))));
  }

  private async differences(base: string, clone: string): Promise<string[]> {
    const facts = await this.facts([base, clone]);
    const b = facts.get(base);
    const c = facts.get(clone);
    if (!b || !c) return [];
    const since16 = (await this.serverVersion()) >= 160_000;
    const names = { base: `"${base}"`, clone: `"${clone}"` };
    const differences: string[] = [];
    const grants = c.memberOf.get(base);
    if (!grants) {
      differences.push(`${names.clone} is not a member of ${names.base}, so it cannot act as it`);
    } else {
      if (!grants.some((g) => g.set)) {
        differences.push(
          `${names.clone} may not SET ROLE to ${names.base} (its membership has SET FALSE)`,
        );
      }
      if (!grants.some((g) => g.inherit)) {
        differences.push(
          `${names.clone} does not inherit the privileges of ${names.base} after SET ROLE NONE (its membership has INHERIT FALSE)`,
        );
      }
      for (const grant of grants.filter((g) => g.admin)) {
        differences.push(
          `${names.clone} holds ADMIN OPTION on ${names.base}, so it could grant it to others (${revokeAdmin(base, clone, grant, since16)})`,
        );
      }
    }
    for (const role of c.memberOf.keys()) {
      if (role !== base && !b.memberOf.has(role)) {
        differences.push(`${names.clone} is a member of "${role}" (${names.base} is not)`);
      }
    }
    for (const [keyword, has] of ATTRIBUTES.map(
      ([, k]) => [k, [b.attributes.has(k), c.attributes.has(k)]] as const,
    )) {
      if (has[0] !== has[1]) {
        differences.push(
          has[0]
            ? `${names.clone} lacks ${keyword} (${names.base} has it)`
            : `${names.clone} has ${keyword} (${names.base} does not)`,
        );
      }
    }
    if (!c.inherit) {
      differences.push(
        `${names.clone} lacks INHERIT, so after SET ROLE NONE it has none of the privileges of ${names.base} (the clone always inherits from the base alone)`,
      );
    }
    if (b.canLogin !== c.canLogin) {
      differences.push(
        `${c.canLogin ? names.clone : names.base} can log in (LOGIN) and ${c.canLogin ? names.base : names.clone} cannot`,
      );
    }
    const roles = await this.roleSettings(base, b);
    for (const database of new Set([
      ...roles.keys(),
      ...[...c.settings.keys()]
        .map(parseSettingKey)
        .filter((k) => k.name === 'role')
        .map((k) => k.database),
    ])) {
      const want = roles.get(database);
      const have = c.settings.get(settingKey(database, 'role'));
      const where = database === '' ? '' : ` in database "${database}"`;
      if (want === undefined) {
        differences.push(
          `${names.clone} has setting role=${have}${where} (${names.base} does not)`,
        );
      } else if (have !== want) {
        differences.push(
          `${names.clone} does not become "${want}" at login${where} as ${names.base} does (ALTER ROLE … SET role)`,
        );
      }
    }
    const keys = new Set([...b.settings.keys(), ...c.settings.keys()]);
    for (const key of keys) {
      const { database, name } = parseSettingKey(key);
      if (name === 'role') continue;
      const want = b.settings.get(key);
      const have = c.settings.get(key);
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
    const fix = `REASSIGN OWNED BY ${escapeIdentifier(clone)} TO ${escapeIdentifier(base)}; DROP OWNED BY ${escapeIdentifier(clone)}`;
    for (const h of await readHoldings(this.query, clone)) {
      const where =
        h.database === ''
          ? 'shared objects (databases, tablespaces, parameters)'
          : `objects in database "${h.database}"`;
      const run = h.database === '' ? 'in any database' : `in database "${h.database}"`;
      differences.push(
        h.kind === 'owns'
          ? `${names.clone} owns ${h.count} ${where}, which after SET ROLE NONE it may use and alter as their owner (${names.base} owns them not); as a superuser or a member of both, ${run}: ${fix}`
          : `${names.clone} holds privileges granted directly to it (or is named in row security policies) on ${h.count} ${where}, which ${names.base} may not have; as a superuser or a member of ${names.clone}, ${run}: DROP OWNED BY ${escapeIdentifier(clone)} (once it owns nothing there, this only revokes)`,
      );
    }
    return differences;
  }

  /**
   * Makes the clone's facts the base's (in the caller's transaction). What the master may not do
   * (REVOKE of a grant someone else made, REASSIGN OWNED without the privileges of both roles) is
   * tried in a savepoint and left for the comparison that follows to report.
   */
  private async levelClone(change: AlternatingUsersChange): Promise<void> {
    const { baseUsername: base, cloneUsername: clone } = change;
    const facts = await this.facts([base, clone]);
    const b = facts.get(base);
    const c = facts.get(clone);
    if (!b || !c) return;
    const since16 = (await this.serverVersion()) >= 160_000;
    const role = escapeIdentifier(clone);
    const inDatabase = (database: string) =>
      database === '' ? '' : ` IN DATABASE ${escapeIdentifier(database)}`;
    // Before 16, every membership may SET ROLE and rolinherit alone decides inheritance.
    const grants = c.memberOf.get(base);
    if (!(grants?.some((g) => g.set) && grants.some((g) => g.inherit))) {
      await this.run(
        `GRANT ${escapeIdentifier(base)} TO ${role}${since16 ? ' WITH INHERIT TRUE, SET TRUE' : ''}`,
        change,
      );
    }
    if (!c.inherit) await this.run(`ALTER ROLE ${role} INHERIT`, change);
    for (const grant of (grants ?? []).filter((g) => g.admin)) {
      await this.tryRun(revokeAdmin(base, clone, grant, since16));
    }
    for (const [keyword, column] of ATTRIBUTES.map(([col, k]) => [k, col] as const)) {
      const want = b.attributes.has(keyword);
      if (want === c.attributes.has(keyword)) continue;
      await this.run(
        `ALTER ROLE ${role} ${want ? '' : 'NO'}${keyword}`,
        change,
        undefined,
        attributeHint(change, this.settings.username, keyword, want, column),
      );
    }
    const roles = await this.roleSettings(base, b);
    for (const [database, value] of roles) {
      if (c.settings.get(settingKey(database, 'role')) === value) continue;
      await this.run(
        `ALTER ROLE ${role}${inDatabase(database)} SET role TO ${escapeLiteral(value)}`,
        change,
      );
    }
    for (const [key, value] of b.settings) {
      const { database, name } = parseSettingKey(key);
      if (name === 'role') continue;
      const have = c.settings.get(key);
      if (have !== undefined && (await this.sameSetting(name, value, have))) continue;
      await this.run(
        `ALTER ROLE ${role}${inDatabase(database)} SET ${settingAssignment(name, value)}`,
        change,
      );
    }
    for (const key of c.settings.keys()) {
      const { database, name } = parseSettingKey(key);
      if (name === 'role' ? roles.has(database) : b.settings.has(key)) continue;
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
    for (const [other, otherGrants] of c.memberOf) {
      if (other === base || b.memberOf.has(other)) continue;
      for (const grant of otherGrants) {
        await this.tryRun(
          `REVOKE ${escapeIdentifier(other)} FROM ${role}${grantedBy(grant, since16)}`,
        );
      }
    }
    await this.levelHoldings(base, clone);
  }

  /**
   * In the connected database (and for shared objects): what the clone owns goes to the base
   * (REASSIGN OWNED), then DROP OWNED revokes what was granted to it directly. Both need the
   * privileges of the roles (a superuser, or a member that inherits them); a master without them
   * leaves the holdings for the comparison to report. DROP OWNED runs only once the clone owns
   * nothing here, so it never drops an object.
   */
  private async levelHoldings(base: string, clone: string): Promise<void> {
    const { rows } = await this.run('SELECT current_database() AS db');
    const here = String(rows[0]?.db);
    const local = async () =>
      (await readHoldings(this.query, clone)).filter(
        (h) => h.database === here || h.database === '',
      );
    const before = await local();
    if (before.length === 0) return;
    if (before.some((h) => h.kind === 'owns')) {
      await this.tryRun(
        `REASSIGN OWNED BY ${escapeIdentifier(clone)} TO ${escapeIdentifier(base)}`,
      );
    }
    if (!(await local()).some((h) => h.kind === 'owns')) {
      await this.tryRun(`DROP OWNED BY ${escapeIdentifier(clone)}`);
    }
  }

  /** Runs a statement in a savepoint; false (and nothing changed) when the server refuses it. */
  private async tryRun(sql: string): Promise<boolean> {
    await this.run('SAVEPOINT rotation_level');
    try {
      await this.client.query(sql);
      await this.run('RELEASE SAVEPOINT rotation_level');
      return true;
    } catch (error) {
      if (!(error instanceof DatabaseError)) throw this.lost(sql, error);
      await this.run('ROLLBACK TO SAVEPOINT rotation_level');
      return false;
    }
  }

  private versionNum: number | undefined;

  private async serverVersion(): Promise<number> {
    if (this.versionNum === undefined) {
      const { rows } = await this.run("SELECT current_setting('server_version_num')::int AS num");
      this.versionNum = Number(rows[0]?.num);
    }
    return this.versionNum;
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

  /** Preflight's read-only checks (postgresql/inspect.ts). */
  public inspect(request: InspectionRequest): Promise<SessionInspection> {
    return inspectPostgres(this.client, this.settings, request, (users) =>
      this.compareAlternatingUsers(users),
    );
  }

  /** Pair mode's parity check: see postgresql/own-rights.ts. */
  public async ownRights(pair: { partner: string }): Promise<OwnRights> {
    return readOwnRights((sql, values) => this.run(sql, undefined, values), pair.partner);
  }

  public async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }

  private async roleExists(name: string): Promise<boolean> {
    const result = await this.run('SELECT 1 FROM pg_roles WHERE rolname = $1', undefined, [name]);
    return result.rowCount === 1;
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
    refusedHint?: string,
  ): Promise<QueryResult> {
    try {
      return await this.client.query(sql, values);
    } catch (error) {
      const verb = sql.split(' ', 2).join(' ');
      if (error instanceof DatabaseError) {
        const parameter = /permission denied to set parameter "([^"]+)"/.exec(error.message)?.[1];
        const master = this.settings.username;
        const hint =
          error.code !== '42501' || !change
            ? ''
            : refusedHint
              ? ` ${refusedHint}`
              : parameter
                ? ` The base user "${change.baseUsername}" has a setting of "${parameter}" that only a superuser (or a holder of SET on it) may give to a role, and the clone needs it too: as a superuser, GRANT SET ON PARAMETER ${escapeIdentifier(parameter)} TO "${master}" (PostgreSQL 15 and later), or set it on "${change.cloneUsername}" by hand.`
                : /superuser/.test(error.message)
                  ? ` Only a superuser may alter a SUPERUSER role (and, before PostgreSQL 16, a REPLICATION role or the REPLICATION and BYPASSRLS attributes): the master user "${master}" must be a superuser for "${change.baseUsername}" and "${change.cloneUsername}".`
                  : ` The master user "${master}" needs CREATEROLE, and on PostgreSQL 16 and later ADMIN OPTION on "${change.baseUsername}" (as a superuser: GRANT "${change.baseUsername}" TO "${master}" WITH ADMIN OPTION).`;
        throw new DatabaseStatementError(
          `PostgreSQL refused ${verb} as user "${master}": ${error.message} (SQLSTATE ${error.code}).${hint}`,
          { cause: error },
        );
      }
      throw this.lost(sql, error);
    }
  }

  private lost(sql: string, error: unknown): DatabaseUnreachableError {
    return new DatabaseUnreachableError(
      `Lost the PostgreSQL connection to ${this.settings.host}:${this.settings.port} during ${sql.split(' ', 2).join(' ')}`,
      { cause: error },
    );
  }
}

/** ` GRANTED BY grantor` where PostgreSQL 16 and later keep one grant per grantor. */
function grantedBy(grant: Grant, since16: boolean): string {
  return since16 && grant.grantor ? ` GRANTED BY ${escapeIdentifier(grant.grantor)}` : '';
}

function revokeAdmin(base: string, clone: string, grant: Grant, since16: boolean): string {
  return `REVOKE ADMIN OPTION FOR ${escapeIdentifier(base)} FROM ${escapeIdentifier(clone)}${grantedBy(grant, since16)}`;
}

/** What the master needs to give or take an attribute, for the error when it may not. */
function attributeHint(
  change: AlternatingUsersChange,
  master: string,
  keyword: Attribute,
  give: boolean,
  column: string,
): string {
  const needs =
    keyword === 'SUPERUSER'
      ? 'only a superuser may'
      : keyword === 'REPLICATION' || keyword === 'BYPASSRLS'
        ? `on PostgreSQL 15 only a superuser may; on 16 and later a role with CREATEROLE, ADMIN OPTION on "${change.cloneUsername}" and ${keyword} itself`
        : keyword === 'CREATEDB'
          ? `it needs CREATEROLE, and on PostgreSQL 16 and later ADMIN OPTION on "${change.cloneUsername}" and CREATEDB itself`
          : `it needs CREATEROLE, and on PostgreSQL 16 and later ADMIN OPTION on "${change.cloneUsername}"`;
  return `"${change.baseUsername}" ${give ? 'has' : 'does not have'} ${keyword} (pg_roles.${column}) and "${change.cloneUsername}" must match it, but the master user "${master}" may not ${give ? 'give' : 'take away'} ${keyword}: ${needs}. Make the master a superuser, or as a superuser: ALTER ROLE ${escapeIdentifier(change.cloneUsername)} ${give ? '' : 'NO'}${keyword}; nothing was changed.`;
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
