import { strict as assert } from 'node:assert';
import * as sinon from 'sinon';
import { ManualClock } from '../../src/app/clock';
import type { Store } from '../../src/app/ports';
import { TEAMS_KV } from '../../src/teams';
import { TENANT_ID, BOT, executeInvoke, installationUpdateAdd, personalMessage, postActivity, users } from '../clients/teams';
import { memberKey } from '../../src/teams/directory';
import { memoryKvStore, startTeamsHarness, type TeamsHarness } from './harness';
import { StubApi } from './stub-api';

const APP_ID = BOT.id.slice(3);

describe('Teams adapter with an app id: every activity needs a valid Bot Framework token', () => {
  let api: StubApi;
  let store: Store;
  let h: TeamsHarness;
  const clock = new ManualClock(new Date());

  beforeEach(async () => {
    // botframework-connector prints every rejected token's details with console.error; the
    // assertions below are what matter, the noise would only bury them.
    sinon.stub(console, 'error');
    api = new StubApi();
    store = memoryKvStore();
    h = await startTeamsHarness({ api, store, clock, appId: APP_ID });
  });
  afterEach(async () => {
    sinon.restore();
    await h.close();
  });

  async function assertNothingChanged(): Promise<void> {
    assert.deepEqual(api.calls, [], 'the api was not called');
    assert.deepEqual(h.connector.calls, [], 'nothing was sent to Teams');
    for (const ns of Object.values(TEAMS_KV)) assert.deepEqual(await store.listValues(ns), [], `${ns} is untouched`);
  }

  it('should answer 401 to an activity without a token, and change nothing', async () => {
    const res = await postActivity(h.url, personalMessage({ serviceUrl: h.connector.url }, users.alice, 'jit ssh web-01 1h from 10.1.2.3'));
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, { error: 'Unauthorized' });
    await assertNothingChanged();
  });

  it('should answer 401 to forged, foreign, stale or misdirected tokens, and change nothing', async () => {
    const place = { serviceUrl: h.connector.url };
    const cases: Array<[string, string]> = [
      ['garbage', 'not.a.jwt'],
      ['signed by another key', h.connector.mintToken({ audience: APP_ID }, { forgedKey: true })],
      ['unknown key id', h.connector.mintToken({ audience: APP_ID }, { kid: 'someone-elses-key' })],
      ['for another bot', h.connector.mintToken({ audience: '99999999-9999-4999-8999-999999999999' })],
      ['expired', h.connector.mintToken({ audience: APP_ID, expiresInSec: -600 })],
      ['for another serviceUrl', h.connector.mintToken({ audience: APP_ID, serviceUrl: 'https://smba.trafficmanager.net/amer/' })],
    ];
    for (const [name, token] of cases) {
      for (const activity of [
        installationUpdateAdd(place),
        executeInvoke(place, users.bob, { verb: 'approve', data: { verb: 'approve', requestId: 'R4K7QX' } }, { replyToId: '1001' }),
      ]) {
        const res = await postActivity(h.url, activity, { token });
        assert.equal(res.status, 401, `${name} (${activity.type})`);
      }
    }
    await assertNothingChanged();
    assert.ok(!JSON.stringify(h.logs).includes(cases[1][1]), 'no token reaches a log line');
  });

  it('should accept a token the Bot Framework signed for this bot and serviceUrl', async () => {
    // Bob's member lookup is cached, so the refresh needs no outbound (token-bearing) connector call.
    await store.setValue(TEAMS_KV.members, memberKey({ tenantId: TENANT_ID, aadObjectId: users.bob.aadObjectId, userId: users.bob.id }), { userId: users.bob.id, email: users.bob.email, aadObjectId: users.bob.aadObjectId, tenantId: TENANT_ID, name: 'Bob', fetchedAt: clock.now().toISOString() });
    const token = h.connector.mintToken({ audience: APP_ID });
    const res = await postActivity(h.url, executeInvoke({ serviceUrl: h.connector.url }, users.bob, { verb: 'refresh', data: { verb: 'refresh', requestId: 'R4K7QX' } }, { replyToId: '1001', trigger: 'automatic' }), { token });
    assert.equal(res.status, 200, JSON.stringify(h.logs));
    assert.equal(res.body.type, 'application/vnd.microsoft.card.adaptive');
    assert.ok(api.calls.some((c) => c.method === 'view'));
  });
});

describe('Teams adapter limited to one tenant', () => {
  it('should refuse activities from another tenant', async () => {
    const api = new StubApi();
    const h = await startTeamsHarness({ api, store: memoryKvStore(), appId: APP_ID, tenantId: '11111111-2222-4333-8444-555555555555' });
    try {
      const token = h.connector.mintToken({ audience: APP_ID });
      const res = await postActivity(h.url, executeInvoke({ serviceUrl: h.connector.url }, users.bob, { verb: 'approve', data: { verb: 'approve', requestId: 'R4K7QX' } }), { token });
      assert.equal(res.status, 200);
      assert.equal(res.body.statusCode, 403);
      assert.deepEqual(api.calls, []);
    } finally {
      await h.close();
    }
  });
});
