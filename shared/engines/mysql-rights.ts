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
 * options (REQUIRE, resource limits, ACCOUNT LOCK, password policy), as SHOW CREATE USER prints
 * them, are compared too.
 */
import mysql2 from 'mysql2/promise';
import { type Token, tokenize } from './mysql-grants';

/** One thing an account holds. `label` names it and is unique within an account's rights. */
export type Right =
  | { kind: 'privilege'; label: string; object: string; privilege: string; dynamic: boolean }
  | { kind: 'grant-option'; label: string; object: string }
  | { kind: 'dynamic-grant-option'; label: string; privilege: string }
  | { kind: 'role'; label: string; role: string }
  | { kind: 'role-admin'; label: string; role: string }
  | { kind: 'default-roles'; label: string; roles: string[] }
  | { kind: 'options'; label: string; options: string };

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

/**
 * Reads the rights of `user`@`host`. The session's user needs SELECT on the `mysql` schema (which
 * also lets information_schema show other accounts' privileges).
 */
export async function readRights(
  session: RightsReader,
  flavor: 'mysql' | 'mariadb',
  user: string,
  host: string,
): Promise<AccountRights> {
  const rights: Right[] = [];
  // information_schema names the grantee as 'user'@'host', quotes unescaped.
  const grantee = literal(`'${user}'@'${host}'`);
  const account = `User = ${literal(user)} AND Host = ${literal(host)}`;
  const read = (sql: string, verb: string) => session.run(sql, verb);

  const dynamic = new Map<string, boolean>();
  if (flavor === 'mysql') {
    for (const row of await read(
      `SELECT PRIV AS p, WITH_GRANT_OPTION AS g FROM mysql.global_grants WHERE USER = ${literal(user)} AND HOST = ${literal(host)}`,
      'SELECT mysql.global_grants',
    )) {
      dynamic.set(text(row.p).toUpperCase(), text(row.g) === 'Y');
    }
  }
  for (const [name, withGrant] of dynamic) {
    rights.push(privilege('*.*', name, true));
    if (withGrant) {
      rights.push({
        kind: 'dynamic-grant-option',
        label: `${name} ON *.* WITH GRANT OPTION`,
        privilege: name,
      });
    }
  }
  for (const row of await read(
    `SELECT PRIVILEGE_TYPE AS p FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ${grantee}`,
    'SELECT information_schema.USER_PRIVILEGES',
  )) {
    const name = text(row.p).toUpperCase();
    if (name !== 'USAGE' && !dynamic.has(name)) rights.push(privilege('*.*', name));
  }
  for (const row of await read(
    `SELECT TABLE_SCHEMA AS db, PRIVILEGE_TYPE AS p FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ${grantee}`,
    'SELECT information_schema.SCHEMA_PRIVILEGES',
  )) {
    const name = text(row.p).toUpperCase();
    if (name !== 'USAGE') rights.push(privilege(databaseObject(text(row.db)), name));
  }
  for (const row of await read(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS t, PRIVILEGE_TYPE AS p FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = ${grantee}`,
    'SELECT information_schema.TABLE_PRIVILEGES',
  )) {
    const name = text(row.p).toUpperCase();
    if (name !== 'USAGE') rights.push(privilege(tableObject(text(row.db), text(row.t)), name));
  }
  for (const row of await read(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS t, COLUMN_NAME AS c, PRIVILEGE_TYPE AS p FROM information_schema.COLUMN_PRIVILEGES WHERE GRANTEE = ${grantee}`,
    'SELECT information_schema.COLUMN_PRIVILEGES',
  )) {
    const name = `${text(row.p).toUpperCase()} (${quoteName(text(row.c))})`;
    rights.push(privilege(tableObject(text(row.db), text(row.t)), name));
  }
  // GRANT OPTION of static privileges is one flag per level; information_schema repeats it on
  // every privilege of the level and omits it where the level holds nothing else.
  const [user_] = await read(
    `SELECT Grant_priv AS g FROM mysql.user WHERE ${account}`,
    'SELECT mysql.user',
  );
  if (text(user_?.g) === 'Y') rights.push(grantOption('*.*'));
  for (const row of await read(
    `SELECT Db AS db FROM mysql.db WHERE ${account} AND Grant_priv = 'Y'`,
    'SELECT mysql.db',
  )) {
    rights.push(grantOption(databaseObject(text(row.db))));
  }
  for (const row of await read(
    `SELECT Db AS db, Table_name AS t FROM mysql.tables_priv WHERE ${account} AND FIND_IN_SET('Grant', Table_priv) > 0`,
    'SELECT mysql.tables_priv',
  )) {
    rights.push(grantOption(tableObject(text(row.db), text(row.t))));
  }
  // Routines are in no information_schema view. Proc_priv is a SET of the server's own names
  // ('Execute', 'Alter Routine', 'Grant'), which are the privileges' names in GRANT.
  for (const row of await read(
    `SELECT Db AS db, Routine_name AS r, Routine_type AS type, Proc_priv AS p FROM mysql.procs_priv WHERE ${account}`,
    'SELECT mysql.procs_priv',
  )) {
    const object = `${text(row.type).toUpperCase()} ${tableObject(text(row.db), text(row.r))}`;
    for (const name of text(row.p)
      .split(',')
      .filter((p) => p !== '')) {
      rights.push(name === 'Grant' ? grantOption(object) : privilege(object, name.toUpperCase()));
    }
  }
  rights.push(...(await readRoles(session, flavor, user, host)));
  rights.push(await readOptions(session, user, host));
  return new Map(rights.map((right) => [right.label, right]));
}

async function readRoles(
  session: RightsReader,
  flavor: 'mysql' | 'mariadb',
  user: string,
  host: string,
): Promise<Right[]> {
  const rights: Right[] = [];
  const role = (name: string, admin: boolean) => {
    rights.push({ kind: 'role', label: `role ${name}`, role: name });
    if (admin)
      rights.push({ kind: 'role-admin', label: `role ${name} WITH ADMIN OPTION`, role: name });
  };
  let defaults: string[];
  if (flavor === 'mysql') {
    for (const row of await session.run(
      `SELECT FROM_USER AS u, FROM_HOST AS h, WITH_ADMIN_OPTION AS a FROM mysql.role_edges WHERE TO_USER = ${literal(user)} AND TO_HOST = ${literal(host)}`,
      'SELECT mysql.role_edges',
    )) {
      role(accountName(text(row.u), text(row.h)), text(row.a) === 'Y');
    }
    defaults = (
      await session.run(
        `SELECT DEFAULT_ROLE_USER AS u, DEFAULT_ROLE_HOST AS h FROM mysql.default_roles WHERE USER = ${literal(user)} AND HOST = ${literal(host)}`,
        'SELECT mysql.default_roles',
      )
    ).map((row) => accountName(text(row.u), text(row.h)));
  } else {
    const account = `User = ${literal(user)} AND Host = ${literal(host)}`;
    for (const row of await session.run(
      `SELECT Role AS r, Admin_option AS a FROM mysql.roles_mapping WHERE ${account}`,
      'SELECT mysql.roles_mapping',
    )) {
      role(quoteName(text(row.r)), text(row.a) === 'Y');
    }
    const [row] = await session.run(
      `SELECT default_role AS r FROM mysql.user WHERE ${account}`,
      'SELECT mysql.user',
    );
    defaults = text(row?.r) === '' ? [] : [quoteName(text(row?.r))];
  }
  defaults.sort();
  rights.push({
    kind: 'default-roles',
    label: `default roles ${defaults.length > 0 ? defaults.join(', ') : 'NONE'}`,
    roles: defaults,
  });
  return rights;
}

/** The account's options as SHOW CREATE USER prints them, without its name and credentials. */
async function readOptions(session: RightsReader, user: string, host: string): Promise<Right> {
  const [row] = await session.run(
    `SHOW CREATE USER ${accountName(user, host)}`,
    'SHOW CREATE USER',
  );
  const options = accountOptions(text(Object.values(row ?? {})[0]));
  return { kind: 'options', label: `account options ${options}`, options };
}

/**
 * The options part of a `SHOW CREATE USER` line: everything after the account name and its
 * IDENTIFIED clauses (which hold the password hash), less a default-role clause (roles are
 * compared on their own) and less a bare `PASSWORD EXPIRE`, which marks the current password as
 * expired: a state of that password, not a right of the account, and cleared when a new one is set.
 */
export function accountOptions(line: string): string {
  const tokens = tokenize(line);
  let i = 2; // CREATE USER
  i += tokens[i + 1]?.text === '@' ? 3 : 1; // the account
  const word = (at: number) => (tokens[at]?.kind === 'word' ? tokens[at].text.toUpperCase() : '');
  while (word(i) === 'IDENTIFIED' || (word(i) === 'AND' && word(i + 1) === 'IDENTIFIED')) {
    if (word(i) === 'AND') i++;
    i++; // IDENTIFIED
    if (word(i) === 'WITH') {
      i += 2; // WITH plugin
      if (word(i) === 'AS' || word(i) === 'BY') i += 2;
    } else if (word(i) === 'BY') {
      i += word(i + 1) === 'PASSWORD' ? 3 : 2;
    } else if (word(i) === 'VIA') {
      i += 2;
      if (word(i) === 'USING' || word(i) === 'AS') i += 2;
      while (word(i) === 'OR') {
        i += 2;
        if (word(i) === 'USING' || word(i) === 'AS') i += 2;
      }
    }
  }
  if (word(i) === 'INITIAL' && word(i + 1) === 'AUTHENTICATION') {
    // MySQL's multi-factor registration: IDENTIFIED BY RANDOM PASSWORD / WITH plugin AS '…'
    i += 2;
    while (
      i < tokens.length &&
      !['REQUIRE', 'WITH', 'PASSWORD', 'ACCOUNT', 'DEFAULT'].includes(word(i))
    )
      i++;
  }
  const rest = tokens.slice(i);
  const kept: Token[] = [];
  for (let j = 0; j < rest.length; j++) {
    const w = rest[j]?.kind === 'word' ? (rest[j]?.text.toUpperCase() ?? '') : '';
    const next = rest[j + 1]?.kind === 'word' ? (rest[j + 1]?.text.toUpperCase() ?? '') : '';
    if (w === 'DEFAULT' && next === 'ROLE') {
      // DEFAULT ROLE `r`@`h`[, …]
      j += 2;
      while (j < rest.length) {
        j += rest[j + 1]?.text === '@' ? 3 : 1;
        if (rest[j]?.text !== ',') break;
        j++;
      }
      j--;
      continue;
    }
    if (w === 'PASSWORD' && next === 'EXPIRE') {
      const after = rest[j + 2]?.kind === 'word' ? (rest[j + 2]?.text.toUpperCase() ?? '') : '';
      if (!['INTERVAL', 'DEFAULT', 'NEVER'].includes(after)) {
        j++;
        continue;
      }
    }
    const token = rest[j];
    if (token) kept.push(token);
  }
  // The line's own text between tokens that follow each other, one space across a removed clause.
  let out = '';
  kept.forEach((token, index) => {
    const previous = kept[index - 1];
    const end = token.start + token.text.length;
    if (previous && tokens.indexOf(previous) === tokens.indexOf(token) - 1) {
      out += line.slice(previous.start + previous.text.length, end);
    } else {
      out += `${out === '' ? '' : ' '}${token.text}`;
    }
  });
  return out.trim();
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
 * the base lacks) is briefly absent.
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
    }
  }

  for (const [object, privileges] of byObject(extra)) {
    if (privileges.length > 0)
      revokes.push(`REVOKE ${privileges.join(', ')} ON ${object} FROM ${target}`);
    if (extra.some((r) => r.kind === 'grant-option' && r.object === object)) {
      revokes.push(`REVOKE GRANT OPTION ON ${object} FROM ${target}`);
    }
  }
  for (const r of extra) {
    if (r.kind === 'privilege' && r.dynamic) {
      revokes.push(`REVOKE ${r.privilege} ON *.* FROM ${target}`);
    } else if (r.kind === 'dynamic-grant-option' && base.has(`${r.privilege} ON *.*`)) {
      // MySQL has no REVOKE GRANT OPTION for one dynamic privilege.
      revokes.push(`REVOKE ${r.privilege} ON *.* FROM ${target}`);
      regrants.push(`GRANT ${r.privilege} ON *.* TO ${target}`);
    } else if (r.kind === 'role') {
      revokes.push(`REVOKE ${r.role} FROM ${target}`);
      roleRevoked = true;
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
    settings.push(`ALTER USER ${target} ${options.options}`);
  }
  const defaults = [...base.values()].find((r) => r.kind === 'default-roles');
  // Revoking a role drops it from the default roles, so they are set last, whenever they differ
  // or a role was revoked.
  if (defaults?.kind === 'default-roles' && (!clone.has(defaults.label) || roleRevoked)) {
    const list = defaults.roles.length > 0 ? defaults.roles.join(', ') : 'NONE';
    settings.push(
      flavor === 'mysql'
        ? `SET DEFAULT ROLE ${list} TO ${target}`
        : `SET DEFAULT ROLE ${list} FOR ${target}`,
    );
  }
  return [...grants, ...revokes, ...regrants, ...settings];
}
