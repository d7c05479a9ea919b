import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/paths';

const run = promisify(execFile);

describe('Teams adapter loading', function () {
  this.timeout(60_000);

  it('starts without botbuilder, refuses a non-activity without it, and loads it for the first activity', async function () {
    const { stdout } = await run(process.execPath, ['--disable-warning=DEP0111', '--import', 'tsx', join(REPO_ROOT, 'test', 'fixtures', 'teams-lazy.ts')], { cwd: REPO_ROOT });
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    assert.deepEqual(report, { atStart: false, refusedStatus: 400, afterRefused: false, activityStatus: 200, afterActivity: true });
  });
});
