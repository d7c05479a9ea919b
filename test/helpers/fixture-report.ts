import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './paths';

const run = promisify(execFile);

/**
 * Runs `test/fixtures/<name>` in a node process of its own (for what a fresh process has loaded,
 * which the test runner cannot tell about itself) and returns the JSON object its last line prints.
 */
export async function fixtureReport(name: string): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, ['--disable-warning=DEP0111', '--import', 'tsx', join(REPO_ROOT, 'test', 'fixtures', name)], { cwd: REPO_ROOT });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}
