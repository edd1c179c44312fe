/** A PostgreSQL server the integration suites run against, reachable with superuser credentials. */
export interface PostgresServer {
  /** Stable label for test names, e.g. `postgresql-15`. */
  name: string;
  /** `SHOW server_version` as reported by the running server. */
  version: string;
  host: string;
  port: number;
  superuser: string;
  superuserPassword: string;
  /** PEM file of the CA that signed the server certificate (for `NODE_EXTRA_CA_CERTS`), if known. */
  caFile: string | undefined;
  /** Whether the server accepts TLS connections (`SHOW ssl` is `on`). */
  tlsCapable: boolean;
}

/** A MySQL-protocol server (MySQL or MariaDB) the integration suites run against, with an administrator account. */
export interface MysqlServer {
  /** Stable label for test names, e.g. `mariadb-10.11`, `mariadb-10.11-require-tls` or `mysql-8.4`. */
  name: string;
  /** Which server family answers: MariaDB's `VERSION()` contains `MariaDB`. */
  flavor: 'mariadb' | 'mysql';
  /** `SELECT VERSION()` as reported by the running server, e.g. `10.11.19-MariaDB-0+deb12u1`. */
  version: string;
  host: string;
  port: number;
  /** An account with `ALL PRIVILEGES ON *.* WITH GRANT OPTION`, reachable over TCP from `host`. */
  rootUser: string;
  rootPassword: string;
  /** PEM file of the CA that signed the server certificate (for `NODE_EXTRA_CA_CERTS`), if known. */
  caFile: string | undefined;
  /** Whether the server accepts TLS connections (it has a certificate loaded). */
  tlsCapable: boolean;
  /** Whether the server refuses connections without TLS (`require_secure_transport=ON`). */
  requireSecureTransport: boolean;
}

/**
 * Everything the integration suites need, shared from jest's globalSetup with the test workers
 * through `process.env.ROTATION_TEST_ENV`, so it must stay JSON-serialisable.
 */
export interface TestEnvironment {
  postgres: PostgresServer[];
  mysql: MysqlServer[];
  /** Secrets Manager endpoint URL (moto), e.g. `http://127.0.0.1:5123`. */
  secretsManagerEndpoint: string;
  /** Temporary directory holding certificates, data directories, server logs and `captured-logs/`. */
  runDir: string;
  /**
   * How the database servers were obtained: `external` when both `TEST_POSTGRES_URL` and
   * `TEST_MYSQL_URL` are set, otherwise how the others were started (one provider serves both
   * engines). Secrets Manager may come from a different source: an external endpoint is used
   * whenever `TEST_SECRETS_MANAGER_ENDPOINT` is set.
   */
  mode: 'testcontainers' | 'local' | 'external';
}

/** A started server (or endpoint) together with the function that stops it. */
export interface Started<T> {
  value: T;
  stop: () => Promise<void>;
}
