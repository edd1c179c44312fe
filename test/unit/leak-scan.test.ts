import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql2 from 'mysql2';
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

  it('finds a run of 12 characters in any driver form, once per run, and ignores 11', () => {
    const password = `q'w\\e"rtyuiopasdfghjklzxcvbnm`;
    const sqlForm = mysql2.escape(password).slice(1, -1);
    const dir = mkdtempSync(join(tmpdir(), 'leak-'));
    writeFileSync(
      join(dir, 'a.log'),
      [
        `near '${sqlForm.slice(0, 15)}' at line 1`,
        `cut ${password.slice(-11)} here`,
        `json ${JSON.stringify(JSON.stringify(password.slice(2, 20)))}`,
        `url ${encodeURIComponent(password).slice(0, 12)}`,
      ].join('\n'),
    );
    expect(scanForLeaks(dir, [password]).map((leak) => [leak.line, leak.column])).toEqual([
      [1, 6],
      [3, 8],
      [4, 4],
    ]);
  });

  it('finds nothing in clean output', () => {
    const dir = mkdtempSync(join(tmpdir(), 'leak-'));
    writeFileSync(join(dir, 'a.log'), '{"msg":"Rotation step succeeded"}\n');
    expect(scanForLeaks(dir, ['Correct-Horse-Battery'])).toEqual([]);
  });
});
