import { strict as assert } from 'node:assert';
import { fixtureReport } from '../helpers/fixture-report';

describe('Start-up loads only what readiness needs', function () {
  // A first start on PGlite from the sources runs initdb (no build template): several seconds.
  this.timeout(120_000);

  it('answers /readyz without arm-compute, card templating or botbuilder, and loads the first two when a VM list and a card need them', async function () {
    assert.deepEqual(await fixtureReport('lazy-start.ts'), {
      ready: 200,
      atReady: { compute: false, templating: false, botbuilder: false },
      vms: true,
      card: 'AdaptiveCard',
      afterUse: { compute: true, templating: true, botbuilder: false },
    });
  });
});
