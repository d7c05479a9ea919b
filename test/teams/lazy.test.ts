import { strict as assert } from 'node:assert';
import { fixtureReport } from '../helpers/fixture-report';

describe('Teams adapter loading', function () {
  this.timeout(60_000);

  it('starts without botbuilder, refuses a non-activity without it, and loads it for the first activity', async function () {
    assert.deepEqual(await fixtureReport('teams-lazy.ts'), { atStart: false, refusedStatus: 400, afterRefused: false, activityStatus: 200, afterActivity: true });
  });
});
