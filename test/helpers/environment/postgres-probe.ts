import { Client, type ClientConfig } from 'pg';

/** What a running server reports about itself. */
export interface PostgresFacts {
  /** `SHOW server_version`, e.g. `15.18 (Debian 15.18-0+deb12u1)`. */
  version: string;
  /** Whether TLS is enabled on the server. */
  ssl: boolean;
}

/** Connects once, reads the server version and TLS setting, and disconnects. */
export async function probePostgres(config: ClientConfig): Promise<PostgresFacts> {
  const client = new Client({ connectionTimeoutMillis: 5_000, ...config });
  // Without a listener, a connection dropped by a stopping server would crash the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const result = await client.query<{ version: string; ssl: string }>(
      "SELECT current_setting('server_version') AS version, current_setting('ssl') AS ssl",
    );
    const row = result.rows[0];
    if (!row) {
      throw new Error('server returned no row for its version');
    }
    return { version: row.version, ssl: row.ssl === 'on' };
  } finally {
    await client.end();
  }
}

/** The major version number from a `server_version` string. */
export function majorVersion(version: string): number {
  const major = Number.parseInt(version, 10);
  if (Number.isNaN(major)) {
    throw new Error(`cannot read a major version from "${version}"`);
  }
  return major;
}
