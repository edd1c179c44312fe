/**
 * Pair mode's parity check on MySQL and MariaDB: what the session's account may do, read in its own
 * session from what every account may read about itself, so neither user of a pair needs a
 * privilege for it (no SELECT on the `mysql` schema):
 * - `SHOW GRANTS FOR` the account itself, named as CURRENT_USER() gives it. Not `FOR
 *   CURRENT_USER()`: on MySQL that merges in the privileges of the roles active in the session,
 *   so a default role's grants would show as the user's own;
 * - `SHOW CREATE USER` of the account itself, which both allow for oneself without a privilege
 *   (verified on MySQL 9.7, MariaDB 10.11 and 11.8);
 * - information_schema's USER_PRIVILEGES, SCHEMA_PRIVILEGES and TABLE_PRIVILEGES, filtered to the
 *   account, only to spell out an `ALL PRIVILEGES` of SHOW GRANTS as the privileges it stands for.
 * Each right is one line that names neither user of the pair (either one, in a role or a PROXY
 * grant, is `<self>` or `<partner>`), deduplicated and sorted, so two accounts with the same
 * grants and options give the same list:
 * - every privilege at every level, one line each: global (static, and MySQL's dynamic
 *   privileges), database, table, column (`SELECT (`c`) ON `db`.`t``) and routine;
 * - GRANT OPTION: one line per level for static privileges (the server keeps one flag per level),
 *   one per privilege for MySQL's dynamic ones (`XA_RECOVER_ADMIN ON *.* WITH GRANT OPTION`);
 * - roles granted, with ADMIN OPTION, and the default roles. Roles compare by name: a role is one
 *   account on the server, so the same role gives both users the same privileges, and what it
 *   grants is not read (MySQL would show it with `SHOW GRANTS … USING`, MariaDB only for an enabled
 *   role). A privilege one user holds directly and the other through a role is a difference;
 * - PROXY grants with their GRANT OPTION, and MySQL's partial revokes (`REVOKE … ON db.*` lines);
 * - the account options, each on its own line and at its default when the server does not print
 *   it: REQUIRE (each of ISSUER, SUBJECT, CIPHER apart), the resource limits (MariaDB's
 *   MAX_STATEMENT_TIME too), the password lifetime, ACCOUNT LOCK, and MySQL's PASSWORD HISTORY,
 *   PASSWORD REUSE INTERVAL, PASSWORD REQUIRE CURRENT, FAILED_LOGIN_ATTEMPTS and
 *   PASSWORD_LOCK_TIME.
 * Left out by design: the account's own name and host; its authentication (plugin, and the
 * password hash, which MariaDB shows a user about itself, and MySQL to a user who may read
 * mysql.user); comments and attributes; whether the password has expired now; what every account
 * gets alike (MariaDB's PUBLIC, MySQL's mandatory_roles, server-wide max_password_errors). A SHOW
 * GRANTS line or account option it does not know is kept as a line, its string literals blanked.
 * It cannot see what MYSQL_UNSEEN lists.
 */
import mysql2 from 'mysql2/promise';
import type { OwnRights } from '../engine';
import {
  expandPrivilege,
  findWord,
  isWord,
  joinTokens,
  parseGrants,
  splitTopLevel,
  type Token,
  tokenize,
} from './grants';
import { accountName, quoteName } from './rights';

type Row = Record<string, unknown>;

/** Runs one read-only statement; the session's own `run`. */
export type MysqlQuery = (sql: string, verb?: string) => Promise<Row[]>;

export const MYSQL_UNSEEN = [
  'accounts of the same user name at other hosts, and which hosts each user is defined at (which addresses it may log in from)',
  'what the granted roles allow: roles compare by name, so a privilege one user holds directly and the other through a role shows as a difference',
  'objects the user is the DEFINER of (views, routines, triggers and events run with their definer’s rights)',
  'the authentication method, comments and attributes, an expired password, and temporary failed-login locks',
];

/** One row of information_schema's privilege views, for the session's own account. */
export interface ViewPrivilege {
  level: 'global' | 'database' | 'table';
  db: string;
  table: string;
  privilege: string;
}

/** What the session read about itself, as the server printed it. */
export interface OwnGrantsText {
  flavor: 'mysql' | 'mariadb';
  /** The session's user name (CURRENT_USER()'s), and the other user of the pair. */
  self: string;
  partner: string;
  /** `SHOW GRANTS FOR` the account, one line each. */
  grants: readonly string[];
  /** `SHOW CREATE USER` of the account: one row, MariaDB sometimes two (`ALTER USER …`). */
  createUser: readonly string[];
  privileges: readonly ViewPrivilege[];
}

/** Every right, as lines; see the module comment. */
export async function readOwnRights(
  run: MysqlQuery,
  flavor: 'mysql' | 'mariadb',
  partner: string,
): Promise<OwnRights> {
  const [row] = await run('SELECT CURRENT_USER() AS account', 'SELECT CURRENT_USER()');
  const current = text(row?.account);
  // A host never holds `@`; a user name may.
  const at = current.lastIndexOf('@');
  const self = { user: current.slice(0, at), host: current.slice(at + 1) };
  const account = accountName(self.user, self.host);
  const grants = (await run(`SHOW GRANTS FOR ${account}`, 'SHOW GRANTS')).map(firstColumn);
  const createUser = (await run(`SHOW CREATE USER ${account}`, 'SHOW CREATE USER')).map(
    firstColumn,
  );
  // information_schema shows other accounts' rows too to a user who may read the `mysql` schema;
  // GRANTEE is `'user'@'host'`, its quotes not escaped, and compared case-sensitively.
  const grantee = mysql2.escape(`'${self.user}'@'${self.host}'`);
  const c = (column: string) => `CONVERT(${column} USING utf8mb4)`;
  const view = (level: string, db: string, table: string, from: string) =>
    `SELECT '${level}' AS level, ${c(db)} AS db, ${c(table)} AS tbl, ${c('PRIVILEGE_TYPE')} AS privilege FROM information_schema.${from} WHERE ${c('GRANTEE')} COLLATE utf8mb4_bin = ${grantee}`;
  const rows = await run(
    [
      view('global', "''", "''", 'USER_PRIVILEGES'),
      view('database', 'TABLE_SCHEMA', "''", 'SCHEMA_PRIVILEGES'),
      view('table', 'TABLE_SCHEMA', 'TABLE_NAME', 'TABLE_PRIVILEGES'),
    ].join(' UNION ALL '),
    'SELECT information_schema privileges',
  );
  const privileges = rows.map((r) => ({
    level: text(r.level) as ViewPrivilege['level'],
    db: text(r.db),
    table: text(r.tbl),
    privilege: text(r.privilege),
  }));
  const lines = ownRightsLines({
    flavor,
    self: self.user,
    partner,
    grants,
    createUser,
    privileges,
  });
  // Account options and partial revokes narrow the account: they must be equal both ways.
  const isLimit = (line: string) =>
    line.startsWith('account option ') || line.startsWith('partial revoke ');
  return {
    rights: lines.filter((line) => !isLimit(line)),
    limits: lines.filter(isLimit),
    unseen: MYSQL_UNSEEN,
  };
}

/** The lines of one account's rights, from what it read about itself (pure; see the module comment). */
export function ownRightsLines(input: OwnGrantsText): string[] {
  const { flavor } = input;
  const lines = new Set<string>();
  const add = (line: string) => lines.add(line);
  const neutral = neutralizer(input.self, input.partner);
  const spelled = allPrivileges(input.privileges);
  const defaultRoles: string[] = [];

  for (const line of input.grants) {
    const tokens = tokenize(line);
    if (isWord(tokens[0], 'SET') && isWord(tokens[1], 'DEFAULT') && isWord(tokens[2], 'ROLE')) {
      // MariaDB: SET DEFAULT ROLE `r` FOR `user`@`host`
      const end = findWord(tokens, 'FOR', 3);
      const roles = splitTopLevel(tokens.slice(3, end < 0 ? tokens.length : end));
      for (const role of roles) {
        const name = joinTokens(role);
        if (name.toUpperCase() !== 'NONE') defaultRoles.push(neutral(name));
      }
      continue;
    }
    if (isWord(tokens[0], 'REVOKE')) {
      // MySQL's partial revoke: REVOKE INSERT, UPDATE ON `db`.* FROM `user`@`host`
      const on = findWord(tokens, 'ON', 1);
      const from = findWord(tokens, 'FROM', 1);
      if (on < 0 || from < on) {
        add(notUnderstood('SHOW GRANTS line', tokens, neutral));
        continue;
      }
      const object = joinTokens(tokens.slice(on + 1, from));
      for (const privilege of splitTopLevel(tokens.slice(1, on))) {
        for (const p of expandPrivilege(privilege)) add(`partial revoke ${p} ON ${object}`);
      }
      continue;
    }
    const parsed = parseGrants([line]);
    if (parsed.unparsed.length > 0) {
      add(notUnderstood('SHOW GRANTS line', tokens, neutral));
      continue;
    }
    for (const [role, admin] of parsed.roles) {
      add(`role ${neutral(role)}`);
      if (admin) add(`role ${neutral(role)} WITH ADMIN OPTION`);
    }
    for (const [object, held] of parsed.privileges) {
      const grantable = parsed.grantOption.has(object);
      if (isAccount(object)) {
        // PROXY ON `user`@`host`
        const proxied = neutral(object);
        for (const p of held) add(`${p} ON ${proxied}`);
        if (grantable) add(`PROXY ON ${proxied} WITH GRANT OPTION`);
        continue;
      }
      const all = held.has('ALL PRIVILEGES') || held.has('ALL');
      const privileges = all
        ? [...held]
            .filter((p) => p !== 'ALL' && p !== 'ALL PRIVILEGES')
            .concat(spelled.get(object) ?? ['ALL PRIVILEGES'])
        : [...held];
      for (const p of privileges) add(`${p} ON ${object}`);
      if (!grantable) continue;
      const dynamic = privileges.filter((p) => isDynamic(flavor, object, p));
      if (dynamic.length < privileges.length || privileges.length === 0) {
        add(`GRANT OPTION ON ${object}`);
      }
      for (const p of dynamic) add(`${p} ON ${object} WITH GRANT OPTION`);
    }
  }

  const options = accountOptions(flavor, input.createUser, neutral);
  for (const line of options.lines) add(line);
  defaultRoles.push(...options.defaultRoles);
  const roles = [...new Set(defaultRoles)].sort();
  add(`default roles ${roles.length > 0 ? roles.join(', ') : 'NONE'}`);
  return [...lines].sort();
}

/** What `ALL PRIVILEGES` stands for at each object, from information_schema (the server's own list). */
function allPrivileges(rows: readonly ViewPrivilege[]): Map<string, string[]> {
  const byObject = new Map<string, Set<string>>();
  for (const row of rows) {
    const name = row.privilege.toUpperCase();
    if (name === 'USAGE') continue;
    const object =
      row.level === 'global'
        ? '*.*'
        : row.level === 'database'
          ? `${quoteName(row.db)}.*`
          : `${quoteName(row.db)}.${quoteName(row.table)}`;
    byObject.set(object, (byObject.get(object) ?? new Set()).add(name));
  }
  return new Map([...byObject].map(([object, set]) => [object, [...set]]));
}

/**
 * MySQL's dynamic privileges (`XA_RECOVER_ADMIN`, `SYSTEM_USER`, …) are held on `*.*` only and
 * carry GRANT OPTION one by one; their names are words joined by `_`, which no static privilege's
 * name has. MariaDB has none.
 */
function isDynamic(flavor: 'mysql' | 'mariadb', object: string, privilege: string): boolean {
  return flavor === 'mysql' && object === '*.*' && /^[A-Z0-9]+(?:_[A-Z0-9]+)+$/.test(privilege);
}

const QUOTED_PART = String.raw`(?:\`(?:[^\`]|\`\`)*\`|'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|[\w$.-]+)`;
const ACCOUNT = new RegExp(`^(${QUOTED_PART})@(${QUOTED_PART})$`);

/** `` `user`@`host` ``, `'user'@'host'`: an account (a PROXY target, or a MySQL role). */
function isAccount(object: string): boolean {
  return ACCOUNT.test(object);
}

/** Replaces either user of the pair, named as an account, by `<self>` or `<partner>` (host and all). */
function neutralizer(self: string, partner: string): (name: string) => string {
  return (name) => {
    const match = ACCOUNT.exec(name);
    if (!match) return name;
    const user = unquote(match[1] as string);
    if (user === self) return '<self>';
    if (user === partner) return '<partner>';
    return name;
  };
}

/** The value of a quoted token (backticks, single or double quotes), or the token itself. */
export function unquote(token: string): string {
  const quote = token[0];
  if (quote !== '`' && quote !== "'" && quote !== '"') return token;
  const body = token.slice(1, -1);
  if (quote === '`') return body.replaceAll('``', '`');
  const escapes: Record<string, string> = { n: '\n', r: '\r', t: '\t', '0': '\0', Z: '\x1a' };
  return body.replace(/\\(.)|''|""/gs, (whole, escaped: string | undefined) => {
    if (escaped !== undefined) return escapes[escaped] ?? escaped;
    // A doubled quote is one quote only inside a string of that quote.
    return whole[0] === quote ? quote : whole;
  });
}

/**
 * A line the parser does not know, kept so that it still compares: either user of the pair made
 * neutral, every string literal blanked (where a hash would be), identifiers kept.
 */
function notUnderstood(what: string, tokens: Token[], neutral: (name: string) => string): string {
  const shown: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (tokens[i + 1]?.text === '@' && tokens[i + 2]) {
      const account = joinTokens(tokens.slice(i, i + 3));
      shown.push({ text: neutral(account), kind: 'word', start: t.start });
      i += 2;
    } else if (t.kind === 'quoted' && t.text[0] !== '`') {
      shown.push({ text: "'…'", kind: 'quoted', start: t.start });
    } else {
      shown.push(t);
    }
  }
  return `${what} not understood: ${joinTokens(shown)}`;
}

/** The options every account has, at their defaults, by flavor. */
function defaultOptions(flavor: 'mysql' | 'mariadb'): Map<string, string> {
  const options = new Map<string, string>([
    ['REQUIRE', 'NONE'],
    ['MAX_QUERIES_PER_HOUR', '0'],
    ['MAX_UPDATES_PER_HOUR', '0'],
    ['MAX_CONNECTIONS_PER_HOUR', '0'],
    ['MAX_USER_CONNECTIONS', '0'],
    ['PASSWORD EXPIRE', 'DEFAULT'],
    ['ACCOUNT', 'UNLOCK'],
  ]);
  if (flavor === 'mariadb') {
    options.set('MAX_STATEMENT_TIME', '0');
  } else {
    options.set('PASSWORD HISTORY', 'DEFAULT');
    options.set('PASSWORD REUSE INTERVAL', 'DEFAULT');
    options.set('PASSWORD REQUIRE CURRENT', 'DEFAULT');
    options.set('FAILED_LOGIN_ATTEMPTS', '0');
    options.set('PASSWORD_LOCK_TIME', '0');
  }
  return options;
}

/** Words that start a clause of SHOW CREATE USER after the account name. */
const CLAUSES = new Set([
  'IDENTIFIED',
  'DEFAULT',
  'REQUIRE',
  'WITH',
  'PASSWORD',
  'ACCOUNT',
  'FAILED_LOGIN_ATTEMPTS',
  'PASSWORD_LOCK_TIME',
  'COMMENT',
  'ATTRIBUTE',
]);

/**
 * The account options of `SHOW CREATE USER` (MySQL: `CREATE USER … IDENTIFIED WITH 'plugin' AS
 * <secret> DEFAULT ROLE … REQUIRE NONE PASSWORD EXPIRE DEFAULT ACCOUNT UNLOCK …`; MariaDB: `CREATE
 * USER … IDENTIFIED BY PASSWORD '*…' REQUIRE SSL WITH MAX_USER_CONNECTIONS 5`, and a second row
 * `ALTER USER … PASSWORD EXPIRE NEVER` when the password has expired), one line each, and MySQL's
 * default roles. The authentication clause is skipped whole, its hash never read into a line.
 */
export function accountOptions(
  flavor: 'mysql' | 'mariadb',
  rows: readonly string[],
  neutral: (name: string) => string = (name) => name,
): { lines: string[]; defaultRoles: string[] } {
  const options = defaultOptions(flavor);
  const requires: string[] = [];
  const defaultRoles: string[] = [];
  const unknown: string[] = [];
  for (const row of rows) {
    const t = tokenize(row);
    const word = (i: number) => (t[i]?.kind === 'word' ? (t[i] as Token).text.toUpperCase() : '');
    if (!(['CREATE', 'ALTER'].includes(word(0)) && word(1) === 'USER')) {
      unknown.push(notUnderstood('SHOW CREATE USER row', t, neutral));
      continue;
    }
    let i = t[3]?.text === '@' ? 5 : 3;
    /** A number (`1.500000`, which the tokenizer splits at the dot) as JavaScript prints it. */
    const number = (): string => {
      let value = t[i]?.text ?? '';
      i++;
      if (t[i]?.text === '.' && /^\d+$/.test(t[i + 1]?.text ?? '')) {
        value += `.${t[i + 1]?.text}`;
        i += 2;
      }
      return Number.isFinite(Number(value)) ? String(Number(value)) : value.toUpperCase();
    };
    while (i < t.length) {
      const w = word(i);
      if (w === 'IDENTIFIED') {
        i = skipAuthentication(t, i);
      } else if (w === 'DEFAULT' && word(i + 1) === 'ROLE') {
        i += 2;
        const start = i;
        while (i < t.length && !CLAUSES.has(word(i))) i++;
        for (const role of splitTopLevel(t.slice(start, i))) {
          const name = joinTokens(role);
          if (name.toUpperCase() !== 'NONE') defaultRoles.push(neutral(name));
        }
      } else if (w === 'REQUIRE') {
        i++;
        if (['NONE', 'SSL', 'X509'].includes(word(i))) {
          options.set('REQUIRE', word(i));
          i++;
        }
        while (['ISSUER', 'SUBJECT', 'CIPHER', 'AND'].includes(word(i))) {
          if (word(i) !== 'AND') {
            requires.push(`${word(i)} ${mysql2.escape(unquote(t[i + 1]?.text ?? ''))}`);
            i++;
          }
          i++;
        }
      } else if (w === 'WITH') {
        i++;
        while (word(i).startsWith('MAX_')) {
          const limit = word(i);
          i++;
          options.set(limit, number());
        }
      } else if (w === 'PASSWORD' && word(i + 1) === 'EXPIRE') {
        i += 2;
        if (word(i) === 'DEFAULT' || word(i) === 'NEVER') {
          options.set('PASSWORD EXPIRE', word(i));
          i++;
        } else if (word(i) === 'INTERVAL') {
          i++;
          options.set('PASSWORD EXPIRE', `INTERVAL ${number()} DAY`);
          if (word(i) === 'DAY') i++;
        }
        // Bare PASSWORD EXPIRE: the password has expired now (not a right; see the module comment).
      } else if (w === 'PASSWORD' && word(i + 1) === 'HISTORY') {
        i += 2;
        options.set('PASSWORD HISTORY', number());
      } else if (w === 'PASSWORD' && word(i + 1) === 'REUSE' && word(i + 2) === 'INTERVAL') {
        i += 3;
        const days = number();
        options.set('PASSWORD REUSE INTERVAL', days === 'DEFAULT' ? days : `${days} DAY`);
        if (word(i) === 'DAY') i++;
      } else if (w === 'PASSWORD' && word(i + 1) === 'REQUIRE' && word(i + 2) === 'CURRENT') {
        i += 3;
        // PASSWORD REQUIRE CURRENT [DEFAULT | OPTIONAL]; alone, it is required.
        const which = word(i) === 'DEFAULT' || word(i) === 'OPTIONAL' ? word(i) : '';
        if (which) i++;
        options.set('PASSWORD REQUIRE CURRENT', which);
      } else if (w === 'ACCOUNT' && (word(i + 1) === 'LOCK' || word(i + 1) === 'UNLOCK')) {
        options.set('ACCOUNT', word(i + 1));
        i += 2;
      } else if (w === 'FAILED_LOGIN_ATTEMPTS' || w === 'PASSWORD_LOCK_TIME') {
        i++;
        options.set(w, number());
      } else if (w === 'COMMENT' || w === 'ATTRIBUTE') {
        i += 2;
      } else {
        // One token at a time: what follows may still be understood.
        unknown.push(notUnderstood('account option', [t[i] as Token], neutral));
        i++;
      }
    }
  }
  const lines = [...options].flatMap(([key, value]) => {
    if (key === 'REQUIRE' && requires.length > 0) {
      return requires.map((part) => `account option REQUIRE ${part}`);
    }
    return [`account option ${key} ${value}`.trimEnd()];
  });
  return { lines: [...lines, ...unknown], defaultRoles };
}

/**
 * The index just past an authentication clause: MySQL's `IDENTIFIED WITH 'plugin' [AS <secret> |
 * AS '…' | AS 0x…] [AND IDENTIFIED WITH …]`, MariaDB's `IDENTIFIED BY PASSWORD '…'` and
 * `IDENTIFIED VIA plugin [USING '…'] [OR plugin …]`.
 */
function skipAuthentication(t: Token[], start: number): number {
  const word = (i: number) => (t[i]?.kind === 'word' ? (t[i] as Token).text.toUpperCase() : '');
  const value = (i: number) => {
    if (t[i]?.text !== '<') return i + 1;
    let j = i;
    while (j < t.length && t[j]?.text !== '>') j++;
    return j + 1;
  };
  let i = start;
  for (;;) {
    i++; // IDENTIFIED
    if (word(i) === 'WITH') {
      i += 2; // WITH plugin
      if (word(i) === 'AS') i = value(i + 1);
    } else if (word(i) === 'BY') {
      i++;
      if (word(i) === 'PASSWORD') i++;
      i = value(i);
    } else if (word(i) === 'VIA') {
      i++;
      for (;;) {
        i++; // the plugin
        if (word(i) === 'USING') i = value(i + 1);
        if (word(i) !== 'OR') break;
        i++;
      }
    }
    if (word(i) === 'AND' && word(i + 1) === 'IDENTIFIED') {
      i++;
      continue;
    }
    return i;
  }
}

function firstColumn(row: Row): string {
  return text(Object.values(row)[0]);
}

function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}
