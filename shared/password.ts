import { randomInt } from 'node:crypto';
import { PASSWORD_LENGTH_MAX, PASSWORD_LENGTH_MIN, type PasswordPolicy } from './config';
import { ConfigurationError } from './errors';

/** The character classes of Secrets Manager's GetRandomPassword (space is never included). */
export const CHARACTER_CLASSES = {
  lowercase: 'abcdefghijklmnopqrstuvwxyz',
  uppercase: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  numbers: '0123456789',
  punctuation: '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
} as const;

/** Returns a uniformly random integer in [0, max); `crypto.randomInt` by default. */
export type RandomInt = (max: number) => number;

interface Alphabet {
  characters: string[];
  /** The included classes, each as the set of its characters left after exclusions. */
  required: Set<string>[];
}

/**
 * Checks that a policy can produce a password, and returns what it draws from. Throws a
 * ConfigurationError that names the settings at fault.
 */
export function passwordAlphabet(policy: PasswordPolicy): Alphabet {
  if (
    !Number.isInteger(policy.length) ||
    policy.length < PASSWORD_LENGTH_MIN ||
    policy.length > PASSWORD_LENGTH_MAX
  ) {
    throw new ConfigurationError(
      `PASSWORD_LENGTH must be from ${PASSWORD_LENGTH_MIN} to ${PASSWORD_LENGTH_MAX}; got ${policy.length}`,
    );
  }
  const excluded = new Set(policy.excludeCharacters);
  const chosen: string[] = [];
  if (!policy.excludeLowercase) chosen.push(CHARACTER_CLASSES.lowercase);
  if (!policy.excludeUppercase) chosen.push(CHARACTER_CLASSES.uppercase);
  if (!policy.excludeNumbers) chosen.push(CHARACTER_CLASSES.numbers);
  if (!policy.excludePunctuation) chosen.push(CHARACTER_CLASSES.punctuation);
  const classes = chosen
    .map((chars) => [...chars].filter((c) => !excluded.has(c)))
    .filter((chars) => chars.length > 0);
  const characters = classes.flat();
  if (characters.length === 0) {
    throw new ConfigurationError(
      'The password settings exclude every character: check EXCLUDE_CHARACTERS, EXCLUDE_NUMBERS, EXCLUDE_PUNCTUATION, EXCLUDE_UPPERCASE and EXCLUDE_LOWERCASE',
    );
  }
  const required = policy.requireEachIncludedType ? classes.map((chars) => new Set(chars)) : [];
  if (required.length > policy.length) {
    throw new ConfigurationError(
      `PASSWORD_LENGTH ${policy.length} is shorter than the ${required.length} character types REQUIRE_EACH_INCLUDED_TYPE asks for`,
    );
  }
  return { characters, required };
}

/**
 * A password drawn uniformly from every password the policy allows: each character is drawn
 * uniformly (randomInt uses rejection sampling, so no modulo bias), and a draw that misses a
 * required type is thrown away whole rather than patched, which would skew positions.
 */
export function generatePassword(policy: PasswordPolicy, random: RandomInt = randomInt): string {
  const { characters, required } = passwordAlphabet(policy);
  for (let attempt = 0; attempt < 10_000; attempt++) {
    const password = Array.from(
      { length: policy.length },
      () => characters[random(characters.length)] as string,
    );
    if (required.every((set) => password.some((c) => set.has(c)))) return password.join('');
  }
  throw new ConfigurationError(
    'Could not draw a password with every required character type: raise PASSWORD_LENGTH, exclude fewer characters, or set REQUIRE_EACH_INCLUDED_TYPE=false',
  );
}
