// Teams against a determined insider (issue 12), through the real CloudAdapter and the real app:
// tenants outside the allow-list are refused before any lookup, an email is never handed to another
// Teams user, people outside a request who refresh its card see nothing of it, and the audit trail
// goes only to a 1:1 chat.
import { strict as assert } from 'node:assert';
import { TEAMS_KV } from '../../src/teams';
import { CHANNEL_ID, TENANT_ID, channelMessage, connectorMembers, executeInvoke, installPersonal, installationUpdateAdd, personalConversationId, postActivity, users, type TeamsUser } from '../clients/teams';
import { startFakeBotConnector, type FakeBotConnector } from '../fakes/bot-connector';
import { engines, startWorld, type TestWorld } from '../helpers/world';
import { startTeamsHarness, type TeamsHarness } from './harness';

type Json = Record<string, any>;

const OTHER_TENANT = '0badc0de-0000-4000-8000-00000000beef';
const PARTNER_TENANT = '9a27e7e0-0000-4000-8000-0000000000aa';
/** Someone whose directory says she is Carol: in the partner tenant, and in Carol's own. */
const impostor: TeamsUser = { id: '29:1impostor-Qq1', name: 'Carol', email: 'carol@example.com', aadObjectId: 'bad00000-0000-4000-8000-00000000000c' };
const insideImpostor: TeamsUser = { id: '29:1twin-Ww2', name: 'Carol', email: 'carol@example.com', aadObjectId: 'bad00000-0000-4000-8000-00000000000d' };

function inTenant<T extends Json>(activity: T, tenant: string): T {
  return { ...activity, conversation: { ...activity.conversation, tenantId: tenant }, channelData: { ...activity.channelData, tenant: { id: tenant } } };
}

function cardOf(body: Json | undefined): Json {
  const a = body?.attachments?.[0] ?? body;
  return a?.content ?? a;
}

for (const engine of engines()) {
  describe(`Teams against an insider (real app, CloudAdapter, fake Bot Connector) on ${engine}`, function () {
    this.timeout(60_000);
    let world: TestWorld;
    let connector: FakeBotConnector;
    let h: TeamsHarness;

    beforeEach(async () => {
      world = await startWorld({ engine, app: { auditLink: () => 'https://jitbot.example/audit.csv?sig=SECRET' } });
      connector = await startFakeBotConnector({
        members: [
          ...connectorMembers(),
          { id: impostor.id, name: 'Carol', email: impostor.email, aadObjectId: impostor.aadObjectId, tenantId: PARTNER_TENANT },
          { id: insideImpostor.id, name: 'Carol', email: insideImpostor.email, aadObjectId: insideImpostor.aadObjectId, tenantId: TENANT_ID },
        ],
      });
      h = await startTeamsHarness({ api: world.app, store: world.store, clock: world.clock, connector, tenants: [TENANT_ID, PARTNER_TENANT] });
      world.addChat(h.teams.chat);
      assert.equal((await postActivity(h.url, installationUpdateAdd(place()))).status, 200);
      connector.reset();
    });
    afterEach(async () => {
      await h?.close();
      await connector?.close();
      await world?.close();
    });

    const place = () => ({ serviceUrl: connector.url });
    const memberLookups = () => connector.calls.filter((c) => c.method === 'GET' && c.path.includes('/members/'));
    const channelReplies = () => connector.calls.filter((c) => c.method === 'POST' && c.path.startsWith(`/v3/conversations/${CHANNEL_ID}`));

    async function say(u: TeamsUser, text: string, tenant = TENANT_ID) {
      return postActivity(h.url, inTenant(channelMessage(place(), u, text), tenant));
    }

    async function lastReplyText(): Promise<string> {
      const reply = await connector.waitFor((c) => c.method === 'POST' && c.path.startsWith(`/v3/conversations/${CHANNEL_ID}/activities`));
      return JSON.stringify(reply.body);
    }

    it('refuses an activity from a tenant outside the allow-list before any lookup, and stores nothing about it', async () => {
      const kvBefore = JSON.stringify(await world.store.listValues(TEAMS_KV.members));
      const res = await say(impostor, 'jit status', OTHER_TENANT);
      assert.equal(res.status, 200);
      assert.deepEqual(memberLookups(), []);
      assert.deepEqual(channelReplies(), []);
      assert.equal(JSON.stringify(await world.store.listValues(TEAMS_KV.members)), kvBefore);
      assert.ok(h.logs.some((l) => l.msg === 'Teams activity from another tenant refused'));
    });

    it('refuses a card click from another tenant with a 403 in the invoke body, before any lookup', async () => {
      const res = await postActivity(h.url, inTenant(executeInvoke(place(), impostor, { verb: 'refresh', data: { verb: 'refresh', requestId: 'RAAAAA' } }), OTHER_TENANT));
      assert.equal(res.status, 200);
      assert.equal(res.body?.statusCode, 403);
      assert.deepEqual(memberLookups(), []);
    });

    it("never moves Carol's email to a partner-tenant user whose directory claims it, and does not treat them as Carol", async () => {
      await say(users.carol, 'jit status');
      await lastReplyText();
      const carolBefore = await world.store.getValue<Json>(TEAMS_KV.people, 'carol@example.com');
      assert.equal(carolBefore?.userId, users.carol.id);
      connector.reset();

      await say(impostor, 'jit status', PARTNER_TENANT);
      assert.match(await lastReplyText(), /not in jitbot's access list/);
      assert.deepEqual(await world.store.getValue<Json>(TEAMS_KV.people, 'carol@example.com'), carolBefore);
    });

    it('keys the member directory by tenant and Entra object id', async () => {
      await say(users.bob, 'jit status');
      await lastReplyText();
      const keys = (await world.store.listValues(TEAMS_KV.members)).map((e) => e.key);
      assert.ok(keys.includes(`aad:${TENANT_ID}:${users.bob.aadObjectId}`), JSON.stringify(keys));
    });

    it("keeps Carol's email while a fresh lookup still says it is hers, even against a user of her own tenant", async () => {
      await say(users.carol, 'jit status');
      await lastReplyText();
      connector.reset();
      await say(insideImpostor, 'jit status');
      assert.match(await lastReplyText(), /not in jitbot's access list/);
      assert.ok(memberLookups().some((c) => c.path.endsWith(encodeURIComponent(users.carol.id)) || c.path.endsWith(users.carol.id)), 'Carol was looked up again');
      assert.equal((await world.store.getValue<Json>(TEAMS_KV.people, 'carol@example.com'))?.userId, users.carol.id);

      // Once her directory entry no longer carries the address, the other user holds it.
      connector.members.set(users.carol.id, { ...connector.members.get(users.carol.id)!, email: 'carol.old@example.com' });
      world.clock.advance(2 * 60_000);
      connector.reset();
      await say(insideImpostor, 'jit status');
      assert.doesNotMatch(await lastReplyText(), /not in jitbot's access list/);
      assert.equal((await world.store.getValue<Json>(TEAMS_KV.people, 'carol@example.com'))?.userId, insideImpostor.id);
    });

    it('shows a stranger who refreshes a card only that they are not part of the request', async () => {
      await say(users.alice, 'jit ssh web-01 1h from 10.1.2.3 for secret-reason');
      const submitted = await lastReplyText();
      const id = /R[A-Z2-9]{5}/.exec(submitted)?.[0];
      assert.ok(id, submitted);
      await world.settle();

      const refresh = (u: TeamsUser) => postActivity(h.url, executeInvoke(place(), u, { verb: 'refresh', data: { verb: 'refresh', requestId: id } }, { trigger: 'automatic' }));
      const dave = await refresh(users.dave);
      assert.equal(dave.status, 200);
      const daveCard = JSON.stringify(cardOf(dave.body?.value));
      assert.match(daveCard, new RegExp(`You are not part of request ${id}`));
      for (const secret of ['alice@example.com', '10.1.2.3', 'secret-reason', 'web-01']) assert.ok(!daveCard.includes(secret), `Dave sees no ${secret}`);

      const mallory = await refresh(users.mallory);
      assert.doesNotMatch(JSON.stringify(mallory.body), /alice@example\.com|secret-reason/);

      const bob = JSON.stringify(cardOf((await refresh(users.bob)).body?.value));
      assert.match(bob, /secret-reason/);
      assert.match(bob, /10\.1\.2\.3 · 1 address/);

      const click = await postActivity(h.url, executeInvoke(place(), users.dave, { verb: 'approve', data: { verb: 'approve', requestId: id } }));
      const clicked = JSON.stringify(cardOf(click.body?.value));
      assert.match(clicked, /You are not part of request/);
      assert.doesNotMatch(clicked, /secret-reason|alice@example\.com/);
    });

    it('sends the audit trail typed in a channel to a 1:1 chat and answers in the channel that it did', async () => {
      assert.equal((await postActivity(h.url, installPersonal(place(), users.carol))).status, 200);
      connector.reset();
      await say(users.carol, 'jit audit 7d');
      const answer = await lastReplyText();
      assert.match(answer, /Sent to you personally/);
      await connector.waitFor((c) => c.method === 'POST' && c.path.startsWith(`/v3/conversations/${encodeURIComponent(personalConversationId(users.carol))}`) || c.path.startsWith(`/v3/conversations/${personalConversationId(users.carol)}`));
      const personal = connector.calls.filter((c) => c.method === 'POST' && c.path.includes(personalConversationId(users.carol)));
      assert.ok(personal.some((c) => JSON.stringify(c.body).includes('audit.csv?sig=')), 'the link went to the 1:1 chat');
      assert.ok(!channelReplies().some((c) => JSON.stringify(c.body).includes('audit.csv')), 'no link in the channel');
    });
  });
}
