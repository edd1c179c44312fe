import { ConfigurationError } from './errors';

/**
 * Settings read from the function's environment. Names and defaults follow AWS's rotation
 * templates where they have one, so a function can replace theirs without new configuration.
 */
export interface RotationConfig {
  /** `SECRETS_MANAGER_ENDPOINT`: overrides the Secrets Manager endpoint (VPC endpoints, emulators). */
  secretsManagerEndpoint: string | undefined;
  password: PasswordPolicy;
  /** `TLS_MODE`: how to connect when the secret has no `ssl` key. */
  tlsMode: TlsMode;
  /** `DB_CONNECT_TIMEOUT_SECONDS`: connect timeout for every database login, in milliseconds. */
  connectTimeoutMs: number;
  /**
   * `DB_STATEMENT_TIMEOUT_SECONDS` (default 15): the longest one statement may wait for a lock or
   * run, in milliseconds. Keep it well below the function's timeout (60 s in the template).
   */
  statementTimeoutMs: number;
  /**
   * `RETAIN_CURRENT_PASSWORD` (default false), single-user on MySQL 8.0.14+: set the new password
   * with `RETAIN CURRENT PASSWORD`, so the old one keeps working until the next rotation.
   */
  retainCurrentPassword: boolean;
  /**
   * `USERNAME_CHARACTER_LIMIT` (unset by default), alternating users: the longest clone name
   * createSecret may make, in characters, on top of the server's own limit (AWS's MySQL template
   * reads it; users set 16 for old servers or proxies).
   */
  usernameCharacterLimit: number | undefined;
  /**
   * `DATABASE_HOST_ALIASES` (unset by default): `alias=endpoint` pairs, comma-separated. A user's
   * secret that names a database by a custom name (a CNAME) counts as naming `endpoint` when it is
   * compared with its master's server. Set by whoever deploys the function, never by a secret.
   */
  hostAliases: ReadonlyMap<string, string>;
}

/** The options of Secrets Manager's GetRandomPassword, under AWS's environment variable names. */
export interface PasswordPolicy {
  /** `PASSWORD_LENGTH`, default 32. */
  length: number;
  /** `EXCLUDE_CHARACTERS`; its default depends on the engine. */
  excludeCharacters: string;
  excludeNumbers: boolean;
  excludePunctuation: boolean;
  excludeUppercase: boolean;
  excludeLowercase: boolean;
  /** `REQUIRE_EACH_INCLUDED_TYPE`, default true. */
  requireEachIncludedType: boolean;
}

/**
 * What a server demands of every password, where it demands more than a length (Redshift): the
 * password settings must be unable to break it, or the function refuses to start.
 */
export interface PasswordRules {
  /** For errors: `Redshift`. */
  server: string;
  minLength: number;
  maxLength: number;
  /** Character types every password must hold. */
  requires: readonly ('lowercase' | 'uppercase' | 'numbers')[];
  /** Characters no password may hold. */
  forbidden: string;
}

/**
 * - `verify-full`: TLS required, certificate chain and host name verified (the default).
 * - `verify-ca`: TLS required, chain verified, host name not (for CNAMEs the certificate lacks).
 * - `fallback`: AWS's templates' behaviour, opt-in only: try `verify-full`, and if TLS cannot be
 *   set up, connect in plain text and log a warning.
 * - `disable`: plain text.
 */
export type TlsMode = 'verify-full' | 'verify-ca' | 'fallback' | 'disable';

export const TLS_MODES: readonly TlsMode[] = ['verify-full', 'verify-ca', 'fallback', 'disable'];

export const PASSWORD_LENGTH_MIN = 8;
/** GetRandomPassword's own maximum. */
export const PASSWORD_LENGTH_MAX = 4096;

type Env = Record<string, string | undefined>;

/** Reads and checks every setting; a bad one fails here, before anything is touched. */
export function loadConfig(
  defaultExcludeCharacters: string,
  env: Env = process.env,
): RotationConfig {
  return {
    secretsManagerEndpoint: nonEmpty(env.SECRETS_MANAGER_ENDPOINT),
    password: {
      length: integerSetting(env, 'PASSWORD_LENGTH', 32, PASSWORD_LENGTH_MIN, PASSWORD_LENGTH_MAX),
      // Like AWS's templates, a variable that is set but empty excludes nothing.
      excludeCharacters: env.EXCLUDE_CHARACTERS ?? defaultExcludeCharacters,
      excludeNumbers: booleanSetting(env, 'EXCLUDE_NUMBERS', false),
      excludePunctuation: booleanSetting(env, 'EXCLUDE_PUNCTUATION', false),
      excludeUppercase: booleanSetting(env, 'EXCLUDE_UPPERCASE', false),
      excludeLowercase: booleanSetting(env, 'EXCLUDE_LOWERCASE', false),
      requireEachIncludedType: booleanSetting(env, 'REQUIRE_EACH_INCLUDED_TYPE', true),
    },
    tlsMode: tlsModeSetting(env),
    connectTimeoutMs: integerSetting(env, 'DB_CONNECT_TIMEOUT_SECONDS', 5, 1, 600) * 1000,
    statementTimeoutMs: integerSetting(env, 'DB_STATEMENT_TIMEOUT_SECONDS', 15, 1, 600) * 1000,
    retainCurrentPassword: booleanSetting(env, 'RETAIN_CURRENT_PASSWORD', false),
    usernameCharacterLimit: optionalIntegerSetting(env, 'USERNAME_CHARACTER_LIMIT', 1, 1024),
    hostAliases: hostAliasesSetting(env),
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

const TRUE_WORDS = new Set(['true', '1', 'y', 'yes']);
const FALSE_WORDS = new Set(['false', '0', 'n', 'no', '']);

/**
 * AWS's templates take `true`, `1`, `y`, `yes` as true and anything else as false. We accept the
 * same true words, and reject a value that is neither a true nor a false word, since a typo such as
 * `EXCLUDE_PUNCTUATION=ture` would otherwise silently mean false.
 */
function booleanSetting(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const word = raw.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw new ConfigurationError(
    `Environment variable ${name} must be true or false (true, 1, y, yes / false, 0, n, no); got an unrecognised value of ${raw.length} characters`,
  );
}

function integerSetting(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\s*\d+\s*$/.test(raw)) {
    throw new ConfigurationError(
      `Environment variable ${name} must be a whole number from ${min} to ${max}`,
    );
  }
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigurationError(
      `Environment variable ${name} must be from ${min} to ${max}; got ${value}`,
    );
  }
  return value;
}

function optionalIntegerSetting(
  env: Env,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  return integerSetting(env, name, min, min, max);
}

function hostAliasesSetting(env: Env): ReadonlyMap<string, string> {
  const aliases = new Map<string, string>();
  const raw = nonEmpty(env.DATABASE_HOST_ALIASES);
  if (raw === undefined) return aliases;
  for (const pair of raw.split(',')) {
    const match = /^\s*([^\s=,]+)\s*=\s*([^\s=,]+)\s*$/.exec(pair);
    if (!match) {
      throw new ConfigurationError(
        `Environment variable DATABASE_HOST_ALIASES must be comma-separated alias=endpoint pairs (db.example.com=prod.abc123.us-east-1.rds.amazonaws.com); "${pair.trim()}" is not one`,
      );
    }
    aliases.set((match[1] as string).toLowerCase(), (match[2] as string).toLowerCase());
  }
  return aliases;
}

function tlsModeSetting(env: Env): TlsMode {
  const raw = nonEmpty(env.TLS_MODE);
  if (raw === undefined) return 'verify-full';
  const mode = TLS_MODES.find((m) => m === raw.toLowerCase());
  if (!mode) {
    throw new ConfigurationError(
      `Environment variable TLS_MODE must be one of ${TLS_MODES.join(', ')}`,
    );
  }
  return mode;
}
