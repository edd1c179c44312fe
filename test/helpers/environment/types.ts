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
  /** The container image it runs in, when testcontainers started it. */
  image?: string;
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
  /** The container image it runs in, when testcontainers started it. */
  image?: string;
}

/**
 * A MongoDB-wire-protocol server (MongoDB, or FerretDB emulating it) the integration suites run
 * against, with an administrator account that logs in with SCRAM.
 */
export interface MongoServer {
  /** Stable label for test names, e.g. `ferretdb-1.24` or `mongodb-8.0`. */
  name: string;
  /** Which server answers: FerretDB's `buildInfo` has a `ferretdbVersion` field. */
  kind: 'ferretdb' | 'mongodb';
  /**
   * The server's own version: `buildInfo.version` for MongoDB (e.g. `8.0.4`), `buildInfo.ferretdbVersion`
   * for FerretDB (e.g. `v1.24.0`; its `buildInfo.version` is the MongoDB version it emulates, `7.0.42`).
   */
  version: string;
  host: string;
  /** TLS port */
  port: number;
  /** plain-text port, if the server has one (the same as `port` when one port serves both) */
  plainPort: number | undefined;
  /** An account that can manage users in every database (`root` on MongoDB). */
  adminUser: string;
  adminPassword: string;
  /** The database `adminUser` is defined in (its `authSource`), normally `admin`. */
  adminDatabase: string;
  /** PEM file of the CA that signed the server certificate, if known. */
  caFile: string | undefined;
  /**
   * false on FerretDB 1.x: roles are neither stored nor enforced (`createUser`/`updateUser` with
   * non-empty `roles` fail with error 238 NotImplemented, `usersInfo` always reports `roles: []`,
   * and every authenticated user may run every command).
   */
  supportsRoles: boolean;
  /** The container image it runs in, when testcontainers started it. */
  image?: string;
}

/**
 * Everything the integration suites need, shared from jest's globalSetup with the test workers
 * through `process.env.ROTATION_TEST_ENV`, so it must stay JSON-serialisable.
 */
export interface TestEnvironment {
  postgres: PostgresServer[];
  mysql: MysqlServer[];
  mongodb: MongoServer[];
  /** Secrets Manager endpoint URL (moto), e.g. `http://127.0.0.1:5123`. */
  secretsManagerEndpoint: string;
  /** Temporary directory holding certificates, data directories, server logs and `captured-logs/`. */
  runDir: string;
  /**
   * How the database servers were obtained: `external` when `TEST_POSTGRES_URL`, `TEST_MYSQL_URL`
   * and `TEST_MONGODB_URL` are all set, otherwise how the others were started (one provider serves
   * every engine). Secrets Manager may come from a different source: an external endpoint is used
   * whenever `TEST_SECRETS_MANAGER_ENDPOINT` is set.
   */
  mode: 'testcontainers' | 'local' | 'external';
}

/** A started server (or endpoint) together with the function that stops it. */
export interface Started<T> {
  value: T;
  stop: () => Promise<void>;
}
