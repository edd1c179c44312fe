import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { scanForLeaks } from '../leak-scan';
import { CAPTURE_DIR_VARIABLE } from './capture-dir';

/**
 * Unit project globalTeardown: searches everything the handlers logged or threw in the unit tests
 * for every password the fake Secrets Manager held, and fails the run on a hit.
 */
export default function unitGlobalTeardown(): void {
  const dir = process.env[CAPTURE_DIR_VARIABLE];
  if (!dir) return;
  const file = join(dir, 'passwords.jsonl');
  const passwords = existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as string)
    : [];
  const leaks = scanForLeaks(dir, new Set(passwords)).filter(
    (leak) => leak.file !== 'passwords.jsonl',
  );
  process.stdout.write(
    `\nLeak scan (unit): ${new Set(passwords).size} passwords held by the fakes searched for in the captured function output: ${leaks.length} found\n`,
  );
  if (leaks.length > 0) {
    throw new Error(
      `Passwords leaked into function output (unit tests): ${leaks.map((l) => `${l.file}:${l.line}:${l.column}`).join(', ')} (capture kept in ${dir})`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
}
