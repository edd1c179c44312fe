/**
 * What a MySQL or MariaDB account may do, as the server reports it, and the statements that make
 * one account's rights equal to another's.
 *
 * The model compares effective rights, never grant text: `ALL PRIVILEGES` printed by SHOW GRANTS
 * is read back as the privileges the server really stored for that level (information_schema
 * lists them one by one), so `ALL` on one account and the same privileges listed on the other are
 * equal, and a privilege revoked from an `ALL` is seen as missing. GRANT OPTION is kept per level
 * for static privileges (one flag per level, as the server stores it) and per privilege for
 * MySQL's dynamic privileges; roles keep their ADMIN OPTION; default roles and the account's
 * options (REQUIRE, resource limits, ACCOUNT LOCK, password policy) are compared too, and so are
 * PROXY grants (mysql.proxies_priv, with their GRANT OPTION) and MySQL's partial revokes (the
 * `Restrictions` of mysql.user's User_attributes, MySQL 8.0.16+ with partial_revokes=ON).
 *
 * Each column is read only from the server version that has it (mysql/server.ts): MySQL 8.0.3's
 * password reuse, 8.0.13's PASSWORD REQUIRE CURRENT, 8.0.16's partial revokes, 8.0.19's failed
 * login tracking; an option a server does not have is neither compared nor set.
 *
 * Not in the model: the authentication method and password (set by the rotation, not copied),
 * comments and user attributes (MySQL's COMMENT/ATTRIBUTE), MySQL's multi-factor authentication,
 * whether the password is expired now (the new password clears it), temporary locks after failed
 * logins (runtime state), and object ownership (DEFINER, which names the base user).
 */
import mysql2 from 'mysql2/promise';
import {
  hasFailedLoginTracking,
  hasPartialRevokes,
  hasPasswordReuse,
  hasRequireCurrent,
  type ServerInfo,
} from './server';

/** One thing an account holds. `label` names it and is unique within an account's rights. */
export type Right =
  | { kind: 'privilege'; label: string; object: string; privilege: string; dynamic: boolean }
  | { kind: 'grant-option'; label: string; object: string }
  | { kind: 'dynamic-grant-option'; label: string; privilege: string }
  | { kind: 'role'; label: string; role: string }
  | { kind: 'role-admin'; label: string; role: string }
  | { kind: 'default-roles'; label: string; roles: string[] }
  | { kind: 'options'; label: string; options: string }
  /** MySQL's partial revoke: `privilege` held on `*.*` but not in `database`. */
  | { kind: 'restriction'; label: string; database: string; privilege: string }
  /** PROXY on `account` (`'user'@'host'`), and its GRANT OPTION. */
  | { kind: 'proxy'; label: string; account: string }
  | { kind: 'proxy-grant'; label: string; account: string }
  /**
   * MySQL: a dynamic privilege, or its grant option, that the running server applies and
   * mysql.global_grants does not hold, or the other way round. No statement gives or takes it
   * reliably; FLUSH PRIVILEGES makes the server apply the table again.
   */
  | { kind: 'stale'; label: string; privilege: string };

/** An account's rights, by label. */
export type AccountRights = Map<string, Right>;

type Row = Record<string, unknown>;

/** What reading rights needs of a session: running a statement, and which server it is. */
export interface RightsReader {
  run(sql: string, verb?: string): Promise<Row[]>;
}

const literal = (value: string) => mysql2.escape(value);
/** An identifier quoted whole: a name holding a dot stays one name (never `db`.`table`). */
export const quoteName = (value: string) => mysql2.escapeId(value, true);
/** `'user'@'host'`, each part a string literal (valid wherever an account or role is named). */
export const accountName = (user: string, host: string) => `${literal(user)}@${literal(host)}`;

function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

function privilege(object: string, name: string, dynamic = false): Right {
  return { kind: 'privilege', label: `${name} ON ${object}`, object, privilege: name, dynamic };
}

function grantOption(object: string): Right {
  return { kind: 'grant-option', label: `GRANT OPTION ON ${object}`, object };
}

/** The GRANT syntax of an object: `*.*`, `` `db`.* ``, `` `db`.`t` ``, `` PROCEDURE `db`.`p` ``. */
function databaseObject(db: string): string {
  return `${quoteName(db)}.*`;
}
function tableObject(db: string, table: string): string {
  return `${quoteName(db)}.${quoteName(table)}`;
}

/** An account: a user at a host. */
export interface Account {
  user: string;
  host: string;
}

/** The `'user'@'host'` form information_schema names a grantee by (quotes not escaped). */
const granteeOf = ({ user, host }: Account) => `'${user}'@'${host}'`;

/**
 * Reads the rights of each account, in three statements whatever their number: one over
 * information_schema's privilege views, one over the `mysql` schema's tables (GRANT OPTION flags,
 * routines, dynamic privileges, roles, default roles), and one for the account options. The
 * session's user needs SELECT on the `mysql` schema (which also lets information_schema show other
 * accounts' privileges). Each column is converted to one character set, as the tables differ.
 */
export async function readRights(
  session: RightsReader,
  info: ServerInfo,
  accounts: readonly Account[],
): Promise<AccountRights[]> {
  const flavor = info.flavor;
  const found = new Map(accounts.map((account) => [granteeOf(account), [] as Right[]]));
  const add = (grantee: string, right: Right) => found.get(grantee)?.push(right);
  const c = (column: string) => `CONVERT(${column} USING utf8mb4)`;
  const grantees = accounts.map((account) => literal(granteeOf(account))).join(', ');
  const pairs = accounts.map(({ user, host }) => `(${literal(user)}, ${literal(host)})`).join(', ');
  const byAccount = (userColumn: string, hostColumn: string) =>
    `(${userColumn}, ${hostColumn}) IN (${pairs})`;
  const view = (source: string, db: string, table: string, column: string, from: string) =>
    `SELECT '${source}' AS src, ${c('GRANTEE')} AS g, ${c(db)} AS a, ${c(table)} AS b, ${c(column)} AS c, ${c('PRIVILEGE_TYPE')} AS p, ${c('IS_GRANTABLE')} AS o FROM information_schema.${from} WHERE GRANTEE IN (${grantees})`;
  const views = await session.run(
    [
      view('global', "''", "''", "''", 'USER_PRIVILEGES'),
      view('database', 'TABLE_SCHEMA', "''", "''", 'SCHEMA_PRIVILEGES'),
      view('table', 'TABLE_SCHEMA', 'TABLE_NAME', "''", 'TABLE_PRIVILEGES'),
      view('column', 'TABLE_SCHEMA', 'TABLE_NAME', 'COLUMN_NAME', 'COLUMN_PRIVILEGES'),
    ].join(' UNION ALL '),
    'SELECT information_schema privileges',
  );
  const table = (source: string, columns: string[], from: string, where: string) =>
    `SELECT '${source}' AS src, ${columns.map((column, n) => `${c(column)} AS ${'uhabcd'[n]}`).join(', ')} FROM mysql.${from} WHERE ${where}`;
  const mine = byAccount('User', 'Host');
  const tables = [
    // GRANT OPTION of static privileges is one flag per level; information_schema repeats it on
    // every privilege of the level and omits it where the level holds nothing else.
    table('global-grant', ['User', 'Host', 'Grant_priv', "''", "''", "''"], 'user', mine),
    table(
      'database-grant',
      ['User', 'Host', 'Db', "''", "''", "''"],
      'db',
      `${mine} AND Grant_priv = 'Y'`,
    ),
    table(
      'table-grant',
      ['User', 'Host', 'Db', 'Table_name', "''", "''"],
      'tables_priv',
      `${mine} AND FIND_IN_SET('Grant', Table_priv) > 0`,
    ),
    // Routines are in no information_schema view. Proc_priv is a SET of the server's own names
    // ('Execute', 'Alter Routine', 'Grant'), which are the privileges' names in GRANT.
    table(
      'routine',
      ['User', 'Host', 'Db', 'Routine_name', 'Routine_type', 'Proc_priv'],
      'procs_priv',
      mine,
    ),
  ];
  if (flavor === 'mysql') {
    tables.push(
      table(
        'dynamic',
        ['USER', 'HOST', 'PRIV', 'WITH_GRANT_OPTION', "''", "''"],
        'global_grants',
        byAccount('USER', 'HOST'),
      ),
      table(
        'role',
        ['TO_USER', 'TO_HOST', 'FROM_USER', 'FROM_HOST', 'WITH_ADMIN_OPTION', "''"],
        'role_edges',
        byAccount('TO_USER', 'TO_HOST'),
      ),
      table(
        'default-role',
        ['USER', 'HOST', 'DEFAULT_ROLE_USER', 'DEFAULT_ROLE_HOST', "''", "''"],
        'default_roles',
        byAccount('USER', 'HOST'),
      ),
    );
  } else {
    tables.push(
      table('role', ['User', 'Host', 'Role', "''", 'Admin_option', "''"], 'roles_mapping', mine),
      table(
        'default-role',
        ['User', 'Host', 'default_role', "''", "''", "''"],
        'user',
        `${mine} AND default_role <> ''`,
      ),
    );
  }
  tables.push(
    table(
      'proxy',
      ['User', 'Host', 'Proxied_user', 'Proxied_host', 'With_grant', "''"],
      'proxies_priv',
      mine,
    ),
  );
  const rows = await session.run(tables.join(' UNION ALL '), 'SELECT mysql privileges');

  // Dynamic privileges come from mysql.global_grants (what a restart applies); the running
  // server's own list (information_schema) is compared with it, as MySQL 9.7 lets the two part.
  const dynamic = new Map<string, Map<string, boolean>>();
  for (const row of rows) {
    const grantee = granteeOf({ user: text(row.u), host: text(row.h) });
    if (text(row.src) !== 'dynamic') continue;
    const name = text(row.a).toUpperCase();
    dynamic.set(grantee, (dynamic.get(grantee) ?? new Map()).set(name, text(row.b) === 'Y'));
    add(grantee, privilege('*.*', name, true));
    if (text(row.b) === 'Y') {
      add(grantee, {
        kind: 'dynamic-grant-option',
        label: `${name} ON *.* WITH GRANT OPTION`,
        privilege: name,
      });
    }
  }
  const applied = new Map<string, Map<string, boolean>>();
  for (const row of views) {
    const grantee = text(row.g);
    const name = text(row.p).toUpperCase();
    if (name === 'USAGE') continue;
    switch (text(row.src)) {
      case 'global':
        if (flavor === 'mysql' && !STATIC_GLOBAL_PRIVILEGES.has(name)) {
          const list = applied.get(grantee) ?? new Map<string, boolean>();
          applied.set(grantee, list.set(name, list.get(name) === true || text(row.o) === 'YES'));
        } else {
          add(grantee, privilege('*.*', name));
        }
        break;
      case 'database':
        add(grantee, privilege(databaseObject(text(row.a)), name));
        break;
      case 'table':
        add(grantee, privilege(tableObject(text(row.a), text(row.b)), name));
        break;
      default:
        add(
          grantee,
          privilege(tableObject(text(row.a), text(row.b)), `${name} (${quoteName(text(row.c))})`),
        );
    }
  }
  for (const account of accounts) {
    const grantee = granteeOf(account);
    for (const right of staleDynamic(
      dynamic.get(grantee) ?? new Map(),
      applied.get(grantee) ?? new Map(),
    )) {
      add(grantee, right);
    }
  }
  const roles = new Map(accounts.map((account) => [granteeOf(account), [] as string[]]));
  const defaults = new Map(accounts.map((account) => [granteeOf(account), [] as string[]]));
  for (const row of rows) {
    const grantee = granteeOf({ user: text(row.u), host: text(row.h) });
    switch (text(row.src)) {
      case 'global-grant':
        if (text(row.a) === 'Y') add(grantee, grantOption('*.*'));
        break;
      case 'database-grant':
        add(grantee, grantOption(databaseObject(text(row.a))));
        break;
      case 'table-grant':
        add(grantee, grantOption(tableObject(text(row.a), text(row.b))));
        break;
      case 'routine': {
        const object = `${text(row.c).toUpperCase()} ${tableObject(text(row.a), text(row.b))}`;
        for (const name of text(row.d)
          .split(',')
          .filter((p) => p !== '')) {
          add(
            grantee,
            name === 'Grant' ? grantOption(object) : privilege(object, name.toUpperCase()),
          );
        }
        break;
      }
      case 'role': {
        const role =
          flavor === 'mysql' ? accountName(text(row.a), text(row.b)) : quoteName(text(row.a));
        roles.get(grantee)?.push(role);
        add(grantee, { kind: 'role', label: `role ${role}`, role });
        if (text(row.c) === 'Y') {
          add(grantee, { kind: 'role-admin', label: `role ${role} WITH ADMIN OPTION`, role });
        }
        break;
      }
      case 'default-role':
        defaults
          .get(grantee)
          ?.push(
            flavor === 'mysql' ? accountName(text(row.a), text(row.b)) : quoteName(text(row.a)),
          );
        break;
      case 'proxy': {
        const proxied = accountName(text(row.a), text(row.b));
        add(grantee, { kind: 'proxy', label: `PROXY ON ${proxied}`, account: proxied });
        if (['1', 'Y'].includes(text(row.c))) {
          add(grantee, {
            kind: 'proxy-grant',
            label: `PROXY ON ${proxied} WITH GRANT OPTION`,
            account: proxied,
          });
        }
        break;
      }
    }
  }
  const { options, restrictions } = await readOptions(session, info, pairs);
  for (const [grantee, list] of restrictions) {
    // A restriction outlives the global privilege it narrowed (REVOKE … ON *.* leaves it in
    // User_attributes); it then restricts nothing, and cannot be given to another account.
    const held = new Set((found.get(grantee) ?? []).map((r) => r.label));
    for (const right of list) {
      if (right.kind === 'restriction' && held.has(`${right.privilege} ON *.*`))
        add(grantee, right);
    }
  }
  for (const account of accounts) {
    const grantee = granteeOf(account);
    // MariaDB keeps a default role the account no longer holds (REVOKE leaves it, and SET
    // DEFAULT ROLE cannot give it to another account); a login then starts with no role, so it
    // counts as none. MySQL drops a revoked role from the default roles itself.
    const held = new Set(roles.get(grantee) ?? []);
    const list = (defaults.get(grantee) ?? [])
      .filter((role) => flavor === 'mysql' || held.has(role))
      .sort();
    add(grantee, {
      kind: 'default-roles',
      label: `default roles ${list.length > 0 ? list.join(', ') : 'NONE'}`,
      roles: list,
    });
    const text_ = options.get(grantee) ?? '';
    add(grantee, { kind: 'options', label: `account options ${text_}`, options: text_ });
  }
  return accounts.map(
    (account) =>
      new Map((found.get(granteeOf(account)) ?? []).map((right) => [right.label, right])),
  );
}

/** MySQL's static global privileges (mysql.user's columns); every other global one is dynamic. */
const STATIC_GLOBAL_PRIVILEGES = new Set([
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'CREATE',
  'DROP',
  'RELOAD',
  'SHUTDOWN',
  'PROCESS',
  'FILE',
  'REFERENCES',
  'INDEX',
  'ALTER',
  'SHOW DATABASES',
  'SUPER',
  'CREATE TEMPORARY TABLES',
  'LOCK TABLES',
  'EXECUTE',
  'REPLICATION SLAVE',
  'REPLICATION CLIENT',
  'CREATE VIEW',
  'SHOW VIEW',
  'CREATE ROUTINE',
  'ALTER ROUTINE',
  'CREATE USER',
  'EVENT',
  'TRIGGER',
  'CREATE TABLESPACE',
  'CREATE ROLE',
  'DROP ROLE',
]);

/**
 * Where the running server's dynamic privileges (name → held WITH GRANT OPTION) differ from
 * mysql.global_grants'. MySQL 9.7 parts them: `REVOKE GRANT OPTION ON *.*` while a dynamic
 * privilege is held WITH GRANT OPTION writes N to the table but leaves the option in force, and a
 * later REVOKE of the privilege leaves it in force too (only a restart or FLUSH PRIVILEGES ends
 * it). Each such privilege is a right of its own, which no grant can copy.
 */
export function staleDynamic(
  table: ReadonlyMap<string, boolean>,
  running: ReadonlyMap<string, boolean>,
): Right[] {
  const stale: Right[] = [];
  for (const name of new Set([...table.keys(), ...running.keys()])) {
    const [inTable, inServer] = [table.get(name), running.get(name)];
    if (inTable === inServer) continue;
    const held = (option: boolean | undefined) =>
      option === undefined ? 'nothing' : option ? 'it WITH GRANT OPTION' : 'it';
    stale.push({
      kind: 'stale',
      label: `${name} ON *.*: the running server applies ${held(inServer)}, mysql.global_grants holds ${held(inTable)} (FLUSH PRIVILEGES makes the server apply the table)`,
      privilege: name,
    });
  }
  return stale;
}

/**
 * Each account's options, as ALTER USER clauses, from the grant tables: REQUIRE, the resource
 * limits, the password lifetime, ACCOUNT LOCK, and MySQL's password reuse, current-password and
 * failed-login policies (each from the version that has it); and MySQL's partial revokes. Read
 * from the tables rather than SHOW CREATE USER: MySQL 9.7 keeps printing `PASSWORD EXPIRE
 * INTERVAL n DAY` after `ALTER USER … PASSWORD EXPIRE DEFAULT` until the account is reloaded,
 * while the table (what a restart applies) says DEFAULT.
 */
async function readOptions(
  session: RightsReader,
  info: ServerInfo,
  pairs: string,
): Promise<{ options: Map<string, string>; restrictions: Map<string, Right[]> }> {
  const rows = await session.run(optionsQuery(info, pairs), 'SELECT mysql.user');
  const options = new Map<string, string>();
  const restrictions = new Map<string, Right[]>();
  for (const row of rows) {
    const number = (value: unknown) => Number(text(value) || 0);
    const lifetime = text(row.password_lifetime);
    const clauses = [
      `REQUIRE ${requireClause(row)}`,
      `WITH MAX_QUERIES_PER_HOUR ${number(row.max_questions)} MAX_UPDATES_PER_HOUR ${number(row.max_updates)} MAX_CONNECTIONS_PER_HOUR ${number(row.max_connections)} MAX_USER_CONNECTIONS ${number(row.max_user_connections)}${info.flavor === 'mariadb' ? ` MAX_STATEMENT_TIME ${Number(text(row.max_statement_time) || 0)}` : ''}`,
      `PASSWORD EXPIRE ${lifetime === '' || lifetime === '-1' ? 'DEFAULT' : lifetime === '0' ? 'NEVER' : `INTERVAL ${lifetime} DAY`}`,
      `ACCOUNT ${['Y', 'true', '1'].includes(text(row.account_locked)) ? 'LOCK' : 'UNLOCK'}`,
    ];
    if (hasPasswordReuse(info)) {
      const reuseTime = text(row.reuse_time);
      clauses.push(
        `PASSWORD HISTORY ${text(row.reuse_history) || 'DEFAULT'}`,
        `PASSWORD REUSE INTERVAL ${reuseTime === '' ? 'DEFAULT' : `${reuseTime} DAY`}`,
      );
    }
    if (hasRequireCurrent(info)) {
      const current = text(row.require_current);
      clauses.push(
        `PASSWORD REQUIRE CURRENT${current === '' ? ' DEFAULT' : current === 'N' ? ' OPTIONAL' : ''}`,
      );
    }
    if (hasFailedLoginTracking(info)) {
      const lockDays = number(row.lock_days);
      clauses.push(
        `FAILED_LOGIN_ATTEMPTS ${number(row.failed_logins)} PASSWORD_LOCK_TIME ${lockDays < 0 ? 'UNBOUNDED' : lockDays}`,
      );
    }
    const grantee = granteeOf({ user: text(row.u), host: text(row.h) });
    options.set(grantee, clauses.join(' '));
    if (hasPartialRevokes(info)) restrictions.set(grantee, parseRestrictions(row.restrictions));
  }
  return { options, restrictions };
}

/** The SELECT of the account options: only the columns this server version has. */
export function optionsQuery(info: ServerInfo, pairs: string): string {
  if (info.flavor === 'mariadb') {
    return `SELECT u.User AS u, u.Host AS h, u.ssl_type, u.ssl_cipher, u.x509_issuer, u.x509_subject, u.max_questions, u.max_updates, u.max_connections, u.max_user_connections, u.max_statement_time, JSON_VALUE(g.Priv, '$.password_lifetime') AS password_lifetime, JSON_VALUE(g.Priv, '$.account_locked') AS account_locked FROM mysql.user u JOIN mysql.global_priv g ON g.User = u.User AND g.Host = u.Host WHERE (u.User, u.Host) IN (${pairs})`;
  }
  const columns = [
    'User AS u',
    'Host AS h',
    'ssl_type',
    'ssl_cipher',
    'x509_issuer',
    'x509_subject',
    'max_questions',
    'max_updates',
    'max_connections',
    'max_user_connections',
    'password_lifetime',
    'account_locked',
  ];
  if (hasPasswordReuse(info)) {
    columns.push('Password_reuse_history AS reuse_history', 'Password_reuse_time AS reuse_time');
  }
  if (hasRequireCurrent(info)) columns.push('Password_require_current AS require_current');
  if (hasFailedLoginTracking(info)) {
    columns.push(
      "JSON_EXTRACT(User_attributes, '$.Password_locking.failed_login_attempts') AS failed_logins",
      "JSON_EXTRACT(User_attributes, '$.Password_locking.password_lock_time_days') AS lock_days",
    );
  }
  if (hasPartialRevokes(info)) {
    columns.push("JSON_EXTRACT(User_attributes, '$.Restrictions') AS restrictions");
  }
  return `SELECT ${columns.join(', ')} FROM mysql.user WHERE (User, Host) IN (${pairs})`;
}

/**
 * MySQL's partial revokes as User_attributes keeps them (`[{"Database": "payroll", "Privileges":
 * ["INSERT"]}]`), one right per database and privilege.
 */
export function parseRestrictions(value: unknown): Right[] {
  let list: unknown = value;
  if (Buffer.isBuffer(list)) list = list.toString('utf8');
  if (typeof list === 'string') list = list === '' ? [] : JSON.parse(list);
  if (!Array.isArray(list)) return [];
  return list.flatMap((entry: { Database?: unknown; Privileges?: unknown }) => {
    const database = text(entry?.Database);
    const privileges = Array.isArray(entry?.Privileges) ? entry.Privileges : [];
    return privileges.map((p: unknown) => restriction(database, text(p).toUpperCase()));
  });
}

function restriction(database: string, privilege: string): Right {
  return {
    kind: 'restriction',
    label: `partial revoke ${privilege} ON ${databaseObject(database)}`,
    database,
    privilege,
  };
}

/**
 * The partial revokes MySQL would copy from the master onto the clone when the master grants it
 * the base's global privileges: each restriction of the master on a privilege the clone is about
 * to receive on `*.*`, where the base holds no such restriction. In words, for the error.
 */
export function inheritedRestrictions(
  masterRestrictions: readonly Right[],
  base: AccountRights,
  clone: AccountRights,
): string[] {
  return masterRestrictions.flatMap((r) => {
    if (r.kind !== 'restriction') return [];
    const global = `${r.privilege} ON *.*`;
    const inherited = base.has(global) && !clone.has(global) && !base.has(r.label);
    return inherited ? [`${r.privilege} ON ${databaseObject(r.database)}`] : [];
  });
}

/** The REQUIRE clause of an account's TLS requirements (ssl_type and the x509 columns). */
export function requireClause(row: Row): string {
  switch (text(row.ssl_type).toUpperCase()) {
    case 'ANY':
      return 'SSL';
    case 'X509':
      return 'X509';
    case 'SPECIFIED': {
      const parts = [
        text(row.x509_issuer) && `ISSUER ${literal(text(row.x509_issuer))}`,
        text(row.x509_subject) && `SUBJECT ${literal(text(row.x509_subject))}`,
        text(row.ssl_cipher) && `CIPHER ${literal(text(row.ssl_cipher))}`,
      ].filter(Boolean);
      return parts.length > 0 ? parts.join(' AND ') : 'NONE';
    }
    default:
      return 'NONE';
  }
}

/** What `clone` holds differently from `base`, in words (never a password). Empty when equal. */
export function rightsDifferences(
  base: AccountRights,
  clone: AccountRights,
  names: { base: string; clone: string },
): string[] {
  const missing = [...base.keys()].filter((label) => !clone.has(label));
  const extra = [...clone.keys()].filter((label) => !base.has(label));
  return [
    ...missing.map((label) => `${names.clone} lacks ${label} (${names.base} has it)`),
    ...extra.map((label) => `${names.clone} has ${label} (${names.base} does not)`),
  ];
}

/**
 * The statements that give `clone` (an account name) exactly the rights of `base`: everything
 * missing is granted before anything extra is revoked, so the clone never lacks, even for a
 * moment, what the base holds; then the options and default roles. A right that can only be
 * narrowed by revoking and granting again (a dynamic privilege's or a MySQL role's grant option
 * the base lacks) is briefly absent; so is, on MySQL, each dynamic privilege the clone holds WITH
 * GRANT OPTION when it must lose the global GRANT OPTION (revoked first: see below). A stale right
 * (staleDynamic) has no statement: the caller refuses.
 */
export function syncStatements(
  base: AccountRights,
  clone: AccountRights,
  target: string,
  flavor: 'mysql' | 'mariadb',
): string[] {
  const missing = [...base.values()].filter((r) => !clone.has(r.label));
  const extra = [...clone.values()].filter((r) => !base.has(r.label));
  const grants: string[] = [];
  const revokes: string[] = [];
  const regrants: string[] = [];
  let roleRevoked = false;

  // MySQL: REVOKE GRANT OPTION ON *.* while a dynamic privilege is held WITH GRANT OPTION parts
  // the running server from mysql.global_grants (staleDynamic). So that revoke comes first, after
  // revoking every dynamic privilege the clone holds WITH GRANT OPTION; the grants then give
  // those back as the base holds them.
  const first: string[] = [];
  const cleared = new Set<string>();
  const firstGlobalRevoke =
    flavor === 'mysql' && extra.some((r) => r.kind === 'grant-option' && r.object === '*.*');
  if (firstGlobalRevoke) {
    for (const r of clone.values()) {
      if (r.kind !== 'dynamic-grant-option') continue;
      cleared.add(r.privilege);
      first.push(`REVOKE ${r.privilege} ON *.* FROM ${target}`);
      if (base.has(`${r.privilege} ON *.*`)) {
        const withGrant = base.has(`${r.privilege} ON *.* WITH GRANT OPTION`);
        grants.push(
          `GRANT ${r.privilege} ON *.* TO ${target}${withGrant ? ' WITH GRANT OPTION' : ''}`,
        );
      }
    }
    first.push(`REVOKE GRANT OPTION ON *.* FROM ${target}`);
  }

  // Static privileges, one statement per object, with the level's GRANT OPTION if it is missing.
  const byObject = (rights: Right[]) => {
    const objects = new Map<string, string[]>();
    for (const r of rights) {
      if (r.kind === 'privilege' && !r.dynamic) {
        objects.set(r.object, [...(objects.get(r.object) ?? []), r.privilege]);
      } else if (r.kind === 'grant-option' && !objects.has(r.object)) {
        objects.set(r.object, []);
      }
    }
    return objects;
  };
  const baseAt = (object: string) =>
    [...base.values()].flatMap((r) =>
      r.kind === 'privilege' && !r.dynamic && r.object === object ? [r.privilege] : [],
    );
  for (const [object, privileges] of byObject(missing)) {
    const withGrant = missing.some((r) => r.kind === 'grant-option' && r.object === object);
    const list = privileges.length > 0 ? privileges : baseAt(object);
    grants.push(
      `GRANT ${list.length > 0 ? list.join(', ') : 'USAGE'} ON ${object} TO ${target}${withGrant ? ' WITH GRANT OPTION' : ''}`,
    );
  }
  for (const r of missing) {
    if (r.kind === 'privilege' && r.dynamic) {
      const withGrant = base.has(`${r.privilege} ON *.* WITH GRANT OPTION`);
      grants.push(
        `GRANT ${r.privilege} ON *.* TO ${target}${withGrant ? ' WITH GRANT OPTION' : ''}`,
      );
    } else if (r.kind === 'dynamic-grant-option' && clone.has(`${r.privilege} ON *.*`)) {
      grants.push(`GRANT ${r.privilege} ON *.* TO ${target} WITH GRANT OPTION`);
    } else if (r.kind === 'role') {
      const admin = base.has(`role ${r.role} WITH ADMIN OPTION`);
      grants.push(`GRANT ${r.role} TO ${target}${admin ? ' WITH ADMIN OPTION' : ''}`);
    } else if (r.kind === 'role-admin' && clone.has(`role ${r.role}`)) {
      grants.push(`GRANT ${r.role} TO ${target} WITH ADMIN OPTION`);
    } else if (r.kind === 'proxy') {
      const withGrant = base.has(`PROXY ON ${r.account} WITH GRANT OPTION`);
      grants.push(
        `GRANT PROXY ON ${r.account} TO ${target}${withGrant ? ' WITH GRANT OPTION' : ''}`,
      );
    } else if (r.kind === 'proxy-grant' && clone.has(`PROXY ON ${r.account}`)) {
      grants.push(`GRANT PROXY ON ${r.account} TO ${target} WITH GRANT OPTION`);
    } else if (r.kind === 'restriction') {
      // A partial revoke is made by revoking at the database level what is held on *.*; after
      // the grants, so the privilege it narrows is there.
      revokes.push(`REVOKE ${r.privilege} ON ${databaseObject(r.database)} FROM ${target}`);
    }
  }

  for (const [object, privileges] of byObject(extra)) {
    if (privileges.length > 0)
      revokes.push(`REVOKE ${privileges.join(', ')} ON ${object} FROM ${target}`);
    if (
      extra.some((r) => r.kind === 'grant-option' && r.object === object) &&
      !(object === '*.*' && firstGlobalRevoke)
    ) {
      revokes.push(`REVOKE GRANT OPTION ON ${object} FROM ${target}`);
    }
  }
  for (const r of extra) {
    if (
      ((r.kind === 'privilege' && r.dynamic) || r.kind === 'dynamic-grant-option') &&
      cleared.has(r.privilege)
    ) {
      // Revoked above.
    } else if (r.kind === 'privilege' && r.dynamic) {
      revokes.push(`REVOKE ${r.privilege} ON *.* FROM ${target}`);
    } else if (r.kind === 'dynamic-grant-option' && base.has(`${r.privilege} ON *.*`)) {
      // MySQL has no REVOKE GRANT OPTION for one dynamic privilege.
      revokes.push(`REVOKE ${r.privilege} ON *.* FROM ${target}`);
      regrants.push(`GRANT ${r.privilege} ON *.* TO ${target}`);
    } else if (r.kind === 'role') {
      revokes.push(`REVOKE ${r.role} FROM ${target}`);
      roleRevoked = true;
    } else if (r.kind === 'proxy') {
      revokes.push(`REVOKE PROXY ON ${r.account} FROM ${target}`);
    } else if (r.kind === 'proxy-grant' && base.has(`PROXY ON ${r.account}`)) {
      revokes.push(`REVOKE PROXY ON ${r.account} FROM ${target}`);
      regrants.push(`GRANT PROXY ON ${r.account} TO ${target}`);
    } else if (r.kind === 'restriction' && base.has(`${r.privilege} ON *.*`)) {
      // Granting at the database level what is restricted there lifts the restriction. (Where the
      // base lacks the privilege on *.*, revoking it there lifts the restriction with it.)
      grants.push(`GRANT ${r.privilege} ON ${databaseObject(r.database)} TO ${target}`);
    } else if (r.kind === 'role-admin' && base.has(`role ${r.role}`)) {
      if (flavor === 'mariadb') {
        revokes.push(`REVOKE ADMIN OPTION FOR ${r.role} FROM ${target}`);
      } else {
        revokes.push(`REVOKE ${r.role} FROM ${target}`);
        regrants.push(`GRANT ${r.role} TO ${target}`);
        roleRevoked = true;
      }
    }
  }

  const settings: string[] = [];
  const options = [...base.values()].find((r) => r.kind === 'options');
  if (options?.kind === 'options' && !clone.has(options.label) && options.options !== '') {
    const cloneOptions = [...clone.values()].find((r) => r.kind === 'options');
    if (
      flavor === 'mysql' &&
      options.options.includes('PASSWORD EXPIRE DEFAULT') &&
      cloneOptions?.kind === 'options' &&
      cloneOptions.options.includes('PASSWORD EXPIRE INTERVAL')
    ) {
      // MySQL 9.7 leaves an account it holds in memory at its old interval when the lifetime goes
      // from an interval straight to DEFAULT (the table changes, the running server does not);
      // through NEVER it takes both.
      settings.push(`ALTER USER ${target} PASSWORD EXPIRE NEVER`);
    }
    settings.push(`ALTER USER ${target} ${options.options}`);
  }
  const defaults = [...base.values()].find((r) => r.kind === 'default-roles');
  // MySQL: revoking a role drops it from the default roles, so they are set last, whenever they
  // differ or a role was revoked. (MariaDB keeps them: readRights.)
  if (
    defaults?.kind === 'default-roles' &&
    (!clone.has(defaults.label) || (roleRevoked && flavor === 'mysql'))
  ) {
    const list = defaults.roles.length > 0 ? defaults.roles.join(', ') : 'NONE';
    settings.push(
      flavor === 'mysql'
        ? `SET DEFAULT ROLE ${list} TO ${target}`
        : `SET DEFAULT ROLE ${list} FOR ${target}`,
    );
  }
  return [...first, ...grants, ...revokes, ...regrants, ...settings];
}
