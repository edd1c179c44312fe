import fc from 'fast-check';
import mysql2 from 'mysql2';
import { escapeLiteral } from 'pg';
import { DatabaseStatementError } from '../../shared/errors';
import { logger } from '../../shared/logger';
import { REDACTED, Redactor, redactor } from '../../shared/redaction';
import { captureOutput } from '../helpers/capture-output';
import { LEAK_RUN, leakForms } from '../helpers/leak-scan';

const RUNS = Number(process.env.FUZZ_RUNS) || 300;
const SEED = Number(process.env.FUZZ_SEED) || Math.floor(Math.random() * 2 ** 31);

/** The test's own oracle: does `text` hold LEAK_RUN characters of any driver form of `password`? */
function holdsRun(text: string, password: string): boolean {
  return leakForms(password).some((form) => {
    const length = Math.min(LEAK_RUN, form.length);
    for (let at = 0; at + length <= form.length; at++) {
      if (text.includes(form.slice(at, at + length))) return true;
    }
    return false;
  });
}

const hostile = `Ab1'x\\y"z%_\`q;--/*é😀${'k'.repeat(3)}Zz9'\\'`;

describe('Redactor.scrub', () => {
  const r = new Redactor();
  r.add(hostile);

  it.each([
    ['as written', hostile],
    ['in a mysql2 literal', mysql2.escape(hostile)],
    ['in a PostgreSQL literal', escapeLiteral(hostile)],
    ['SQL-standard quoted', `'${hostile.split("'").join("''")}'`],
    ['URL-encoded', encodeURIComponent(hostile)],
    ['JSON-escaped', JSON.stringify(hostile)],
    ['JSON-escaped twice', JSON.stringify(JSON.stringify(hostile))],
    ['a mysql2 literal, JSON-escaped', JSON.stringify(mysql2.escape(hostile))],
  ])('removes the password %s', (_, form) => {
    const text = `before ${form} after`;
    const scrubbed = r.scrub(text);
    expect(holdsRun(scrubbed, hostile)).toBe(false);
    expect(scrubbed).toContain(REDACTED);
    expect(scrubbed.startsWith('before ')).toBe(true);
    expect(scrubbed.endsWith(' after')).toBe(true);
  });

  it('removes every run of 12 characters, and leaves 11', () => {
    const password = 'abcdefghijklmnopqrstuvwxyz0123456789';
    const p = new Redactor();
    p.add(password);
    expect(p.scrub(`x ${password.slice(5, 17)} y`)).toBe(`x ${REDACTED} y`);
    expect(p.scrub(`x ${password.slice(5, 16)} y`)).toBe(`x ${password.slice(5, 16)} y`);
  });

  it("removes MySQL's truncated near '…' echo of a statement", () => {
    const password = 'T0p-secret-value-that-is-long-enough-to-be-cut-off-by-the-server';
    const p = new Redactor();
    p.add(password);
    const statement = `REPLACE ${mysql2.escape(password)} RETAIN CURRENT PASSWORD`;
    const echo = `You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near '${statement.slice(0, 80)}' at line 1`;
    const scrubbed = p.scrub(echo);
    expect(holdsRun(scrubbed, password)).toBe(false);
    expect(scrubbed).toContain(`near 'REPLACE '${REDACTED}' RETAI' at line 1`);
  });

  it('removes a password shorter than 12 characters only whole, and ignores one under 4', () => {
    const p = new Redactor();
    p.add('hunter2');
    p.add('abc');
    expect(p.scrub('hunter2 and hunter abc')).toBe(`${REDACTED} and hunter abc`);
  });

  it('forgets every password on clear()', () => {
    const p = new Redactor();
    p.add(hostile);
    p.clear();
    expect(p.size).toBe(0);
    expect(p.scrub(hostile)).toBe(hostile);
  });

  it('leaves no run of 12 characters of any password, wherever and however it is cut (fast-check)', () => {
    const password = fc.string({ unit: 'grapheme', minLength: 12, maxLength: 64 });
    const form = fc.constantFrom(...['raw', 'mysql', 'pg', 'sql', 'url', 'json', 'json2']);
    const encode = (kind: string, text: string): string => {
      switch (kind) {
        case 'mysql':
          return mysql2.escape(text);
        case 'pg':
          return escapeLiteral(text);
        case 'sql':
          return text.split("'").join("''");
        case 'url':
          return encodeURIComponent(text);
        case 'json':
          return JSON.stringify(text);
        case 'json2':
          return JSON.stringify(JSON.stringify(text));
        default:
          return text;
      }
    };
    fc.assert(
      fc.property(
        fc.array(password, { minLength: 1, maxLength: 3 }),
        fc.array(fc.tuple(fc.nat(), form, fc.nat(), fc.nat(), fc.string()), { maxLength: 4 }),
        fc.string(),
        (passwords, echoes, prefix) => {
          const p = new Redactor();
          for (const each of passwords) p.add(each);
          let text = prefix;
          for (const [which, kind, start, cut, filler] of echoes) {
            const encoded = encode(kind, passwords[which % passwords.length] as string);
            const from = start % encoded.length;
            text += `${filler}${encoded.slice(from, from + 12 + (cut % encoded.length))}`;
          }
          const scrubbed = p.scrub(text);
          for (const each of passwords) {
            if (holdsRun(scrubbed, each)) throw new Error(`a run survived in ${scrubbed}`);
          }
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
  });
});

describe('Redactor.scrubDeep', () => {
  it("scrubs a driver error's own properties, nested objects and cause chain in place", () => {
    const p = new Redactor();
    p.add(hostile);
    const cause = Object.assign(new Error(`inner ${hostile}`), {
      sql: `ALTER USER CURRENT_USER() IDENTIFIED BY ${mysql2.escape(hostile)}`,
      errorResponse: { errmsg: `no such command: '${hostile}'`, nested: [{ x: hostile }] },
    });
    (cause.errorResponse as Record<string, unknown>).self = cause; // a cycle
    const error = new DatabaseStatementError(`outer ${hostile}`, { cause });
    const frozen = Object.freeze({ note: 'left alone' });
    Object.assign(error, { frozen });
    expect(p.scrubDeep(error)).toBe(error);
    const { errmsg, nested } = cause.errorResponse;
    const strings = [error.message, error.stack, cause.message, cause.stack, errmsg, nested[0]?.x];
    expect(holdsRun(strings.join(' '), hostile)).toBe(false);
    expect(cause.sql).toBe(`ALTER USER CURRENT_USER() IDENTIFIED BY '${REDACTED}'`);
    expect(frozen.note).toBe('left alone');
    expect(p.scrubDeep(`a ${hostile}`)).toBe(`a ${REDACTED}`);
  });

  it('scrubs a stack kept behind a getter and setter, as Node 24 keeps every error stack', () => {
    const p = new Redactor();
    p.add(hostile);
    const error = new Error('x');
    let stack = `Error: user "${hostile}"\n    at somewhere`;
    Object.defineProperty(error, 'stack', {
      get: () => stack,
      set: (value: string) => {
        stack = value;
      },
      configurable: true,
      enumerable: false,
    });
    p.scrubDeep(error);
    expect(stack).toBe(`Error: user "${REDACTED}"\n    at somewhere`);
  });
});

describe('the logger (redaction where lines are written)', () => {
  afterEach(() => redactor.clear());

  it("writes no password from any property of an error or its causes (mysql2's sql, MongoDB's errorResponse)", async () => {
    redactor.add(hostile);
    const mongo = Object.assign(new Error('command failed'), {
      errorResponse: { ok: 0, errmsg: `no such command: '${hostile}'` },
    });
    const driver = Object.assign(new Error('Lock wait timeout exceeded', { cause: mongo }), {
      errno: 1205,
      sql: `ALTER USER CURRENT_USER() IDENTIFIED BY ${mysql2.escape(hostile)}`,
      sqlMessage: `near '${mysql2.escape(hostile).slice(0, 30)}`,
    });
    const error = new DatabaseStatementError('MySQL gave up ALTER USER', { cause: driver });
    const run = await captureOutput(async () => {
      logger.error('Rotation step failed', { error, detail: { deeper: [hostile] } });
      logger.warn(`message ${hostile}`);
    });
    expect(holdsRun(run.output, hostile)).toBe(false);
    expect(run.output).toContain(`"sql":"ALTER USER CURRENT_USER() IDENTIFIED BY '${REDACTED}'"`);
    expect(run.output).toContain(`"errmsg":"no such command: '${REDACTED}'"`);
    expect(run.output).toContain(`"message":"message ${REDACTED}"`);
  });
});
