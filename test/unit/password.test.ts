import { randomBytes } from 'node:crypto';
import type { PasswordPolicy } from '../../shared/config';
import {
  CHARACTER_CLASSES,
  generatePassword,
  passwordAlphabet,
  type RandomInt,
} from '../../shared/password';

const policy = (overrides: Partial<PasswordPolicy> = {}): PasswordPolicy => ({
  length: 32,
  excludeCharacters: ':/@"\'\\',
  excludeNumbers: false,
  excludePunctuation: false,
  excludeUppercase: false,
  excludeLowercase: false,
  requireEachIncludedType: true,
  ...overrides,
});

/** Chi-square statistic of observed counts against a uniform expectation. */
function chiSquare(counts: Map<string, number>, alphabet: string[], total: number): number {
  const expected = total / alphabet.length;
  return alphabet.reduce((sum, c) => sum + ((counts.get(c) ?? 0) - expected) ** 2 / expected, 0);
}

/** Upper critical value of chi-square at p ≈ 1e-6 (Wilson–Hilferty; z = 4.753). */
function critical(df: number): number {
  const z = 4.753;
  return df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3;
}

function isUniform(random: RandomInt | undefined): boolean {
  const p = policy({ requireEachIncludedType: false });
  const alphabet = passwordAlphabet(p).characters;
  const counts = new Map<string, number>();
  const passwords = 20_000;
  for (let i = 0; i < passwords; i++) {
    for (const c of generatePassword(p, random)) counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  return chiSquare(counts, alphabet, passwords * p.length) < critical(alphabet.length - 1);
}

describe('generatePassword', () => {
  it('draws every allowed character with equal probability (chi-square, p = 1e-6)', () => {
    expect(isUniform(undefined)).toBe(true);
  });

  it('has a uniformity test that catches a modulo-biased source', () => {
    const modulo: RandomInt = (max) => (randomBytes(1)[0] as number) % max;
    expect(isUniform(modulo)).toBe(false);
  });

  it('has the requested length and never an excluded character', () => {
    for (let i = 0; i < 200; i++) {
      const password = generatePassword(policy({ length: 40 }));
      expect(password).toHaveLength(40);
      expect(password).not.toMatch(/[:/@"'\\ ]/);
    }
  });

  it('includes every included type when REQUIRE_EACH_INCLUDED_TYPE is on', () => {
    const p = policy({ length: 8, excludeCharacters: '' });
    for (let i = 0; i < 500; i++) {
      const password = generatePassword(p);
      for (const chars of Object.values(CHARACTER_CLASSES)) {
        expect([...password].some((c) => chars.includes(c))).toBe(true);
      }
    }
  });

  it.each([
    ['excludeNumbers', /[0-9]/],
    ['excludePunctuation', /[^a-zA-Z0-9]/],
    ['excludeUppercase', /[A-Z]/],
    ['excludeLowercase', /[a-z]/],
  ] as const)('honours %s', (option, forbidden) => {
    for (let i = 0; i < 100; i++)
      expect(generatePassword(policy({ [option]: true }))).not.toMatch(forbidden);
  });

  it('treats a type whose characters are all excluded as not included', () => {
    const password = generatePassword(policy({ excludeCharacters: '0123456789', length: 8 }));
    expect(password).not.toMatch(/[0-9]/);
  });

  it.each([
    [
      policy({
        excludeNumbers: true,
        excludePunctuation: true,
        excludeUppercase: true,
        excludeLowercase: true,
      }),
      /exclude every character/,
    ],
    [
      policy({ excludeCharacters: Object.values(CHARACTER_CLASSES).join('') }),
      /exclude every character/,
    ],
    [policy({ length: 7 }), /PASSWORD_LENGTH must be from 8/],
    [policy({ length: 5000 }), /PASSWORD_LENGTH must be from 8 to 4096/],
  ])('refuses an impossible or unsafe policy with a clear error', (p, message) => {
    expect(() => generatePassword(p)).toThrow(message);
  });

  it('gives up with a clear error when the required types cannot be drawn', () => {
    const never: RandomInt = () => 0; // always the first character: one type only
    expect(() => generatePassword(policy(), never)).toThrow(/REQUIRE_EACH_INCLUDED_TYPE/);
  });
});
