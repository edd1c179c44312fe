/**
 * Pair mode's parity check on PostgreSQL: what the session's login user may do, read in its own
 * session from what every user may read (pg_roles, pg_auth_members, the privilege inquiry
 * functions), so neither user of a pair needs a right for it. Each right is one line that names
 * neither user of the pair, so the two users' lists compare as text:
 * - the role attributes; and as limits, which must be equal both ways: the connection limit,
 *   password expiry, and the role's own settings (every database's and each database's; a
 *   setting's value by a digest, never shown);
 * - every role it is a member of, directly or not, besides the other user of the pair: whether it
 *   inherits its privileges, may SET ROLE to it, and holds ADMIN OPTION on it (directly);
 * - its effective privileges (its own, and those inherited) on every database, and on every
 *   schema, table, view, sequence, column and function of the database it logged in to; and the
 *   owner's rights it holds there (objects owned by itself or by a role it inherits).
 * It cannot see: objects in other databases, privileges on types, languages, large objects,
 * foreign servers, tablespaces and parameters, default privileges, row security policies, and
 * pg_hba.conf (which hosts and methods may log in).
 */
import type { OwnRights } from '../engine';

/** Runs one read-only query with `$n` parameters; the session's own `run`. */
export type PgQuery = (
  sql: string,
  values?: unknown[],
) => Promise<{ rows: Record<string, unknown>[] }>;

export const POSTGRES_UNSEEN = [
  'objects in databases other than the one it logs in to (dbname)',
  'privileges on types, languages, large objects, foreign servers, tablespaces and parameters',
  'default privileges, row security policies and pg_hba.conf',
];

const SYSTEM_SCHEMA = `(n.nspname IN ('pg_catalog', 'information_schema') OR n.nspname LIKE 'pg\\_toast%' OR n.nspname LIKE 'pg\\_temp\\_%')`;

/** The privileges a table can be granted on a server of `serverVersionNum` (MAINTAIN from 17). */
export function tablePrivilegesOf(serverVersionNum: number): string[] {
  return [
    'SELECT',
    'INSERT',
    'UPDATE',
    'DELETE',
    'TRUNCATE',
    'REFERENCES',
    'TRIGGER',
    ...(serverVersionNum >= 170000 ? ['MAINTAIN'] : []),
  ];
}

/** Every right, as lines; see the module comment. */
export async function readOwnRights(query: PgQuery, partner: string): Promise<OwnRights> {
  const version = Number(
    (await query('SELECT current_setting($1)::int AS v', ['server_version_num'])).rows[0]?.v,
  );
  const tablePrivileges = tablePrivilegesOf(version);
  const lines = async (sql: string, values: unknown[] = []) =>
    (await query(sql, values)).rows.map((row) => String(row.line));

  // A setting's value may be a secret (ALTER ROLE … SET app.api_key = …): it is compared by a
  // digest and never shown.
  const setting = (s: string) =>
    `'setting ' || split_part(${s}, '=', 1) || ' (value sha256:' || left(encode(sha256(convert_to(${s}, 'UTF8')), 'hex'), 12) || ')'`;
  const limits = [
    ...(await lines(
      `SELECT unnest(ARRAY[
         CASE WHEN rolconnlimit < 0 THEN 'no connection limit'
              ELSE 'connection limit ' || rolconnlimit END,
         CASE WHEN rolvaliduntil IS NULL OR rolvaliduntil = 'infinity' THEN 'password never expires'
              ELSE 'password valid until ' || rolvaliduntil END
       ]) AS line
       FROM pg_roles WHERE rolname = session_user`,
    )),
    ...(await lines(
      `SELECT ${setting('s')} AS line FROM pg_roles, unnest(rolconfig) s WHERE rolname = session_user`,
    )),
    // Per database (ALTER ROLE … IN DATABASE … SET): the catalog every role may read.
    ...(await lines(
      `SELECT ${setting('s')} || ' in DATABASE ' || quote_ident(d.datname) AS line
       FROM pg_db_role_setting rs JOIN pg_database d ON d.oid = rs.setdatabase, unnest(rs.setconfig) s
       WHERE rs.setrole = (SELECT oid FROM pg_roles WHERE rolname = session_user)`,
    )),
  ];
  const rights = [
    // The login role itself.
    ...(await lines(
      `SELECT unnest(array_remove(ARRAY[
         CASE WHEN rolsuper THEN 'attribute SUPERUSER' END,
         CASE WHEN rolcreatedb THEN 'attribute CREATEDB' END,
         CASE WHEN rolcreaterole THEN 'attribute CREATEROLE' END,
         CASE WHEN rolreplication THEN 'attribute REPLICATION' END,
         CASE WHEN rolbypassrls THEN 'attribute BYPASSRLS' END,
         CASE WHEN rolinherit THEN 'inherits the privileges of its roles (INHERIT)' END
       ], NULL)) AS line
       FROM pg_roles WHERE rolname = session_user`,
    )),
    // Memberships, direct or not, except of the login role itself and of the other user.
    ...(await lines(
      `SELECT unnest(array_remove(ARRAY[
         'member of ' || quote_ident(r.rolname),
         CASE WHEN pg_has_role(session_user, r.oid, 'USAGE') THEN 'inherits ' || quote_ident(r.rolname) END,
         ${version >= 160000 ? `CASE WHEN pg_has_role(session_user, r.oid, 'SET') THEN 'may SET ROLE ' || quote_ident(r.rolname) END,` : ''}
         CASE WHEN EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.roleid = r.oid
                             AND m.member = (SELECT oid FROM pg_roles WHERE rolname = session_user)
                             AND m.admin_option)
              THEN 'ADMIN OPTION on ' || quote_ident(r.rolname) END
       ], NULL)) AS line
       FROM pg_roles r
       WHERE r.rolname NOT IN (session_user, $1) AND pg_has_role(session_user, r.oid, 'MEMBER')`,
      [partner],
    )),
    // Databases (all of them: the catalog is shared).
    ...(await lines(
      `SELECT p || ' on DATABASE ' || quote_ident(d.datname) AS line
       FROM pg_database d, unnest(ARRAY['CONNECT', 'CREATE', 'TEMPORARY']) p
       WHERE has_database_privilege(session_user, d.oid, p)
       UNION ALL
       SELECT 'owner rights on DATABASE ' || quote_ident(d.datname)
       FROM pg_database d WHERE pg_has_role(session_user, d.datdba, 'USAGE')`,
    )),
    // Schemas of this database.
    ...(await lines(
      `SELECT p || ' on SCHEMA ' || quote_ident(n.nspname) AS line
       FROM pg_namespace n, unnest(ARRAY['USAGE', 'CREATE']) p
       WHERE NOT ${SYSTEM_SCHEMA} AND has_schema_privilege(session_user, n.oid, p)
       UNION ALL
       SELECT 'owner rights on SCHEMA ' || quote_ident(n.nspname)
       FROM pg_namespace n WHERE NOT ${SYSTEM_SCHEMA} AND pg_has_role(session_user, n.nspowner, 'USAGE')`,
    )),
    // Tables, views, materialized views, foreign tables, sequences; and columns.
    ...(await lines(
      `WITH o AS (
         SELECT c.oid, c.relkind, c.relowner,
                CASE c.relkind WHEN 'S' THEN 'SEQUENCE ' ELSE 'TABLE ' END
                  || quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND NOT ${SYSTEM_SCHEMA})
       SELECT p || ' on ' || o.name AS line
       FROM o, unnest($1::text[]) p
       WHERE o.relkind <> 'S' AND has_table_privilege(session_user, o.oid, p)
       UNION ALL
       SELECT p || ' on ' || o.name
       FROM o, unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) p
       WHERE o.relkind = 'S' AND has_sequence_privilege(session_user, o.oid, p)
       UNION ALL
       SELECT 'owner rights on ' || o.name FROM o WHERE pg_has_role(session_user, o.relowner, 'USAGE')
       UNION ALL
       SELECT p || ' (' || quote_ident(a.attname) || ') on ' || o.name
       FROM o JOIN pg_attribute a ON a.attrelid = o.oid AND a.attnum > 0 AND NOT a.attisdropped,
            unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) p
       WHERE o.relkind <> 'S' AND NOT has_table_privilege(session_user, o.oid, p)
         AND has_column_privilege(session_user, o.oid, a.attnum, p)`,
      [tablePrivileges],
    )),
    // Functions and procedures.
    ...(await lines(
      `WITH f AS (
         SELECT p.oid, p.proowner,
                CASE p.prokind WHEN 'p' THEN 'PROCEDURE ' ELSE 'FUNCTION ' END
                  || quote_ident(n.nspname) || '.' || quote_ident(p.proname)
                  || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE NOT ${SYSTEM_SCHEMA})
       SELECT 'EXECUTE on ' || f.name AS line FROM f
       WHERE has_function_privilege(session_user, f.oid, 'EXECUTE')
       UNION ALL
       SELECT 'owner rights on ' || f.name FROM f WHERE pg_has_role(session_user, f.proowner, 'USAGE')`,
    )),
  ];
  return { rights, limits, unseen: POSTGRES_UNSEEN };
}
