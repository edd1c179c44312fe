import { randomInt } from 'node:crypto';
import {
  PASSWORD_LENGTH_MAX,
  PASSWORD_LENGTH_MIN,
  type PasswordPolicy,
  type PasswordRules,
} from './config';
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

const SETTING_OF = {
  lowercase: 'EXCLUDE_LOWERCASE',
  uppercase: 'EXCLUDE_UPPERCASE',
  numbers: 'EXCLUDE_NUMBERS',
} as const;
const FIELD_OF = {
  lowercase: 'excludeLowercase',
  uppercase: 'excludeUppercase',
  numbers: 'excludeNumbers',
} as const;
const NAME_OF = { lowercase: 'lowercase letter', uppercase: 'uppercase letter', numbers: 'digit' };
const ONE_OF = {
  lowercase: 'a lowercase letter',
  uppercase: 'an uppercase letter',
  numbers: 'a digit',
};

/**
 * The settings that could make a password the server refuses, in words naming each setting;
 * empty when every password the policy can draw meets `rules`.
 */
export function passwordRuleProblems(policy: PasswordPolicy, rules: PasswordRules): string[] {
  const problems: string[] = [];
  const server = rules.server;
  if (policy.length < rules.minLength || policy.length > rules.maxLength) {
    problems.push(
      `PASSWORD_LENGTH is ${policy.length}; ${server} takes passwords of ${rules.minLength} to ${rules.maxLength} characters`,
    );
  }
  const excluded = new Set(policy.excludeCharacters);
  for (const type of rules.requires) {
    const name = NAME_OF[type];
    if (policy[FIELD_OF[type]]) {
      problems.push(
        `${SETTING_OF[type]}=true; ${server} requires ${ONE_OF[type]} in every password`,
      );
    } else if ([...CHARACTER_CLASSES[type]].every((c) => excluded.has(c))) {
      problems.push(
        `EXCLUDE_CHARACTERS excludes every ${name}; ${server} requires one in every password`,
      );
    }
  }
  if (!policy.requireEachIncludedType && rules.requires.length > 0) {
    problems.push(
      `REQUIRE_EACH_INCLUDED_TYPE=false; ${server} requires ${rules.requires.map((t) => ONE_OF[t]).join(', ')} in every password`,
    );
  }
  const allowed = [
    ...(policy.excludeLowercase ? '' : CHARACTER_CLASSES.lowercase),
    ...(policy.excludeUppercase ? '' : CHARACTER_CLASSES.uppercase),
    ...(policy.excludeNumbers ? '' : CHARACTER_CLASSES.numbers),
    ...(policy.excludePunctuation ? '' : CHARACTER_CLASSES.punctuation),
  ];
  const forbidden = [...rules.forbidden].filter((c) => allowed.includes(c) && !excluded.has(c));
  if (forbidden.length > 0) {
    problems.push(
      `EXCLUDE_CHARACTERS lacks ${forbidden.join(' ')}, which ${server} refuses in a password (its default excludes them; or set EXCLUDE_PUNCTUATION=true)`,
    );
  }
  return problems;
}

/**
 * Checks that a policy can produce a password (and, given the server's `rules`, only passwords
 * the server takes), and returns what it draws from. Throws a ConfigurationError that names the
 * settings at fault.
 */
export function passwordAlphabet(policy: PasswordPolicy, rules?: PasswordRules): Alphabet {
  const problems = rules ? passwordRuleProblems(policy, rules) : [];
  if (problems.length > 0) {
    throw new ConfigurationError(
      `The password settings do not suit ${rules?.server}: ${problems.join('; ')}`,
    );
  }
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
export function generatePassword(
  policy: PasswordPolicy,
  random: RandomInt = randomInt,
  rules?: PasswordRules,
): string {
  const { characters, required } = passwordAlphabet(policy, rules);
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
