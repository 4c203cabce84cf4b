import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Checks that the CLI is built, and gives the run a temporary folder of its own: the test files (each in a fork
 * that inherits this environment) make hundreds of folders with `os.tmpdir()` — homes with audit databases,
 * signing keys and token stores among them — and the teardown removes them all with the run's folder instead of
 * leaving them in /tmp after every run. Processes the tests start get a clean environment (isolatedEnv) and keep
 * the system's temporary folder.
 */
export default function setup(): () => void {
  const cli = path.resolve(__dirname, '../../dist/cli/index.js');
  if (!existsSync(cli)) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
  const run = mkdtempSync(path.join(os.tmpdir(), 'mcpw-test-run-'));
  process.env['TMPDIR'] = run;
  return () => {
    try {
      rmSync(run, { recursive: true, force: true, maxRetries: 3 });
    } catch (e) {
      process.stderr.write(`could not remove the test run's temporary folder ${run}: ${(e as Error).message}\n`);
    }
  };
}
