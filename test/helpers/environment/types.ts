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

/**
 * Everything the integration suites need, shared from jest's globalSetup with the test workers
 * through `process.env.ROTATION_TEST_ENV`, so it must stay JSON-serialisable.
 */
export interface TestEnvironment {
  postgres: PostgresServer[];
  /** Secrets Manager endpoint URL (moto), e.g. `http://127.0.0.1:5123`. */
  secretsManagerEndpoint: string;
  /** Temporary directory holding certificates, data directories, server logs and `captured-logs/`. */
  runDir: string;
  /**
   * How the PostgreSQL servers were obtained. Secrets Manager may come from a different source:
   * an external endpoint is used whenever `TEST_SECRETS_MANAGER_ENDPOINT` is set.
   */
  mode: 'testcontainers' | 'local' | 'external';
}

/** A started server (or endpoint) together with the function that stops it. */
export interface Started<T> {
  value: T;
  stop: () => Promise<void>;
}
