/**
 * Every error this project throws on purpose. Messages name the secret, the version, the field or
 * the setting at fault and never a password; a driver error rides along as `cause`, and output is
 * scrubbed of every password the invocation has seen where it is written (see `../redaction`).
 */

/** Base class of every deliberate error. */
export class RotationError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The Lambda event is not a rotation event. */
export class InvalidEventError extends RotationError {}

/** The event's `Step` is none of the four steps. */
export class UnknownStepError extends RotationError {}

/** The event's SecretId names no secret this function can see. */
export class SecretNotFoundError extends RotationError {}

/** The secret has rotation explicitly disabled. */
export class RotationDisabledError extends RotationError {}

/** The event's token is not a version of the secret. */
export class VersionNotFoundError extends RotationError {}

/** The event's token is a version of the secret but not labelled AWSPENDING. */
export class VersionNotPendingError extends RotationError {}

/**
 * A rotation was asked to start (the local runner's startRotation), but another version of the
 * secret is already labelled AWSPENDING: a rotation is in progress or stuck. Names that version.
 */
export class RotationInProgressError extends RotationError {}

/** A version the step needs has no value (AWSCURRENT missing, AWSPENDING not created yet). */
export class SecretVersionMissingError extends RotationError {}

/** A secret value is malformed: not JSON, a missing or mistyped key. Names the key at fault. */
export class SecretValueError extends RotationError {}

/** An environment setting is malformed or impossible. Names the setting at fault. */
export class ConfigurationError extends RotationError {}

/** The pending version would change another user or host than the current one. */
export class CredentialsMismatchError extends RotationError {}

/** The alternate username does not fit the engine's limit. */
export class UsernameTooLongError extends RotationError {}

/** No labelled version of the secret can log in, so the password cannot be changed. */
export class NoWorkingCredentialsError extends RotationError {}

/** The master secret named by `masterarn` is unusable (missing, other host, cannot log in). */
export class MasterSecretError extends RotationError {}

/** The pending credentials do not work (testSecret). */
export class PendingCredentialsError extends RotationError {}

/**
 * Alternating users: the two users cannot do the same things (testSecret), so the pending one
 * must not be promoted.
 */
export class PrivilegeDriftError extends RotationError {}

/**
 * Alternating users: the idle user, the one this rotation would give the new password, is disabled
 * in a way the live user (the one AWSCURRENT names) is not: locked, `NOLOGIN`, `CONNECTION LIMIT
 * 0`, `VALID UNTIL` in the past, or narrower authentication restrictions. Levelling would copy that
 * state onto the live user, or promote a user that cannot log in, so nothing was changed. Names the
 * user and the state.
 */
export class IdleUserDisabledError extends RotationError {}

/**
 * Alternating users: the pair is not bound to this secret. The master changes a password or
 * rights only for the two users of a secret that holds a working password of the user it changes
 * (or of the other one, whose clone it levels), and never for the master's own user.
 */
export class UnboundPairError extends RotationError {}

/**
 * The database refuses the account itself: locked (`ACCOUNT LOCK`), or blocked after failed
 * logins (MySQL's FAILED_LOGIN_ATTEMPTS, MariaDB's max_password_errors). No other login is tried:
 * each would only add to the count. The message gives the statement that unlocks it.
 */
export class AccountLockedError extends RotationError {}

/**
 * The database accepted the password but it has expired, so the session cannot be used until the
 * password is changed (MySQL's and MariaDB's ER_MUST_CHANGE_PASSWORD_LOGIN). The password is
 * proven right; no failed login was counted.
 */
export class PasswordExpiredError extends RotationError {}

/** The database answered that these credentials are wrong. */
export class CredentialsRejectedError extends RotationError {}

/** The database could not be reached, or TLS could not be negotiated or verified. */
export class DatabaseUnreachableError extends RotationError {
  /** True when the failure was setting up or verifying TLS (a plain-text retry might connect). */
  public readonly tlsFailure: boolean;

  public constructor(message: string, options?: ErrorOptions & { tlsFailure?: boolean }) {
    super(message, options);
    this.tlsFailure = options?.tlsFailure ?? false;
  }
}

/** The server is a version these functions cannot rotate safely; nothing was changed. */
export class UnsupportedServerError extends RotationError {}

/** The database refused or failed a statement (privileges, syntax, state). */
export class DatabaseStatementError extends RotationError {}

/**
 * `instanceof Error` is false for errors made in another realm (Node's own modules seen from a
 * jest sandbox, for one), so errors are recognised by shape.
 */
export function isErrorLike(value: unknown): value is Error {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { message?: unknown }).message === 'string'
  );
}
