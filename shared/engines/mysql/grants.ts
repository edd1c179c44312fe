/**
 * Reads `SHOW GRANTS` lines (MySQL 5.7, 8.x and MariaDB) into privileges per object, for
 * preflight's check that a master can pass on what a base user holds, and for pair mode's parity
 * check (mysql/own-rights.ts), which reads a user's own grants. Alternating users compare
 * effective rights (mysql/rights.ts), not grant text.
 */

/** What one account holds, as parsed from its `SHOW GRANTS` output. */
export interface AccountGrants {
  /** Object text as the server prints it (`*.*`, `` `db`.* ``, `` PROCEDURE `db`.`p` ``) → privileges. */
  privileges: Map<string, Set<string>>;
  /** Objects on which the account holds GRANT OPTION. */
  grantOption: Set<string>;
  /** Granted roles as the server prints them (`` `r1`@`%` `` on MySQL, `` `r1` `` on MariaDB) → admin option. */
  roles: Map<string, boolean>;
}

/** A token and where it starts in the line. */
export type Token = { text: string; kind: 'quoted' | 'word' | 'punct'; start: number };

/** Splits a grant line into tokens, keeping quoted names (which may contain ` TO `) whole. */
export function tokenize(line: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '`' || c === "'" || c === '"') {
      let j = i + 1;
      while (j < line.length) {
        if (line[j] === '\\' && c !== '`') {
          j += 2;
        } else if (line[j] === c && line[j + 1] === c) {
          j += 2;
        } else if (line[j] === c) {
          break;
        } else {
          j++;
        }
      }
      tokens.push({ text: line.slice(i, j + 1), kind: 'quoted', start: i });
      i = j + 1;
    } else if (/[A-Za-z0-9_$*]/.test(c)) {
      let j = i;
      while (j < line.length && /[A-Za-z0-9_$*]/.test(line[j] as string)) j++;
      tokens.push({ text: line.slice(i, j), kind: 'word', start: i });
      i = j;
    } else {
      tokens.push({ text: c, kind: 'punct', start: i });
      i++;
    }
  }
  return tokens;
}

export const isWord = (t: Token | undefined, word: string) =>
  t?.kind === 'word' && t.text.toUpperCase() === word;

/** Joins tokens back into SQL text: `` `db`.`t` ``, `'u'@'h'`, `SELECT (`a`)`, `a, b`. */
export function joinTokens(tokens: Token[]): string {
  let out = '';
  tokens.forEach((t, index) => {
    const previous = tokens[index - 1];
    const tight =
      previous === undefined ||
      ['.', '@', ',', ')'].includes(t.text) ||
      ['.', '@', '('].includes(previous.text);
    out += (tight ? '' : ' ') + t.text;
  });
  return out;
}

/** Splits on commas outside parentheses. */
export function splitTopLevel(tokens: Token[]): Token[][] {
  const parts: Token[][] = [[]];
  let depth = 0;
  for (const t of tokens) {
    if (t.text === '(') depth++;
    if (t.text === ')') depth--;
    if (t.text === ',' && depth === 0) parts.push([]);
    else parts[parts.length - 1]?.push(t);
  }
  return parts.filter((p) => p.length > 0);
}

/** `SELECT (`a`, `b`)` → `SELECT (`a`)`, `SELECT (`b`)`; `SELECT` → `SELECT`. */
export function expandPrivilege(tokens: Token[]): string[] {
  const open = tokens.findIndex((t) => t.text === '(');
  if (open < 0) return [joinTokens(tokens).toUpperCase()];
  const name = joinTokens(tokens.slice(0, open)).toUpperCase();
  const columns = splitTopLevel(tokens.slice(open + 1, tokens.length - 1));
  return columns.map((column) => `${name} (${joinTokens(column)})`);
}

/** Index of the first top-level word `word` at or after `from`, or -1. */
export function findWord(tokens: Token[], word: string, from = 0): number {
  let depth = 0;
  for (let i = from; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (t.text === '(') depth++;
    if (t.text === ')') depth--;
    if (depth === 0 && isWord(t, word)) return i;
  }
  return -1;
}

/** The end of the grantee (`` `u`@`h` `` or `'u'@'h'`) that starts at `start`. */
export function granteeEnd(tokens: Token[], start: number): number {
  return tokens[start + 1]?.text === '@' ? start + 3 : start + 1;
}

/**
 * Parses the `SHOW GRANTS` lines of one account. Lines it does not understand are reported;
 * MySQL's partial revokes (`REVOKE … ON db.* FROM …` lines) are kept apart: the rotation copies
 * them (mysql/rights.ts), and preflight needs nothing of the master for them.
 */
export function parseGrants(
  lines: string[],
): AccountGrants & { unparsed: string[]; partialRevokes: string[] } {
  const result: AccountGrants & { unparsed: string[]; partialRevokes: string[] } = {
    privileges: new Map(),
    grantOption: new Set(),
    roles: new Map(),
    unparsed: [],
    partialRevokes: [],
  };
  for (const line of lines) {
    const tokens = tokenize(line);
    if (isWord(tokens[0], 'REVOKE')) {
      result.partialRevokes.push(line);
      continue;
    }
    // MariaDB lists the default role among the grants; it is copied from mysql.user instead.
    if (isWord(tokens[0], 'SET') && isWord(tokens[1], 'DEFAULT') && isWord(tokens[2], 'ROLE'))
      continue;
    if (!isWord(tokens[0], 'GRANT')) {
      result.unparsed.push(line);
      continue;
    }
    const to = findWord(tokens, 'TO', 1);
    const on = findWord(tokens, 'ON', 1);
    if (to < 0) {
      result.unparsed.push(line);
      continue;
    }
    const rest = tokens.slice(granteeEnd(tokens, to + 1));
    const withIndex = findWord(rest, 'WITH');
    const option = withIndex >= 0 ? rest[withIndex + 1]?.text.toUpperCase() : undefined;
    if (on < 0 || on > to) {
      // A role grant: GRANT `r1`@`%`, `r2`@`%` TO … [WITH ADMIN OPTION]
      for (const role of splitTopLevel(tokens.slice(1, to))) {
        result.roles.set(joinTokens(role), option === 'ADMIN');
      }
      continue;
    }
    const object = joinTokens(tokens.slice(on + 1, to));
    const privileges = result.privileges.get(object) ?? new Set<string>();
    for (const privilege of splitTopLevel(tokens.slice(1, on))) {
      for (const p of expandPrivilege(privilege)) if (p !== 'USAGE') privileges.add(p);
    }
    result.privileges.set(object, privileges);
    if (option === 'GRANT') result.grantOption.add(object);
  }
  return result;
}
