import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where the unit project's leak scan collects function output and the passwords the fakes held:
 * set by its globalSetup, inherited by the test workers. Unset (e.g. a single test file run by
 * hand without the setup), nothing is recorded.
 */
export const CAPTURE_DIR_VARIABLE = 'ROTATION_UNIT_CAPTURE_DIR';

/** Appends function output (logs, error messages) to this worker's capture file. */
export function recordOutput(text: string): void {
  const dir = process.env[CAPTURE_DIR_VARIABLE];
  if (dir && text) appendFileSync(join(dir, `output-${process.pid}.log`), text);
}

/** Remembers a password a fake held, for the scan at the end of the run. */
export function recordPassword(password: unknown): void {
  const dir = process.env[CAPTURE_DIR_VARIABLE];
  if (dir && typeof password === 'string' && password.length > 0) {
    appendFileSync(join(dir, 'passwords.jsonl'), `${JSON.stringify(password)}\n`);
  }
}
