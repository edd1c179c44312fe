import type { TestEnvironment } from './environment';

/** Settings a test may change; reset before each handler environment is applied. */
const VARIABLES = [
  'EXCLUDE_CHARACTERS',
  'EXCLUDE_NUMBERS',
  'EXCLUDE_PUNCTUATION',
  'EXCLUDE_UPPERCASE',
  'EXCLUDE_LOWERCASE',
  'REQUIRE_EACH_INCLUDED_TYPE',
  'PASSWORD_LENGTH',
  'TLS_MODE',
  'DB_CONNECT_TIMEOUT_SECONDS',
  'DB_STATEMENT_TIMEOUT_SECONDS',
  'RETAIN_CURRENT_PASSWORD',
  'USERNAME_CHARACTER_LIMIT',
  'DATABASE_HOST_ALIASES',
  'NODE_EXTRA_CA_CERTS',
];

/**
 * Sets the environment the bundled handlers read, as Lambda would: the Secrets Manager endpoint,
 * dummy AWS credentials, debug logging (so the leak scan sees the most output), the test CA, and
 * whatever a test adds.
 */
export function setHandlerEnvironment(
  env: TestEnvironment,
  caFile: string | undefined,
  extra: Record<string, string> = {},
): void {
  for (const key of VARIABLES) delete process.env[key];
  Object.assign(
    process.env,
    {
      SECRETS_MANAGER_ENDPOINT: env.secretsManagerEndpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
    },
    caFile ? { NODE_EXTRA_CA_CERTS: caFile } : {},
    extra,
  );
}
