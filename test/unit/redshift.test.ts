import { loadConfig } from '../../shared/config';
import {
  md5PasswordForm,
  REDSHIFT_EXCLUDE_CHARACTERS,
  REDSHIFT_PASSWORD_RULES,
  sha256AuthenticationError,
} from '../../shared/engines/redshift/password';
import { generatePassword, passwordAlphabet, passwordRuleProblems } from '../../shared/password';

// Redshift without a server: its password rules, the MD5 form, and the SHA-256 login error. The
// figures come from the Redshift developer guide's CREATE USER page (r_CREATE_USER).

const policy = (env: Record<string, string> = {}) =>
  loadConfig(REDSHIFT_EXCLUDE_CHARACTERS, env).password;

describe('Redshift password rules', () => {
  it('the defaults meet them, and every drawn password does', () => {
    expect(passwordRuleProblems(policy(), REDSHIFT_PASSWORD_RULES)).toEqual([]);
    for (let n = 0; n < 200; n++) {
      const password = generatePassword(policy(), undefined, REDSHIFT_PASSWORD_RULES);
      expect(password).toHaveLength(32);
      expect(password).toMatch(/[A-Z]/);
      expect(password).toMatch(/[a-z]/);
      expect(password).toMatch(/[0-9]/);
      expect(password).toMatch(/^[\x21-\x7e]+$/);
      expect(password).not.toMatch(/['"\\/@]/);
    }
  });

  it.each([
    [{ PASSWORD_LENGTH: '65' }, /PASSWORD_LENGTH is 65; Redshift takes passwords of 8 to 64/],
    [
      { EXCLUDE_UPPERCASE: 'true' },
      /EXCLUDE_UPPERCASE=true; Redshift requires an uppercase letter/,
    ],
    [{ EXCLUDE_NUMBERS: 'true' }, /EXCLUDE_NUMBERS=true/],
    [
      { EXCLUDE_CHARACTERS: 'abcdefghijklmnopqrstuvwxyz/@"\'\\' },
      /EXCLUDE_CHARACTERS excludes every lowercase letter/,
    ],
    [{ REQUIRE_EACH_INCLUDED_TYPE: 'false' }, /REQUIRE_EACH_INCLUDED_TYPE=false/],
    [{ EXCLUDE_CHARACTERS: ':' }, /EXCLUDE_CHARACTERS lacks ' " \\ \/ @/],
    [{ EXCLUDE_CHARACTERS: '' }, /EXCLUDE_CHARACTERS lacks/],
  ])('refuses %j before anything changes, naming the setting', (env, message) => {
    expect(() => passwordAlphabet(policy(env), REDSHIFT_PASSWORD_RULES)).toThrow(message);
  });

  it('takes what cannot break them: no punctuation at all, or a short password', () => {
    expect(
      passwordRuleProblems(
        policy({ EXCLUDE_CHARACTERS: '', EXCLUDE_PUNCTUATION: 'true' }),
        REDSHIFT_PASSWORD_RULES,
      ),
    ).toEqual([]);
    expect(passwordRuleProblems(policy({ PASSWORD_LENGTH: '8' }), REDSHIFT_PASSWORD_RULES)).toEqual(
      [],
    );
  });

  it('other engines are not held to them', () => {
    expect(() => passwordAlphabet(policy({ PASSWORD_LENGTH: '128' }))).not.toThrow();
  });
});

describe('the MD5 form', () => {
  it("matches the CREATE USER page's example: password ez for user1", () => {
    expect(md5PasswordForm('ez', 'user1')).toBe('md5153c434b4b77c89e6b94f12c5393af5b');
  });

  it('is md5 and 32 hex digits, whatever the password holds', () => {
    expect(md5PasswordForm("a'b\\c;--", 'app')).toMatch(/^md5[0-9a-f]{32}$/);
  });
});

describe('a user Redshift authenticates by SHA-256', () => {
  it('names the user and the fix, and never the password', () => {
    // pg-protocol's parser, on authentication request type 13.
    const error = sha256AuthenticationError(
      new Error('Unknown authenticationOk message type 13'),
      'app',
    );
    expect(error?.name).toBe('ConfigurationError');
    expect(error?.message).toMatch(/"app".*SHA-256.*MD5 form/s);
    expect(sha256AuthenticationError(new Error('password authentication failed'), 'app')).toBe(
      undefined,
    );
  });
});
