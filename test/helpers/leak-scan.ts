import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';

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
        const password = passwordOf(value?.SecretString);
        if (password) passwords.add(password);
      }
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return passwords;
}

function passwordOf(text: string | undefined): string | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as { password?: unknown };
    return typeof value.password === 'string' ? value.password : undefined;
  } catch {
    return undefined;
  }
}

export interface Leak {
  file: string;
  line: number;
  /** Never the password itself: its length and where it starts in the line. */
  column: number;
  length: number;
}

/**
 * Looks for each password, as written and as JSON would escape it, in every file of `dir`.
 * Passwords shorter than 8 characters are skipped: they could match by chance.
 */
export function scanForLeaks(dir: string, passwords: Iterable<string>): Leak[] {
  const needles = [
    ...new Set(
      [...passwords]
        .filter((p) => p.length >= 8)
        .flatMap((p) => [p, JSON.stringify(p).slice(1, -1)]),
    ),
  ];
  const leaks: Leak[] = [];
  for (const name of readdirSync(dir)) {
    const lines = readFileSync(join(dir, name), 'utf8').split('\n');
    lines.forEach((text, index) => {
      for (const needle of needles) {
        const column = text.indexOf(needle);
        if (column >= 0) leaks.push({ file: name, line: index + 1, column, length: needle.length });
      }
    });
  }
  return leaks;
}
