// End to end through Teams: the real app (PGlite store, Azure simulator behind the real Azure SDK
// client, scheduler on a manual clock) behind the real Teams adapter on restify, driven with Bot
// Framework activities whose serviceUrl is the loopback fake Bot Connector.
import { strict as assert } from 'node:assert';
import * as sinon from 'sinon';
import { TEAMS_KV } from '../../src/teams';
import { CHANNEL_ID, executeInvoke, installationUpdateAdd, installPersonal, personalConversationId, channelMessage, postActivity, users, type TeamsUser } from '../clients/teams';
import { connectorMembers } from '../clients/teams';
import { startFakeBotConnector, type ConnectorCall, type FakeBotConnector } from '../fakes/bot-connector';
import { MINUTE, startWorld, type TestWorld } from '../helpers/world';
import { startTeamsHarness, startTeamsWorld, type TeamsHarness, type TeamsWorld } from './harness';

type Json = Record<string, any>;

function cardOf(activity: Json | undefined): Json {
  const a = activity?.attachments?.[0];
  assert.equal(a?.contentType, 'application/vnd.microsoft.card.adaptive', `a card: ${JSON.stringify(activity)?.slice(0, 300)}`);
  return a.content;
}

function verbsOf(card: Json): string[] {
  const out: string[] = [];
  const walk = (v: any): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    if (v.type === 'Action.Execute' && v.verb !== 'refresh') out.push(v.verb);
    for (const [k, c] of Object.entries(v)) if (k !== 'refresh' && k !== 'fallback') walk(c);
  };
  walk(card);
  return out;
}

function requestIdOf(card: Json): string {
  const id = card.refresh?.action?.data?.requestId ?? (card.body as Json[]).flatMap((b) => b.facts ?? []).find((f: Json) => f.title === 'Request')?.value;
  assert.ok(typeof id === 'string' && id.length > 0, 'the card names its request');
  return id;
}

describe('Teams end to end (real app, real adapter, fake Bot Connector)', function () {
  this.timeout(30_000);
  let world: TestWorld;
  let connector: FakeBotConnector;
  let h: TeamsHarness;

  let teamsWorld: TeamsWorld;

  beforeEach(async () => {
    teamsWorld = await startTeamsWorld();
    ({ world, connector, h } = teamsWorld);
    connector.reset();
  });
  afterEach(async () => teamsWorld.close());

  const place = (): { serviceUrl: string } => ({ serviceUrl: connector.url });
  const say = (u: TeamsUser, text: string) => postActivity(h.url, channelMessage(place(), u, text));
  const click = (u: TeamsUser, verb: string, requestId: string, cardId: string, opts: { omitVerb?: boolean } = {}) =>
    postActivity(h.url, executeInvoke(place(), u, { verb, data: { verb, requestId }, ...opts }, { replyToId: cardId }));

  /** Ask for access from the channel; returns the posted approval card's request id and activity id. */
  async function request(u: TeamsUser, words: string): Promise<{ requestId: string; cardId: string; post: ConnectorCall }> {
    const res = await say(u, words);
    assert.equal(res.status, 200);
    const reply = await connector.waitFor((c) => c.method === 'POST' && c.path.startsWith(`/v3/conversations/${CHANNEL_ID}/activities/`));
    assert.match(JSON.stringify(cardOf(reply.body)), /waiting for approval|Waiting for approval/i, 'the requester is told it waits');
    await world.settle();
    const post = await connector.waitFor((c) => c.method === 'POST' && c.path === '/v3/conversations');
    assert.equal(post.body.channelData.channel.id, CHANNEL_ID);
    const card = cardOf(post.body.activity);
    const cardId = await cardActivityId(post);
    return { requestId: requestIdOf(card), cardId, post };
  }

  /** The new thread's root id, as the fake connector answered `POST /v3/conversations`. */
  async function cardActivityId(post: ConnectorCall): Promise<string> {
    const refs = await world.store.listMessageRefs(requestIdOf(cardOf(post.body.activity)));
    const teams = refs.find((r) => r.ref.platform === 'teams' && r.kind === 'card');
    assert.ok(teams, 'the app stored the Teams card reference');
    return String(teams.ref.data.activityId);
  }

  const updatesOf = (cardId: string) => connector.calls.filter((c) => c.method === 'PUT' && c.path === `/v3/conversations/${CHANNEL_ID}/activities/${cardId}`);
  const threadOf = (cardId: string) => connector.calls.filter((c) => c.method === 'POST' && c.path === `/v3/conversations/${CHANNEL_ID};messageid=${cardId}/activities`);
  const texts = (calls: ConnectorCall[]) => calls.map((c) => JSON.stringify(c.body));

  it('should carry a request from the channel through approval, open port, reminder and expiry', async () => {
    const { requestId, cardId, post } = await request(users.alice, 'jit ssh web-01 1h from 10.1.2.3 for INC-4711');
    assert.deepEqual(verbsOf(cardOf(post.body.activity)), ['approve', 'deny']);
    assert.match(JSON.stringify(cardOf(post.body.activity)), /INC-4711/);
    assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, false);

    // Bob approves; the recorded Teams shape carries no verb, only data.verb.
    const res = await click(users.bob, 'approve', requestId, cardId, { omitVerb: true });
    assert.equal(res.status, 200);
    assert.equal(res.body.statusCode, 200);
    assert.equal(res.body.type, 'application/vnd.microsoft.card.adaptive');
    assert.deepEqual(verbsOf(res.body.value), [], 'bob’s copy: nothing left for him to decide');

    await world.settle();
    assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, true, 'port 22 is open from 10.1.2.3');
    assert.equal(world.sim.check('web-01', 22, '10.9.9.9').allowed, false, 'and only from there');
    const updates = updatesOf(cardId);
    assert.ok(updates.length >= 1, 'the shared card was redrawn');
    assert.match(JSON.stringify(updates.at(-1)!.body), /Open until 13:00 UTC/);
    assert.match(texts(threadOf(cardId)).join(), /Approved by Bob/);

    // Alice's own copy (refresh) now offers extend and release.
    const mine = await postActivity(h.url, executeInvoke(place(), users.alice, { verb: 'refresh', data: { verb: 'refresh', requestId } }, { replyToId: cardId, trigger: 'automatic' }));
    assert.deepEqual(verbsOf(mine.body.value), ['extend', 'release']);

    connector.reset();
    await world.advance(51 * MINUTE);
    const reminder = threadOf(cardId).find((c) => /Access ends soon/.test(JSON.stringify(c.body)));
    assert.ok(reminder, `a reminder in the thread; saw ${texts(connector.calls).join('\n')}`);
    assert.deepEqual(verbsOf(cardOf(reminder.body)), ['extend', 'release']);
    assert.deepEqual(cardOf(reminder.body).msteams.entities[0].mentioned, { id: users.alice.id, name: 'Alice' });

    connector.reset();
    await world.advance(10 * MINUTE);
    assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, false, 'closed at the end');
    assert.match(texts(threadOf(cardId)).join(), /Expired, ports closed/);
    const last = updatesOf(cardId).at(-1);
    assert.ok(last);
    assert.deepEqual(verbsOf(cardOf(last.body)), []);
    assert.equal(cardOf(last.body).refresh, undefined, 'a final card asks for no refresh');
  });

  it('should deny, redraw the card and open nothing', async () => {
    const { requestId, cardId } = await request(users.alice, 'jit ssh web-01 30m from 10.1.2.3 for maintenance');
    const res = await click(users.carol, 'deny', requestId, cardId);
    assert.equal(res.body.statusCode, 200);
    await world.settle();
    assert.match(JSON.stringify(updatesOf(cardId).at(-1)?.body), /Denied by Carol/);
    assert.match(texts(threadOf(cardId)).join(), /Denied by Carol/);
    assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, false);
    assert.equal((await world.store.getRequest(requestId))?.state, 'denied');
  });

  it('should need two distinct approvers for sql-01', async () => {
    const { requestId, cardId } = await request(users.alice, 'jit rdp sql-01 1h from 203.0.113.7 for patching');
    await click(users.bob, 'approve', requestId, cardId);
    await world.settle();
    assert.equal((await world.store.getRequest(requestId))?.state, 'pending');
    assert.match(JSON.stringify(updatesOf(cardId).at(-1)?.body), /Waiting for approval \(1 of 2\)/);
    assert.equal(world.sim.check('sql-01', 3389, '203.0.113.7').allowed, false);

    const again = await click(users.bob, 'approve', requestId, cardId);
    assert.equal(again.body.statusCode, 200);
    await world.settle();
    assert.equal((await world.store.getRequest(requestId))?.approvals.length, 1, 'the same approver twice counts once');

    await click(users.carol, 'approve', requestId, cardId);
    await world.settle();
    assert.equal((await world.store.getRequest(requestId))?.state, 'active');
    assert.equal(world.sim.check('sql-01', 3389, '203.0.113.7').allowed, true);
  });

  it('should refuse non-approvers and the requester approving themselves, and change nothing', async () => {
    const { requestId, cardId } = await request(users.alice, 'jit ssh web-01 1h from 10.1.2.3 for INC-1');
    for (const who of [users.dave, users.alice]) {
      const res = await click(who, 'approve', requestId, cardId);
      assert.equal(res.status, 200);
      assert.equal(res.body.statusCode, 200);
      const card = JSON.stringify(res.body.value);
      assert.match(card, /"color":"Attention"/, `${who.name} sees the refusal on their copy`);
      assert.ok(!verbsOf(res.body.value).includes('approve'), `${who.name} gets no approve button`);
    }
    await world.settle();
    const r = await world.store.getRequest(requestId);
    assert.equal(r?.state, 'pending');
    assert.equal(r?.approvals.length, 0);
    assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, false);
  });

  it('should treat a re-sent invoke (same activity id) as one click', async () => {
    const { requestId, cardId } = await request(users.alice, 'jit rdp sql-01 1h from 203.0.113.7 for patching');
    const invoke = executeInvoke(place(), users.bob, { verb: 'approve', data: { verb: 'approve', requestId } }, { replyToId: cardId });
    const first = await postActivity(h.url, invoke);
    const second = await postActivity(h.url, invoke);
    assert.equal(first.body.statusCode, 200);
    assert.equal(second.body.statusCode, 200);
    await world.settle();
    assert.equal((await world.store.getRequest(requestId))?.approvals.length, 1);
  });

  it('should DM the requester in their 1:1 chat with the bot', async () => {
    await postActivity(h.url, installPersonal(place(), users.alice));
    connector.reset();
    const { requestId, cardId } = await request(users.alice, 'jit ssh web-01 1h from 10.1.2.3 for INC-7');
    await click(users.bob, 'approve', requestId, cardId);
    await world.settle();
    const dms = connector.calls.filter((c) => c.method === 'POST' && c.path === `/v3/conversations/${personalConversationId(users.alice)}/activities`);
    assert.ok(dms.length >= 1, `a direct message; saw ${connector.calls.map((c) => `${c.method} ${c.path}`).join(', ')}`);
    assert.match(texts(dms).join(), /Open until/);
  });
});

describe('Teams: from me', function () {
  this.timeout(120_000);

  it('should send the one-time link in a personal chat, never in the channel', async () => {
    const world = await startWorld({ app: { addressLink: (id, token) => `https://jit.example.com/from-me/${id}?t=${token}` } });
    const connector = await startFakeBotConnector({ members: connectorMembers() });
    const h = await startTeamsHarness({ api: world.app, store: world.store, clock: world.clock, connector });
    world.addChat(h.teams.chat);
    try {
      const place = { serviceUrl: connector.url };
      assert.equal((await postActivity(h.url, installationUpdateAdd(place))).status, 200);
      await postActivity(h.url, installPersonal(place, users.alice));
      connector.reset();
      assert.equal((await postActivity(h.url, channelMessage(place, users.alice, 'jit rdp sql-01 1h for patching'))).status, 200);
      const inChannel = await connector.waitFor((c) => c.method === 'POST' && c.path.startsWith(`/v3/conversations/${CHANNEL_ID}/activities/`));
      assert.doesNotMatch(JSON.stringify(inChannel.body), /from-me/, 'the channel never sees the link');
      assert.match(JSON.stringify(inChannel.body), /personal chat/);
      const personal = connector.calls.filter((c) => c.method === 'POST' && c.path === `/v3/conversations/${personalConversationId(users.alice)}/activities`);
      assert.equal(personal.length, 1, connector.calls.map((c) => `${c.method} ${c.path}`).join(', '));
      assert.match(JSON.stringify(personal[0].body), /https:\/\/jit\.example\.com\/from-me\/R[A-Z0-9]+\?t=/);
      await world.settle();
      assert.equal(connector.calls.filter((c) => c.method === 'POST' && c.path === '/v3/conversations').length, 0, 'no approval card before the address is known');
    } finally {
      await h.close();
      await connector.close();
      await world.close();
    }
  });
});

describe('Teams end to end with an app id', function () {
  this.timeout(30_000);

  it('should answer 401 to activities without a valid token and change nothing', async () => {
    sinon.stub(console, 'error');
    const world = await startWorld();
    const connector = await startFakeBotConnector({ members: connectorMembers() });
    const appId = '00000000-0000-0000-0000-00000000b07a';
    const h = await startTeamsHarness({ api: world.app, store: world.store, clock: world.clock, connector, appId });
    world.addChat(h.teams.chat);
    try {
      const place = { serviceUrl: connector.url };
      const words = channelMessage(place, users.alice, 'jit ssh web-01 1h from 10.1.2.3 for INC-4711');
      assert.equal((await postActivity(h.url, installationUpdateAdd(place))).status, 401);
      assert.equal((await postActivity(h.url, words)).status, 401);
      assert.equal((await postActivity(h.url, words, { token: connector.mintToken({ audience: appId }, { forgedKey: true }) })).status, 401);
      assert.equal((await postActivity(h.url, words, { token: connector.mintToken({ audience: 'someone-else' }) })).status, 401);
      await world.settle();
      assert.deepEqual(await world.store.listRequests({}), []);
      assert.deepEqual(await world.store.listAudit({}), []);
      assert.deepEqual(await world.store.listValues(TEAMS_KV.conversations), []);
      assert.deepEqual(connector.calls, []);
    } finally {
      sinon.restore();
      await h.close();
      await connector.close();
      await world.close();
    }
  });
});
