import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanForLeaks } from '../helpers/leak-scan';

describe('scanForLeaks', () => {
  it('finds a password written raw or JSON-escaped, and reports where without repeating it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'leak-'));
    writeFileSync(join(dir, 'a.log'), '{"msg":"ok"}\n{"msg":"pw is abc\\"def\\\\ghi"}\n');
    writeFileSync(join(dir, 'b.log'), 'plain hunter2hunter2 here\n');
    const leaks = scanForLeaks(dir, [
      'abc"def\\ghi',
      'hunter2hunter2',
      'not-there-at-all',
      'short',
    ]);
    expect(leaks).toEqual([
      { file: 'a.log', line: 2, column: 14, length: 13 },
      { file: 'b.log', line: 1, column: 6, length: 14 },
    ]);
  });

  it('finds nothing in clean output', () => {
    const dir = mkdtempSync(join(tmpdir(), 'leak-'));
    writeFileSync(join(dir, 'a.log'), '{"msg":"Rotation step succeeded"}\n');
    expect(scanForLeaks(dir, ['Correct-Horse-Battery'])).toEqual([]);
  });
});
