// Prints one plain closing line, "jest: N passed, N failed, N skipped", that CI tools read.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    this.results = results;
  }

  // Printed once jest has written its own summary, so the line closes the output.
  getLastError() {
    const r = this.results;
    if (r) {
      const skipped = r.numPendingTests + r.numTodoTests;
      process.stderr.write(
        `\njest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped\n`,
      );
    }
    return undefined;
  }
}
module.exports = SummaryReporter;
