import { SecretValueError } from '../errors';

/**
 * A database secret in the JSON shape of AWS's rotation templates:
 * `{"engine", "host", "port", "username", "password", "dbname", "masterarn", "ssl", …}`.
 * Keys this project does not know are kept in `fields` and copied into every new version.
 */
export interface DatabaseSecret {
  /** Every key of the secret as stored. */
  fields: Readonly<Record<string, unknown>>;
  engine: string;
  host: string;
  port: number;
  username: string;
  password: string;
  dbname: string | undefined;
  masterarn: string | undefined;
  /** The `ssl` key: `undefined` when absent, so TLS_MODE decides. */
  ssl: boolean | undefined;
  /** The engine's own extra keys (`SecretShape.secretParameters`) that are present. */
  parameters: Readonly<Record<string, string>>;
  /**
   * Pair mode: `alternate_username` and `alternate_password`, the idle user of two that a DBA
   * created and that rotations alternate (single-user functions only).
   */
  alternate: { username: string; password: string } | undefined;
}

/** The keys that turn a single-user secret into a pair (README, "Pair mode"). */
export const ALTERNATE_USERNAME = 'alternate_username';
export const ALTERNATE_PASSWORD = 'alternate_password';

/** What a parse checks against: the engine's accepted `engine` values and default port. */
export interface SecretShape {
  secretEngines: readonly string[];
  defaultPort: number;
  secretParameters?: readonly string[];
}

/** Where a value came from, for error messages: `secret arn:… (AWSCURRENT)`. */
export interface SecretSource {
  secretId: string;
  label: string;
}

const MAX_HOST = 253;
const MAX_USERNAME = 1024;
const MAX_PASSWORD = 4096;
const MAX_DBNAME = 1024;
const MAX_ARN = 2048;
// Control characters never belong in a host, user or database name, and NUL truncates C strings.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The passwords of a SecretString (`password`, and a pair's `alternate_password`), where it is
 * JSON with strings there; nothing is checked.
 */
export function passwordsIn(text: string | undefined): string[] {
  if (text === undefined) return [];
  try {
    const fields = JSON.parse(text) as Record<string, unknown> | null;
    return [fields?.password, fields?.[ALTERNATE_PASSWORD]].filter(
      (value): value is string => typeof value === 'string',
    );
  } catch {
    return [];
  }
}

/**
 * Parses and checks one version's SecretString. Every failure is a SecretValueError naming the
 * secret, the label and the key at fault; no message ever includes a value, since any key might
 * hold a password.
 */
export function parseDatabaseSecret(
  text: string,
  source: SecretSource,
  shape: SecretShape,
  options: { engineOptional?: boolean } = {},
): DatabaseSecret {
  const where = `Secret ${source.secretId} (${source.label})`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SecretValueError(`${where} is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SecretValueError(`${where} must be a JSON object`);
  }
  const fields = parsed as Record<string, unknown>;
  const fail = (key: string, problem: string): never => {
    throw new SecretValueError(`${where}: key "${key}" ${problem}`);
  };
  const text_ = (
    key: string,
    max: number,
    opts: { required: boolean; control?: boolean },
  ): string | undefined => {
    const value = fields[key];
    if (value === undefined || value === null) {
      return opts.required ? fail(key, 'is missing') : undefined;
    }
    if (typeof value !== 'string') return fail(key, `must be a string, not ${describeType(value)}`);
    if (opts.required && value.length === 0) return fail(key, 'is empty');
    if (value.length > max) return fail(key, `is longer than ${max} characters`);
    if (opts.control === false && CONTROL.test(value))
      return fail(key, 'contains control characters');
    if (value.includes('\u0000')) return fail(key, 'contains a NUL character');
    return value;
  };

  const engine = text_('engine', 64, { required: !options.engineOptional, control: false }) ?? '';
  if (!(options.engineOptional && engine === '') && !shape.secretEngines.includes(engine)) {
    fail(
      'engine',
      `must be ${shape.secretEngines.map((e) => `"${e}"`).join(' or ')} for this rotation function`,
    );
  }
  const username = text_('username', MAX_USERNAME, { required: true, control: false }) as string;
  return {
    fields,
    engine,
    host: text_('host', MAX_HOST, { required: true, control: false }) as string,
    port: parsePort(fields.port, shape.defaultPort, fail),
    username,
    password: text_('password', MAX_PASSWORD, { required: true }) as string,
    dbname: text_('dbname', MAX_DBNAME, { required: false, control: false }) || undefined,
    masterarn: text_('masterarn', MAX_ARN, { required: false, control: false }) || undefined,
    ssl: parseSsl(fields.ssl, fail),
    parameters: Object.fromEntries(
      (shape.secretParameters ?? []).flatMap((key) => {
        const value = text_(key, 1024, { required: false, control: false });
        return value ? [[key, value]] : [];
      }),
    ),
    alternate: parseAlternate(fields, username, text_, fail),
  };
}

/** Pair mode's two keys: both or neither, and another user than `username`. */
function parseAlternate(
  fields: Record<string, unknown>,
  username: string,
  text_: (
    key: string,
    max: number,
    opts: { required: boolean; control?: boolean },
  ) => string | undefined,
  fail: (key: string, problem: string) => never,
): DatabaseSecret['alternate'] {
  const present = (key: string) => fields[key] !== undefined && fields[key] !== null;
  if (!present(ALTERNATE_USERNAME) && !present(ALTERNATE_PASSWORD)) return undefined;
  if (!present(ALTERNATE_USERNAME)) {
    fail(
      ALTERNATE_USERNAME,
      `is missing: pair mode needs both "${ALTERNATE_USERNAME}" and "${ALTERNATE_PASSWORD}" (remove "${ALTERNATE_PASSWORD}" for single-user)`,
    );
  }
  if (!present(ALTERNATE_PASSWORD)) {
    fail(
      ALTERNATE_PASSWORD,
      `is missing: pair mode needs both "${ALTERNATE_USERNAME}" and "${ALTERNATE_PASSWORD}" (remove "${ALTERNATE_USERNAME}" for single-user)`,
    );
  }
  const alternate = {
    username: text_(ALTERNATE_USERNAME, MAX_USERNAME, { required: true, control: false }) as string,
    password: text_(ALTERNATE_PASSWORD, MAX_PASSWORD, { required: true }) as string,
  };
  if (alternate.username === username) {
    fail(
      ALTERNATE_USERNAME,
      `names the same user as "username" ("${username}"): pair mode alternates two different users`,
    );
  }
  return alternate;
}

function parsePort(
  value: unknown,
  fallback: number,
  fail: (key: string, problem: string) => never,
): number {
  if (value === undefined || value === null || value === '') return fallback;
  const port =
    typeof value === 'string' && /^\d{1,5}$/.test(value.trim()) ? Number(value.trim()) : value;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    return fail('port', 'must be a whole number from 1 to 65535');
  }
  return port;
}

/**
 * AWS's templates read any unexpected `ssl` value as "try TLS, fall back to plain text". A value
 * we cannot read is refused instead: guessing could mean a silent downgrade.
 */
function parseSsl(
  value: unknown,
  fail: (key: string, problem: string) => never,
): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const word = value.trim().toLowerCase();
    if (word === 'true') return true;
    if (word === 'false') return false;
  }
  return fail('ssl', 'must be true or false (a JSON boolean, or the string "true" or "false")');
}

function describeType(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
