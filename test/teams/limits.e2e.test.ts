// Teams size limits end to end: the real app and adapter against a fake Bot Connector that refuses
// what Teams refuses (413 over 100 KB as UTF-16). A glob over 200 VMs with a long reason goes through, and a notice Teams refuses as built still arrives, in its minimal form.
import { strict as assert } from 'node:assert';
import { CHANNEL_ID, channelMessage, executeInvoke, installPersonal, personalConversationId, postActivity, users } from '../clients/teams';
import { TEAMS_MESSAGE_MAX_BYTES, type ConnectorCall, type FakeBotConnector } from '../fakes/bot-connector';
import { bigWorldConfig, type TestWorld } from '../helpers/world';
import { MAX_REASON_LENGTH } from '../../src/core/words';
import { LONG_REASON } from './card-samples';
import { cardTexts } from './card-text';
import { startTeamsWorld, type TeamsHarness, type TeamsWorld } from './harness';

type Json = Record<string, any>;

describe('Teams messages stay within Teams limits (real app, fake Bot Connector)', function () {
  this.timeout(60_000);
  let world: TestWorld;
  let connector: FakeBotConnector;
  let h: TeamsHarness;

  let teamsWorld: TeamsWorld;

  beforeEach(async () => {
    teamsWorld = await startTeamsWorld({ world: { config: bigWorldConfig() } });
    ({ world, connector, h } = teamsWorld);
    await postActivity(h.url, installPersonal(place(), users.alice));
    connector.reset();
  });
  afterEach(async () => teamsWorld.close());

  const place = (): { serviceUrl: string } => ({ serviceUrl: connector.url });
  const cardOf = (activity: Json | undefined): Json => activity?.attachments?.[0]?.content;
  const sent = (c: ConnectorCall): Json | undefined => (c.path === '/v3/conversations' ? c.body?.activity : c.body);

  async function requestAndApprove(words: string): Promise<{ requestId: string; cardId: string }> {
    assert.equal((await postActivity(h.url, channelMessage(place(), users.alice, words))).status, 200);
    await world.settle();
    const post = await connector.waitFor((c) => c.method === 'POST' && c.path === '/v3/conversations');
    const requestId = String(cardOf(post.body.activity).refresh.action.data.requestId);
    const refs = await world.store.listMessageRefs(requestId);
    const cardId = String(refs.find((r) => r.ref.platform === 'teams' && r.kind === 'card')!.ref.data.activityId);
    const res = await postActivity(h.url, executeInvoke(place(), users.bob, { verb: 'approve', data: { verb: 'approve', requestId } }, { replyToId: cardId }));
    assert.equal(res.status, 200);
    await world.settle();
    return { requestId, cardId };
  }

  // The grammar takes reasons up to MAX_REASON_LENGTH; 2,000-character ones are drawn in card-safety.test.ts.
  it('carries a request for 203 VMs with the longest reason the grammar takes to open, every message under the limit', async () => {
    const { cardId } = await requestAndApprove(`jit ssh web-* 1h from 10.1.2.3 for ${LONG_REASON.slice(0, MAX_REASON_LENGTH)}`);
    assert.equal(world.sim.check('web-250', 22, '10.1.2.3').allowed, true, 'the 150th VM of the glob is open');
    for (const c of connector.calls.filter((x) => x.method !== 'GET')) {
      const activity = sent(c);
      if (!activity) continue;
      assert.ok(JSON.stringify(activity).length * 2 < TEAMS_MESSAGE_MAX_BYTES, `${c.method} ${c.path} fits`);
    }
    const card = cardTexts(cardOf(connector.calls.find((c) => c.path === '/v3/conversations')!.body.activity));
    assert.ok(card.some((t) => /^VMs: web-\* \(203 VMs\): web-01, web-02, /.test(t)), card.join('\n'));
    const thread = connector.calls.filter((c) => c.method === 'POST' && c.path === `/v3/conversations/${CHANNEL_ID};messageid=${cardId}/activities`);
    assert.ok(thread.some((c) => /Access open/.test(JSON.stringify(c.body))), 'the thread says the ports are open');
    const dms = connector.calls.filter((c) => c.method === 'POST' && c.path === `/v3/conversations/${personalConversationId(users.alice)}/activities`);
    assert.ok(dms.some((c) => /Open until/.test(JSON.stringify(c.body))), 'Alice is told directly');
  });

  it('sends the "open" notice again in minimal form when Teams refuses it as too large, so it is never lost', async () => {
    connector.failNext({ method: 'POST', pathIncludes: personalConversationId(users.alice), bodyIncludes: 'Open until' }, { status: 413, body: { error: { code: 'MessageSizeTooBig', message: 'Message size too big.' } } });
    await requestAndApprove('jit ssh web-01 1h from 10.1.2.3 for INC-4711');
    const dms = connector.calls.filter((c) => c.method === 'POST' && c.path === `/v3/conversations/${personalConversationId(users.alice)}/activities` && /Open until/.test(JSON.stringify(c.body)));
    assert.equal(dms.length, 2, `refused, then sent minimal; saw ${dms.map((c) => JSON.stringify(c.body).slice(0, 120)).join('\n')}`);
    assert.equal(cardOf(dms[1].body).body.length, 2, 'the minimal form: a title and a line');
    const minimal = cardTexts(cardOf(dms[1].body)).join('\n');
    assert.match(minimal, /Open until (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC from 10\.1\.2\.3/);
  });
});
