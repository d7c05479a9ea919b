import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/paths';

const run = promisify(execFile);

describe('Start-up loads only what readiness needs', function () {
  // A first start on PGlite from the sources runs initdb (no build template): several seconds.
  this.timeout(120_000);

  it('answers /readyz without arm-compute, card templating or botbuilder, and loads the first two when a VM list and a card need them', async function () {
    const { stdout } = await run(process.execPath, ['--disable-warning=DEP0111', '--import', 'tsx', join(REPO_ROOT, 'test', 'fixtures', 'lazy-start.ts')], { cwd: REPO_ROOT });
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    assert.deepEqual(report, {
      ready: 200,
      atReady: { compute: false, templating: false, botbuilder: false },
      vms: true,
      card: 'AdaptiveCard',
      afterUse: { compute: true, templating: true, botbuilder: false },
    });
  });
});
