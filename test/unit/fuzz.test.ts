import fc from 'fast-check';
import { accountName, ownPasswordStatement, passwordStatement } from '../../shared/engines/mysql';
import { parseGrants, tokenize } from '../../shared/engines/mysql/grants';
import { quoteName } from '../../shared/engines/mysql/rights';
import { parseServerVersion } from '../../shared/engines/mysql/server';
import { InvalidEventError, SecretValueError, UnknownStepError } from '../../shared/errors';
import { parseRotationEvent, STEPS } from '../../shared/rotation/event';
import { parseDatabaseSecret } from '../../shared/secrets/database-secret';

/**
 * Property-based tests of the parsers and of the one quoting seam per engine, with hostile names:
 * quotes, backticks, backslashes, NUL and control characters, `%` and `_`, dots, any Unicode, and
 * long strings. Every input either parses to what it says, or is refused with a named error; no
 * name or password ever changes the shape of a statement. fast-check prints the seed and the
 * smallest failing input on failure; FUZZ_SEED replays one, FUZZ_RUNS sets the number of runs.
 */
const RUNS = Number(process.env.FUZZ_RUNS) || 500;
const SEED = Number(process.env.FUZZ_SEED) || Math.floor(Math.random() * 2 ** 31);
const settings = { numRuns: RUNS, seed: SEED };

/** Characters that break naive quoting, plus any Unicode code point. */
const hostileChar = fc.oneof(
  fc.constantFrom(
    "'",
    '"',
    '`',
    '\\',
    '\u0000',
    '\n',
    '\r',
    '\t',
    '\u001a',
    '%',
    '_',
    '.',
    '@',
    ' ',
    ';',
    '-',
    '/',
    '*',
    '(',
    ')',
    ',',
  ),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
);
const hostile = (maxLength = 40) => fc.string({ unit: hostileChar, maxLength });
const hostileNonEmpty = (maxLength = 40) =>
  fc.string({ unit: hostileChar, minLength: 1, maxLength });

/** The value of a MySQL string literal as mysql2 writes it ('…' with backslash escapes). */
function unescapeMysqlLiteral(token: string): string {
  expect(token.startsWith("'") && token.endsWith("'")).toBe(true);
  const body = token.slice(1, -1);
  const escapes: Record<string, string> = {
    '0': '\u0000',
    b: '\b',
    n: '\n',
    r: '\r',
    t: '\t',
    Z: '\u001a',
  };
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '\\') {
      const next = body[++i] as string;
      out += escapes[next] ?? next;
    } else if (c === "'" && body[i + 1] === "'") {
      out += "'";
      i++;
    } else {
      out += c;
    }
  }
  return out;
}

/** The name inside a backtick-quoted identifier. */
function unquoteIdentifier(token: string): string {
  expect(token.startsWith('`') && token.endsWith('`')).toBe(true);
  return token.slice(1, -1).replaceAll('``', '`');
}

describe(`fuzzing (seed ${SEED}, ${RUNS} runs each)`, () => {
  it('a secret parses to exactly its values, or is refused with a SecretValueError that never shows the password', () => {
    const value = fc.oneof(hostile(), fc.integer(), fc.boolean(), fc.constant(null), fc.object());
    fc.assert(
      fc.property(
        fc.record(
          {
            engine: fc.oneof(fc.constant('mysql'), value),
            host: fc.oneof(hostileNonEmpty(), value),
            port: fc.oneof(fc.integer({ min: -5, max: 70_000 }), fc.constant('3306'), value),
            username: fc.oneof(hostileNonEmpty(), value),
            password: fc.oneof(hostileNonEmpty(60), value),
            dbname: value,
            ssl: fc.oneof(fc.boolean(), value),
          },
          { requiredKeys: [] },
        ),
        (fields) => {
          const text = JSON.stringify(fields);
          try {
            const secret = parseDatabaseSecret(
              text,
              { secretId: 's', label: 'AWSCURRENT' },
              { secretEngines: ['mysql'], defaultPort: 3306 },
            );
            expect(secret.host).toBe(fields.host);
            expect(secret.username).toBe(fields.username);
            expect(secret.password).toBe(fields.password);
            expect(secret.engine).toBe('mysql');
            expect(Number.isInteger(secret.port) && secret.port > 0 && secret.port < 65_536).toBe(
              true,
            );
          } catch (error) {
            expect(error).toBeInstanceOf(SecretValueError);
            const password = fields.password;
            if (typeof password === 'string' && password.length >= 4) {
              // The password may be a word of the message itself ("name" in "username"): it
              // leaks only if it occurs more often than in the message for another password.
              const count = (message: string) => message.split(password).length - 1;
              let other = '';
              try {
                parseDatabaseSecret(
                  JSON.stringify({ ...fields, password: '\u2603'.repeat(password.length) }),
                  { secretId: 's', label: 'AWSCURRENT' },
                  { secretEngines: ['mysql'], defaultPort: 3306 },
                );
              } catch (otherError) {
                other = (otherError as Error).message;
              }
              expect(count((error as Error).message)).toBeLessThanOrEqual(count(other));
            }
          }
        },
      ),
      settings,
    );
  });

  it('an event parses to exactly its fields, or is refused with InvalidEventError or UnknownStepError', () => {
    const field = fc.oneof(hostile(80), fc.integer(), fc.constant(null), fc.boolean());
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record(
            {
              Step: fc.oneof(fc.constantFrom(...STEPS), field),
              SecretId: fc.oneof(hostileNonEmpty(), field),
              ClientRequestToken: fc.oneof(fc.uuid(), field),
              RotationToken: fc.oneof(hostile(), field),
              StartRotation: fc.oneof(fc.boolean(), field),
            },
            { requiredKeys: [] },
          ),
          fc.anything(),
        ),
        (event) => {
          try {
            const parsed = parseRotationEvent(event);
            const fields = event as Record<string, unknown>;
            expect(STEPS).toContain(parsed.Step);
            expect(parsed.Step).toBe(fields.Step);
            expect(parsed.SecretId).toBe(fields.SecretId);
            expect(parsed.ClientRequestToken).toBe(fields.ClientRequestToken);
            expect('StartRotation' in fields).toBe(false);
          } catch (error) {
            expect([InvalidEventError, UnknownStepError]).toContainEqual(
              (error as Error).constructor,
            );
          }
        },
      ),
      settings,
    );
  });

  it("an account name is two literals around '@' that read back as the user and host", () => {
    fc.assert(
      fc.property(hostile(80), hostile(60), (user, host) => {
        const tokens = tokenize(accountName(user, host));
        expect(tokens.map((t) => t.kind)).toEqual(['quoted', 'punct', 'quoted']);
        expect(tokens[1]?.text).toBe('@');
        expect(unescapeMysqlLiteral(tokens[0]?.text as string)).toBe(user);
        expect(unescapeMysqlLiteral(tokens[2]?.text as string)).toBe(host);
      }),
      settings,
    );
  });

  it('an identifier is one quoted name that reads back whole (a dot never splits it)', () => {
    fc.assert(
      fc.property(hostileNonEmpty(64), (name) => {
        const tokens = tokenize(quoteName(name));
        expect(tokens).toHaveLength(1);
        expect(unquoteIdentifier(tokens[0]?.text as string)).toBe(name);
      }),
      settings,
    );
  });

  it('a password statement keeps its shape whatever the passwords, and carries them exactly', () => {
    const versions = ['9.7.4', '8.0.12', '5.6.51', '11.8.9-MariaDB'].map(parseServerVersion);
    fc.assert(
      fc.property(
        fc.constantFrom(...versions),
        hostileNonEmpty(60),
        hostileNonEmpty(60),
        fc.boolean(),
        hostile(32),
        (info, newPassword, currentPassword, retainCurrent, user) => {
          const own = ownPasswordStatement(info, {
            newPassword,
            currentPassword,
            retainCurrent: retainCurrent && info.flavor === 'mysql',
          });
          const literals = tokenize(own).filter((t) => t.kind === 'quoted');
          const words = tokenize(own)
            .filter((t) => t.kind === 'word')
            .map((t) => t.text);
          expect(unescapeMysqlLiteral(literals[0]?.text as string)).toBe(newPassword);
          if (literals.length === 2) {
            expect(unescapeMysqlLiteral(literals[1]?.text as string)).toBe(currentPassword);
            expect(words).toContain('REPLACE');
          } else {
            expect(literals).toHaveLength(1);
          }
          const other = passwordStatement(info, accountName(user, '%'), newPassword);
          const otherLiterals = tokenize(other).filter((t) => t.kind === 'quoted');
          expect(otherLiterals.map((t) => unescapeMysqlLiteral(t.text))).toEqual([
            user,
            '%',
            newPassword,
          ]);
        },
      ),
      settings,
    );
  });

  it('SHOW GRANTS lines with hostile names parse back to the privileges and grant option written', () => {
    const privileges = fc.uniqueArray(
      fc.constantFrom('SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'INDEX', 'ALTER'),
      { minLength: 1, maxLength: 5 },
    );
    fc.assert(
      fc.property(
        privileges,
        hostileNonEmpty(64),
        fc.option(hostileNonEmpty(64), { nil: undefined }),
        hostile(32),
        hostile(30),
        fc.boolean(),
        fc.boolean(),
        (names, db, table, user, host, withGrant, backtickGrantee) => {
          const object = `${quoteName(db)}.${table === undefined ? '*' : quoteName(table)}`;
          const grantee = backtickGrantee
            ? `${quoteName(user)}@${quoteName(host)}`
            : accountName(user, host);
          const line = `GRANT ${names.join(', ')} ON ${object} TO ${grantee}${withGrant ? ' WITH GRANT OPTION' : ''}`;
          const parsed = parseGrants([line]);
          expect(parsed.unparsed).toEqual([]);
          expect([...parsed.privileges.keys()]).toEqual([object]);
          expect([...(parsed.privileges.get(object) ?? [])].sort()).toEqual([...names].sort());
          expect(parsed.grantOption.has(object)).toBe(withGrant);
        },
      ),
      settings,
    );
  });
});
