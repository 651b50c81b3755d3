// Prints vitest's JSON report as the plain "N passed, N failed" line CI reads.
import { existsSync, readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.vitest-report.json';
if (!existsSync(file)) {
  process.stdout.write('tests did not run (type-check or lint failed first)\n0 passed, 1 failed\n');
} else {
  const report = JSON.parse(readFileSync(file, 'utf8')) as { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests: number };
  const skipped = report.numPendingTests + report.numTodoTests;
  process.stdout.write(`${report.numPassedTests} passed, ${report.numFailedTests} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`);
}
