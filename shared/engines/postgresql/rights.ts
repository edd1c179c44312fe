/**
 * The rights model of alternating users on PostgreSQL: what must be equal between the base user
 * and its clone, read from the catalogs. The clone is a member of the base (with SET) and becomes
 * it at login (`ALTER ROLE clone SET role`), so both act as the base; what SET ROLE does not carry
 * over is compared here and levelled by the adapter:
 * - the role attributes SUPERUSER, CREATEDB, CREATEROLE, REPLICATION and BYPASSRLS, checked at
 *   login or usable after `SET ROLE NONE` (and LOGIN, which both always have); and INHERIT, which
 *   the clone always has, with its membership of the base INHERIT TRUE: after `SET ROLE NONE` it
 *   then has exactly the base's own privileges (a NOINHERIT base's memberships are not inherited
 *   past it), where a NOINHERIT clone would have none;
 * - what applies at login to the user who logs in: the role's own settings (`ALTER ROLE … SET`,
 *   per role and per role and database), among them `role`, which the clone takes from the base
 *   when the base has one it may use; `CONNECTION LIMIT` and `VALID UNTIL`;
 * - the clone's memberships (only the base, with SET, without ADMIN OPTION), and who holds the
 *   clone (nobody but the master and superusers, or the pair is not bound to its secret);
 * - what the clone holds of its own: objects it owns, privileges granted to it directly, row
 *   security policies naming it, in every database (pg_shdepend).
 */
import { escapeIdentifier, escapeLiteral } from 'pg';

/** Runs one statement with `$n` parameters; the session's own `run`. */
export type PgRun = (
  sql: string,
  values?: unknown[],
) => Promise<{ rows: Record<string, unknown>[] }>;

/** The role attributes levelled from the base to the clone: catalog column → keyword. */
export const ATTRIBUTES = [
  ['rolsuper', 'SUPERUSER'],
  ['rolcreatedb', 'CREATEDB'],
  ['rolcreaterole', 'CREATEROLE'],
  ['rolreplication', 'REPLICATION'],
  ['rolbypassrls', 'BYPASSRLS'],
] as const;

export type Attribute = (typeof ATTRIBUTES)[number][1];

/** One row of pg_auth_members: a membership as granted by one grantor. */
export interface Grant {
  grantor: string;
  admin: boolean;
  /** May SET ROLE to it (always true before 16). */
  set: boolean;
  /** Has its privileges without SET ROLE (before 16: always true here, rolinherit decides). */
  inherit: boolean;
}

/** A role's facts as the rights model sees them. */
export interface LoginFacts {
  canLogin: boolean;
  connectionLimit: number;
  /** `rolvaliduntil` as text; `infinity` when unset. */
  validUntil: string;
  /** `VALID UNTIL` is in the past: no password login. */
  expired: boolean;
  /** The attributes it has. */
  attributes: Set<Attribute>;
  inherit: boolean;
  /** `<database>\u0000<name>` (database empty: every database) → the stored value. */
  settings: Map<string, string>;
  /** The roles this role is a member of → each grant of it. */
  memberOf: Map<string, Grant[]>;
}

/** Reads the facts of each role that exists. */
export async function readLoginFacts(
  run: PgRun,
  roles: string[],
): Promise<Map<string, LoginFacts>> {
  const facts = new Map<string, LoginFacts>();
  const attributes = await run(
    `SELECT rolname, rolcanlogin, rolconnlimit, coalesce(rolvaliduntil::text, $2) AS valid_until,
            coalesce(rolvaliduntil <= now(), false) AS expired,
            rolinherit, ${ATTRIBUTES.map(([column]) => column).join(', ')}
       FROM pg_catalog.pg_roles WHERE rolname = ANY($1::text[])`,
    [roles, 'infinity'],
  );
  for (const row of attributes.rows) {
    facts.set(String(row.rolname), {
      canLogin: row.rolcanlogin === true,
      connectionLimit: Number(row.rolconnlimit),
      validUntil: String(row.valid_until),
      expired: row.expired === true,
      attributes: new Set(ATTRIBUTES.filter(([column]) => row[column] === true).map(([, k]) => k)),
      inherit: row.rolinherit === true,
      settings: new Map(),
      memberOf: new Map(),
    });
  }
  const settings = await run(
    `SELECT r.rolname, coalesce(d.datname, '') AS db, s.setting
       FROM pg_catalog.pg_db_role_setting rs
       JOIN pg_catalog.pg_roles r ON r.oid = rs.setrole
       LEFT JOIN pg_catalog.pg_database d ON d.oid = rs.setdatabase
       CROSS JOIN LATERAL unnest(rs.setconfig) AS s(setting)
      WHERE r.rolname = ANY($1::text[])`,
    [roles],
  );
  for (const row of settings.rows) {
    const [name, value] = splitSetting(String(row.setting));
    facts.get(String(row.rolname))?.settings.set(settingKey(String(row.db), name), value);
  }
  // set_option exists from PostgreSQL 16; before, every member may SET ROLE.
  const members = await run(
    `SELECT u.rolname AS member, b.rolname AS role, coalesce(g.rolname, '') AS grantor, m.admin_option,
            coalesce((to_jsonb(m) ->> 'set_option')::boolean, true) AS can_set,
            coalesce((to_jsonb(m) ->> 'inherit_option')::boolean, true) AS inherits
       FROM pg_catalog.pg_auth_members m
       JOIN pg_catalog.pg_roles b ON b.oid = m.roleid
       JOIN pg_catalog.pg_roles u ON u.oid = m.member
       LEFT JOIN pg_catalog.pg_roles g ON g.oid = m.grantor
      WHERE u.rolname = ANY($1::text[])`,
    [roles],
  );
  for (const row of members.rows) {
    const memberOf = facts.get(String(row.member))?.memberOf;
    if (!memberOf) continue;
    const role = String(row.role);
    const grants = memberOf.get(role) ?? [];
    grants.push({
      grantor: String(row.grantor),
      admin: row.admin_option === true,
      set: row.can_set === true,
      inherit: row.inherits === true,
    });
    memberOf.set(role, grants);
  }
  return facts;
}

/**
 * Who else holds the clone: every non-superuser member of it (with or without ADMIN OPTION)
 * other than the master's session and current user. Each could act as the clone, and through it
 * as the base, or (with ADMIN OPTION, and CREATEROLE on 16 and later) change its password.
 */
export async function readHolders(
  run: PgRun,
  role: string,
): Promise<{ member: string; grantor: string; admin: boolean }[]> {
  const { rows } = await run(
    `SELECT u.rolname AS member, coalesce(g.rolname, '') AS grantor, m.admin_option AS admin
       FROM pg_catalog.pg_auth_members m
       JOIN pg_catalog.pg_roles r ON r.oid = m.roleid
       JOIN pg_catalog.pg_roles u ON u.oid = m.member
       LEFT JOIN pg_catalog.pg_roles g ON g.oid = m.grantor
      WHERE r.rolname = $1 AND NOT u.rolsuper
        AND u.rolname <> session_user AND u.rolname <> current_user
      ORDER BY 1, 2`,
    [role],
  );
  return rows.map((row) => ({
    member: String(row.member),
    grantor: String(row.grantor),
    admin: row.admin === true,
  }));
}

/** What a role holds of its own in one database (`''`: shared objects, such as databases). */
export interface Holding {
  database: string;
  /** `owns`: objects it owns; `privileges`: privileges granted to it, or policies naming it. */
  kind: 'owns' | 'privileges';
  count: number;
}

/** A role's own objects and direct privileges in every database, from pg_shdepend. */
export async function readHoldings(run: PgRun, role: string): Promise<Holding[]> {
  const { rows } = await run(
    `SELECT coalesce(d.datname, '') AS db, CASE s.deptype WHEN 'o' THEN 'owns' ELSE 'privileges' END AS kind,
            count(*)::int AS n
       FROM pg_catalog.pg_shdepend s
       LEFT JOIN pg_catalog.pg_database d ON d.oid = s.dbid
      WHERE s.refclassid = 'pg_catalog.pg_authid'::regclass
        AND s.refobjid = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1)
        AND s.deptype IN ('o', 'a', 'r', 'i')
      GROUP BY 1, 2 ORDER BY 1, 2`,
    [role],
  );
  return rows.map((row) => ({
    database: String(row.db),
    kind: row.kind === 'owns' ? 'owns' : 'privileges',
    count: Number(row.n),
  }));
}

/**
 * The clone's `role` setting in each database (`''`: every database) where the base has one.
 * The base becomes at login the role its own setting names, per role and database first, then
 * per role, when it may SET ROLE to it (`settable`); else it stays itself. `none` is itself.
 * The clone, a member of the base, may become whatever the base may, and must become the same.
 */
export function expectedRoleSettings(
  base: string,
  baseSettings: ReadonlyMap<string, string>,
  settable: ReadonlySet<string>,
): Map<string, string> {
  const become = (value: string | undefined) =>
    value === undefined
      ? undefined
      : value === 'none'
        ? base
        : settable.has(value)
          ? value
          : undefined;
  const everywhere = become(baseSettings.get(settingKey('', 'role'))) ?? base;
  const expected = new Map([['', everywhere]]);
  for (const [key, value] of baseSettings) {
    const { database, name } = parseSettingKey(key);
    if (name === 'role' && database !== '') expected.set(database, become(value) ?? everywhere);
  }
  return expected;
}

/** `name=value` as pg_db_role_setting stores it. */
export function splitSetting(setting: string): [string, string] {
  const at = setting.indexOf('=');
  return at < 0 ? [setting, ''] : [setting.slice(0, at), setting.slice(at + 1)];
}

export function settingKey(database: string, name: string): string {
  return `${database}\u0000${name.toLowerCase()}`;
}

export function parseSettingKey(key: string): { database: string; name: string } {
  const [database = '', name = ''] = key.split('\u0000');
  return { database, name };
}

/**
 * Settings whose value is a list of names that the server quotes one by one (GUC_LIST_QUOTE in
 * PostgreSQL's source; pg_dump keeps the same list, as no catalog shows the flag). Their stored
 * value must be given back as a list of literals: one literal would become one quoted name.
 */
const LIST_QUOTED = new Set([
  'local_preload_libraries',
  'search_path',
  'session_preload_libraries',
  'shared_preload_libraries',
  'temp_tablespaces',
  'unix_socket_directories',
]);

/** The `SET name TO value` text that stores exactly `value` again, as pg_dump writes it. */
export function settingAssignment(name: string, value: string): string {
  const quotedName = name.split('.').map(escapeIdentifier).join('.');
  if (!LIST_QUOTED.has(name.toLowerCase())) return `${quotedName} TO ${escapeLiteral(value)}`;
  const items = splitList(value);
  return `${quotedName} TO ${items.length > 0 ? items.map(escapeLiteral).join(', ') : "''"}`;
}

/** PostgreSQL's SplitGUCList: comma-separated, each item trimmed, "double-quoted" items unquoted. */
export function splitList(value: string): string[] {
  const items: string[] = [];
  let i = 0;
  while (i < value.length) {
    while (i < value.length && /\s/.test(value[i] as string)) i++;
    if (i >= value.length) break;
    let item = '';
    if (value[i] === '"') {
      i++;
      while (i < value.length) {
        if (value[i] === '"' && value[i + 1] === '"') {
          item += '"';
          i += 2;
        } else if (value[i] === '"') {
          i++;
          break;
        } else {
          item += value[i];
          i++;
        }
      }
      while (i < value.length && value[i] !== ',') i++;
    } else {
      const end = value.indexOf(',', i);
      item = value.slice(i, end < 0 ? value.length : end).trim();
      i = end < 0 ? value.length : end;
    }
    items.push(item);
    if (value[i] === ',') i++;
  }
  return items;
}
