// Prints the fault matrix at the end of a run that ran the fault-injection suites
// (test/integration/faults/): function × fault kind, passed/points, from the reports those suites
// wrote to <run dir>/fault-matrix/, and writes the same table to <run dir>/fault-matrix/matrix.md.
// The suites' own tests fail on a failing point; this reporter only tells.
const { existsSync, readdirSync, readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const KINDS = [
  ['process-killed', 'killed'],
  ['connection-dropped', 'dropped'],
  ['sm-throttling', 'throttled'],
  ['sm-5xx', '5xx'],
  ['db-unreachable', 'db down'],
  ['step-timeout', 'timeout'],
  ['concurrent-step', 'twice'],
  ['changed-outside', 'outside'],
  ['leftover-pending', 'leftover'],
  ['test-alone', 'test alone'],
];

function runDir() {
  try {
    return JSON.parse(process.env.ROTATION_TEST_ENV ?? '').runDir;
  } catch {
    return undefined;
  }
}

function table(rows) {
  const byFunction = new Map();
  for (const row of rows) {
    const key = `${row.function} on ${row.server}`;
    if (!byFunction.has(key)) byFunction.set(key, new Map());
    byFunction.get(key).set(row.kind, row);
  }
  const header = ['function on server', ...KINDS.map(([, short]) => short), 'total', 'collapsed'];
  const lines = [];
  const sum = { points: 0, passed: 0, failed: 0, notReached: 0, collapsed: 0 };
  for (const [name, kinds] of [...byFunction].sort(([a], [b]) => a.localeCompare(b))) {
    const total = { points: 0, passed: 0, collapsed: 0 };
    const cells = KINDS.map(([kind]) => {
      const r = kinds.get(kind);
      if (!r) return '-';
      total.points += r.points;
      total.passed += r.passed;
      total.collapsed += r.collapsed;
      for (const k of Object.keys(sum)) sum[k] += r[k];
      return `${r.passed}/${r.points}`;
    });
    lines.push([name, ...cells, `${total.passed}/${total.points}`, String(total.collapsed)]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  return [
    format(header),
    `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...lines.map(format),
    '',
    `Cells: points passed / points run. Collapsed: generated points not run because an equivalent point ran ` +
      `(each is listed with the point it equals in the reports; a function whose traces equal another's on the ` +
      `same server, as mysql-* and mariadb-* on MariaDB, has all its boundary points collapsed). ` +
      `${sum.passed} of ${sum.points} points passed, ${sum.failed} failed, ` +
      `${sum.notReached} not reached (the traced boundary did not occur in the faulted run); ${sum.collapsed} collapsed.`,
  ].join('\n');
}

class MatrixReporter {
  onRunComplete() {
    const dir = runDir() && join(runDir(), 'fault-matrix');
    if (!dir || !existsSync(dir)) return;
    const rows = readdirSync(dir)
      .filter((name) => name.endsWith('.json'))
      .flatMap((name) => JSON.parse(readFileSync(join(dir, name), 'utf8')).summary ?? []);
    if (rows.length === 0) return;
    const text = table(rows);
    writeFileSync(join(dir, 'matrix.md'), `# Fault matrix\n\n${text}\n`);
    process.stdout.write(`\nFault matrix (function × fault kind), details in ${dir}:\n${text}\n`);
  }
}
module.exports = MatrixReporter;
