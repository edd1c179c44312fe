import { type ConnectionOptions, createConnection, type RowDataPacket } from 'mysql2/promise';

/** What a running MySQL or MariaDB server reports about itself. */
export interface MysqlFacts {
  flavor: 'mariadb' | 'mysql';
  /** `SELECT VERSION()`, e.g. `10.11.19-MariaDB-0+deb12u1` or `8.4.5`. */
  version: string;
  /** Whether TLS is enabled on the server (it has a certificate loaded). */
  tlsCapable: boolean;
  /** `require_secure_transport` (absent on old servers, then false). */
  requireSecureTransport: boolean;
}

/** Connects once, reads the server version and TLS settings, and disconnects. */
export async function probeMysql(options: ConnectionOptions): Promise<MysqlFacts> {
  const connection = await createConnection({ connectTimeout: 5_000, ...options });
  // Without a listener, a connection dropped by a stopping server would crash the process.
  connection.on('error', () => undefined);
  try {
    const version = await singleValue(connection, 'SELECT VERSION() AS Value');
    // SHOW ... LIKE answers no row (rather than failing) for a variable an older server lacks.
    // `have_ssl` is gone in MySQL 8.4, so TLS support is read from the loaded certificate instead.
    const requireSecureTransport = await singleValue(
      connection,
      "SHOW GLOBAL VARIABLES LIKE 'require\\_secure\\_transport'",
    );
    const certificateExpiry = await singleValue(
      connection,
      "SHOW GLOBAL STATUS LIKE 'Ssl\\_server\\_not\\_after'",
    );
    const sessionCipher = await singleValue(connection, "SHOW SESSION STATUS LIKE 'Ssl\\_cipher'");
    if (version === undefined) {
      throw new Error('server returned no row for its version');
    }
    return {
      flavor: mysqlFlavor(version),
      version,
      tlsCapable: Boolean(certificateExpiry) || Boolean(sessionCipher),
      requireSecureTransport: ['ON', '1'].includes(String(requireSecureTransport).toUpperCase()),
    };
  } finally {
    await connection.end().catch(() => undefined);
  }
}

async function singleValue(
  connection: Awaited<ReturnType<typeof createConnection>>,
  sql: string,
): Promise<string | undefined> {
  const [rows] = await connection.query<RowDataPacket[]>(sql);
  const value: unknown = rows[0]?.Value;
  return value === undefined || value === null ? undefined : String(value);
}

/** `mariadb` if `VERSION()` names MariaDB, otherwise `mysql` (which includes MySQL forks such as Percona). */
export function mysqlFlavor(version: string): 'mariadb' | 'mysql' {
  return /mariadb/i.test(version) ? 'mariadb' : 'mysql';
}

/** `major.minor` from a `VERSION()` string, e.g. `10.11` from `10.11.19-MariaDB-0+deb12u1`. */
export function majorMinorVersion(version: string): string {
  const match = /^(\d+)\.(\d+)/.exec(version);
  if (!match) {
    throw new Error(`cannot read a major.minor version from "${version}"`);
  }
  return `${match[1]}.${match[2]}`;
}
