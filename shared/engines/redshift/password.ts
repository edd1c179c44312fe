// Amazon Redshift's password rules and the MD5 form its CREATE/ALTER USER accept. Redshift speaks
// PostgreSQL's protocol (the `pg` driver serves it) but differs where rotation meets it:
// `ALTER USER … PASSWORD` takes no bound parameter, and the statement text is kept in
// STL_QUERYTEXT and the audit logs, so the password never travels as a literal: only its MD5
// form, which also keeps MD5 authentication, which `pg` speaks.
import { createHash } from 'node:crypto';
import type { PasswordRules } from '../../config';
import { ConfigurationError } from '../../errors';

/**
 * Redshift developer guide, CREATE USER (r_CREATE_USER): 8 to 64 characters, at least one
 * uppercase letter, one lowercase letter and one digit, any ASCII 33–126 except ' " \ / @.
 */
export const REDSHIFT_PASSWORD_RULES: PasswordRules = {
  server: 'Redshift',
  minLength: 8,
  maxLength: 64,
  requires: ['uppercase', 'lowercase', 'numbers'],
  forbidden: `'"\\/@`,
};

/** AWS's Redshift templates' exclusions: Redshift's forbidden characters, and `:`. */
export const REDSHIFT_EXCLUDE_CHARACTERS = `/@"'\\:`;

/**
 * The MD5 form of a password for `username` as Redshift stores it (lower-case, as Redshift folds
 * identifiers): `md5` and the hex digest of the password followed by the user name. Only hex
 * digits follow `md5`, so the form is safe inside a string literal.
 */
export function md5PasswordForm(password: string, storedUsername: string): string {
  return `md5${createHash('md5').update(`${password}${storedUsername}`, 'utf8').digest('hex')}`;
}

/**
 * The error for a login Redshift answered by asking for SHA-256 authentication (authentication
 * request type 13, for a user whose password was set in the `sha256|…` form), which the `pg`
 * driver does not speak; undefined for any other error.
 */
export function sha256AuthenticationError(
  error: unknown,
  username: string,
): ConfigurationError | undefined {
  const message = error instanceof Error ? error.message : String(error);
  if (!/authenticationOk message type 13\b/.test(message)) return undefined;
  return new ConfigurationError(
    `Redshift asked "${username}" to authenticate by SHA-256 (its password was set in the sha256| form), which these functions' driver cannot do. Nothing was changed. Set the password once in MD5 form (ALTER USER … PASSWORD 'md5…', or in plain text, which Redshift stores as MD5), put it in the secret, and rotate again`,
    { cause: error },
  );
}
