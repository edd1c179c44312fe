// Prints one plain closing line, "jest: N passed, N failed, N skipped", that CI tools read.
// Before it, when the integration environment ran, the tests per server: a test counts for each
// server whose name (as the environment reports it, e.g. `mysql-9.7-require-tls`) is a word of its
// full name.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    this.results = results;
  }

  // Printed once jest has written its own summary, so the lines close the output.
  getLastError() {
    const r = this.results;
    if (r) {
      const perServer = serverCounts(r);
      if (perServer) {
        process.stderr.write(`\n${perServer}`);
      }
      const skipped = r.numPendingTests + r.numTodoTests;
      process.stderr.write(
        `\njest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped\n`,
      );
    }
    return undefined;
  }
}

/** `Tests per server` lines, or undefined when no integration environment ran in this process. */
function serverCounts(results) {
  let env;
  try {
    env = JSON.parse(process.env.ROTATION_TEST_ENV ?? '');
  } catch {
    return undefined;
  }
  const servers = [...(env.postgres ?? []), ...(env.mysql ?? []), ...(env.mongodb ?? [])];
  if (servers.length === 0) return undefined;
  const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const rows = servers.map((server) => ({
    server,
    pattern: new RegExp(`(^|[^\\w.-])${escapeRegExp(server.name)}($|[^\\w.-])`),
    passed: 0,
    failed: 0,
    skipped: 0,
  }));
  for (const file of results.testResults) {
    for (const test of file.testResults) {
      const name = test.fullName ?? [...test.ancestorTitles, test.title].join(' ');
      for (const row of rows) {
        if (!row.pattern.test(name)) continue;
        if (test.status === 'passed') row.passed++;
        else if (test.status === 'failed') row.failed++;
        else row.skipped++;
      }
    }
  }
  const width = Math.max(...rows.map((row) => row.server.name.length));
  const lines = rows.map(
    (row) =>
      `  ${row.server.name.padEnd(width)}  ${row.passed} passed, ${row.failed} failed, ${row.skipped} skipped  (${row.server.version})`,
  );
  return `Tests per server (a test counts for every server it names):\n${lines.join('\n')}\n`;
}

module.exports = SummaryReporter;
