import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CAPTURE_DIR_VARIABLE } from './capture-dir';

/** Unit project globalSetup: a fresh directory for the leak scan, shared with the workers. */
export default function unitGlobalSetup(): void {
  process.env[CAPTURE_DIR_VARIABLE] = mkdtempSync(join(tmpdir(), 'rotation-unit-capture-'));
}
