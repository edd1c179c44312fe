import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import mysql2 from 'mysql2';
import { escapeLiteral } from 'pg';

/**
 * Every password that any version of any secret held during the run, master secrets included,
 * read back from the Secrets Manager endpoint the suites used.
 */
export async function passwordsInSecretsManager(endpoint: string): Promise<Set<string>> {
  const client = new SecretsManagerClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const passwords = new Set<string>();
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new ListSecretsCommand({ NextToken: nextToken, IncludePlannedDeletion: true }),
    );
    for (const secret of page.SecretList ?? []) {
      const versions = await client.send(
        new ListSecretVersionIdsCommand({ SecretId: secret.ARN, IncludeDeprecated: true }),
      );
      for (const version of versions.Versions ?? []) {
        const value = await client
          .send(new GetSecretValueCommand({ SecretId: secret.ARN, VersionId: version.VersionId }))
          .catch(() => undefined); // a version without a value
        for (const password of passwordsOf(value?.SecretString)) passwords.add(password);
      }
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return passwords;
}

/** `password`, and a pair's `alternate_password` (read here on its own, not by the code under test). */
function passwordsOf(text: string | undefined): string[] {
  if (!text) return [];
  try {
    const value = JSON.parse(text) as { password?: unknown; alternate_password?: unknown };
    return [value.password, value.alternate_password].filter(
      (password): password is string => typeof password === 'string' && password.length > 0,
    );
  } catch {
    return [];
  }
}

export interface Leak {
  file: string;
  line: number;
  /** Never the password itself: its length and where it starts in the line. */
  column: number;
  length: number;
}

/** The shortest run of a password's characters that counts as a leak (shorter ones: the whole). */
export const LEAK_RUN = 12;

/**
 * The forms a password takes where the drivers and serializers put it: as written, in a mysql2
 * literal, in a PostgreSQL literal (pg's own escapeLiteral), SQL-standard quoted, URL-encoded, and
 * each of those JSON-escaped once or twice. Built from the drivers themselves, not from the
 * redactor under test.
 */
export function leakForms(password: string): string[] {
  const inner = (quoted: string) => quoted.replace(/^ ?E?'/, '').replace(/'$/, '');
  const json = (text: string) => JSON.stringify(text).slice(1, -1);
  const base = [
    password,
    inner(mysql2.escape(password)),
    inner(escapeLiteral(password)),
    password.split("'").join("''"),
    encodeURIComponent(password),
  ];
  return [...new Set(base.flatMap((form) => [form, json(form), json(json(form))]))];
}

/**
 * Looks for every run of LEAK_RUN or more characters of each password, in any of its forms (whole
 * when shorter), in every file of `dir`: a truncated or partial echo counts as a leak. Passwords
 * shorter than 8 characters are skipped: they could match by chance. One leak is reported per run.
 */
export function scanForLeaks(dir: string, passwords: Iterable<string>): Leak[] {
  const windows = leakWindows(passwords);
  const leaks: Leak[] = [];
  for (const name of readdirSync(dir)) {
    const lines = readFileSync(join(dir, name), 'utf8').split('\n');
    lines.forEach((text, index) => {
      for (const run of runsIn(text, windows)) {
        leaks.push({ file: name, line: index + 1, column: run.start, length: run.end - run.start });
      }
    });
  }
  return leaks;
}

/** How many separate runs of the passwords (as scanForLeaks counts them) `text` holds. */
export function leakRuns(text: string, passwords: Iterable<string>): number {
  return runsIn(text, leakWindows(passwords)).length;
}

function leakWindows(passwords: Iterable<string>): Map<number, Set<string>> {
  const windows = new Map<number, Set<string>>();
  for (const password of new Set(passwords)) {
    if (password.length < 8) continue;
    for (const form of leakForms(password)) {
      const length = Math.min(LEAK_RUN, form.length);
      const set = windows.get(length) ?? new Set<string>();
      windows.set(length, set);
      for (let at = 0; at + length <= form.length; at++) set.add(form.slice(at, at + length));
    }
  }
  return windows;
}

/** The maximal stretches of `text` covered by windows of the sets. */
function runsIn(text: string, windows: Map<number, Set<string>>): { start: number; end: number }[] {
  const hits: { start: number; end: number }[] = [];
  for (const [length, set] of windows) {
    for (let at = 0; at + length <= text.length; at++) {
      if (set.has(text.slice(at, at + length))) hits.push({ start: at, end: at + length });
    }
  }
  hits.sort((a, b) => a.start - b.start);
  const runs: { start: number; end: number }[] = [];
  for (const hit of hits) {
    const last = runs.at(-1);
    if (last && hit.start <= last.end) last.end = Math.max(last.end, hit.end);
    else runs.push({ ...hit });
  }
  return runs;
}
