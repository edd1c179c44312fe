/**
 * What alternating users on PostgreSQL must keep equal beyond the membership that lets the clone
 * act as the base: what applies at login to the user who logs in, and which `SET ROLE` does not
 * carry over. A role's own settings (`ALTER ROLE … SET`, per role and per role and database) apply
 * when that role logs in; the clone logs in as itself and then becomes the base, so the base's
 * settings must be the clone's too. `CONNECTION LIMIT` and `VALID UNTIL` are checked at login.
 */
import { escapeIdentifier, escapeLiteral } from 'pg';

/** Runs one statement with `$n` parameters; the session's own `run`. */
export type PgRun = (
  sql: string,
  values?: unknown[],
) => Promise<{ rows: Record<string, unknown>[] }>;

/** A role's login-time facts. */
export interface LoginFacts {
  connectionLimit: number;
  /** `rolvaliduntil` as text; `infinity` when unset. */
  validUntil: string;
  /** `<database>\u0000<name>` (database empty: every database) → the stored value. */
  settings: Map<string, string>;
  /** The roles this role is a member of → whether it may SET ROLE to them (always true before 16). */
  memberOf: Map<string, boolean>;
}

/** Reads the login-time facts of each role that exists. */
export async function readLoginFacts(
  run: PgRun,
  roles: string[],
): Promise<Map<string, LoginFacts>> {
  const facts = new Map<string, LoginFacts>();
  const attributes = await run(
    'SELECT rolname, rolconnlimit, coalesce(rolvaliduntil::text, $2) AS valid_until FROM pg_catalog.pg_roles WHERE rolname = ANY($1::text[])',
    [roles, 'infinity'],
  );
  for (const row of attributes.rows) {
    facts.set(String(row.rolname), {
      connectionLimit: Number(row.rolconnlimit),
      validUntil: String(row.valid_until),
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
    `SELECT u.rolname AS member, b.rolname AS role, coalesce((to_jsonb(m) ->> 'set_option')::boolean, true) AS can_set
       FROM pg_catalog.pg_auth_members m
       JOIN pg_catalog.pg_roles b ON b.oid = m.roleid
       JOIN pg_catalog.pg_roles u ON u.oid = m.member
      WHERE u.rolname = ANY($1::text[])`,
    [roles],
  );
  for (const row of members.rows) {
    facts.get(String(row.member))?.memberOf.set(String(row.role), row.can_set === true);
  }
  return facts;
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
