/** Ends a jest run with one plain line, `N passed, N failed, N skipped`, that CI can read whatever the runner. */
export default class ClosingLineReporter {
  onRunComplete(_contexts, results) {
    // A suite that failed to run has no failed test of its own: count it as a failure.
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    process.stdout.write(`\n${results.numPassedTests} passed, ${failed} failed, ${results.numPendingTests} skipped\n`);
  }
}
