// What a MySQL or MariaDB server supports, by its version: shared by the adapter (mysql/index.ts) and
// preflight's inspection (mysql/inspect.ts), so that neither imports the other.

/** The server's own account of what it is, from `SELECT VERSION()`. */
export interface ServerInfo {
  flavor: 'mysql' | 'mariadb';
  major: number;
  minor: number;
  patch: number;
}

/** `8.0.36`, `5.7.44-log`, `8.0.mysql_aurora.3.05.2`, `10.11.19-MariaDB-0+deb12u1`, `5.5.5-10.6.14-MariaDB`. */
export function parseServerVersion(version: string): ServerInfo {
  const flavor = /mariadb/i.test(version) ? 'mariadb' : 'mysql';
  // MariaDB once prefixed its version with 5.5.5- for old clients.
  const text = flavor === 'mariadb' ? version.replace(/^5\.5\.5-/, '') : version;
  const [major = 0, minor = 0, patch = 0] = (text.match(/^(\d+)\.(\d+)(?:\.(\d+))?/) ?? [])
    .slice(1)
    .map((n) => Number(n ?? 0));
  return { flavor, major, minor, patch };
}

const atLeast = (info: ServerInfo, major: number, minor: number, patch = 0) =>
  info.major * 1e6 + info.minor * 1e3 + info.patch >= major * 1e6 + minor * 1e3 + patch;

/** `ALTER USER … IDENTIFIED BY` exists from MySQL 5.7.6 and MariaDB 10.2; before, `SET PASSWORD`. */
export function supportsAlterUser(info: ServerInfo): boolean {
  return info.flavor === 'mariadb' ? atLeast(info, 10, 2) : atLeast(info, 5, 7, 6);
}

/** The longest user name the server accepts, in characters. */
export function maxUsernameLength(info: ServerInfo): number {
  if (info.flavor === 'mariadb') return atLeast(info, 10, 0) ? 80 : 16;
  return atLeast(info, 5, 7, 8) ? 32 : 16;
}

/** `REPLACE 'current'` in ALTER USER, from MySQL 8.0.13 (not MariaDB). */
export function supportsReplace(info: ServerInfo): boolean {
  return info.flavor === 'mysql' && atLeast(info, 8, 0, 13);
}

/** Dual passwords (`RETAIN CURRENT PASSWORD`), from MySQL 8.0.14 (not MariaDB). */
export function supportsDualPasswords(info: ServerInfo): boolean {
  return info.flavor === 'mysql' && atLeast(info, 8, 0, 14);
}

/**
 * The oldest server alternating users levels rights on, or `undefined` when this one is new
 * enough: the rights model reads MySQL 8.0's mysql.global_grants, role_edges and default_roles,
 * and MariaDB 10.4's mysql.global_priv.
 */
export function alternatingUsersFloor(info: ServerInfo): string | undefined {
  if (info.flavor === 'mysql') return atLeast(info, 8, 0) ? undefined : 'MySQL 8.0';
  return atLeast(info, 10, 4) ? undefined : 'MariaDB 10.4';
}

/** mysql.user's Password_reuse_history and Password_reuse_time: MySQL 8.0.3. */
export function hasPasswordReuse(info: ServerInfo): boolean {
  return info.flavor === 'mysql' && atLeast(info, 8, 0, 3);
}

/** mysql.user's Password_require_current (PASSWORD REQUIRE CURRENT): MySQL 8.0.13. */
export function hasRequireCurrent(info: ServerInfo): boolean {
  return info.flavor === 'mysql' && atLeast(info, 8, 0, 13);
}

/**
 * Partial revokes (`partial_revokes`, kept in mysql.user's User_attributes, a column MySQL 8.0.14
 * added for dual passwords): MySQL 8.0.16.
 */
export function hasPartialRevokes(info: ServerInfo): boolean {
  return info.flavor === 'mysql' && atLeast(info, 8, 0, 16);
}

/** FAILED_LOGIN_ATTEMPTS and PASSWORD_LOCK_TIME (in User_attributes): MySQL 8.0.19. */
export function hasFailedLoginTracking(info: ServerInfo): boolean {
  return info.flavor === 'mysql' && atLeast(info, 8, 0, 19);
}

/** `MySQL 8.0.36`, `MariaDB 11.8.2`. */
export function serverName(info: ServerInfo): string {
  return `${info.flavor === 'mariadb' ? 'MariaDB' : 'MySQL'} ${info.major}.${info.minor}.${info.patch}`;
}
