// Forged, tampered and replayed requests against the real adapters in front of the real app: a
// thousand for Slack (request signing) and a thousand for Teams with an app id (Bot Framework
// tokens). Each is refused, and none changes anything: no store row (audit included), no Slack or
// Bot Connector call, no Azure call. A correctly signed request at the end shows that the same
// request, authentic, does change things, so "nothing changed" is not an accident of the set-up.
import { strict as assert } from 'node:assert';
import { createHmac, createSign, generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as sinon from 'sinon';
import { silentLogger } from '../../src/app/logger';
import { createHttpServer, type HttpServer } from '../../src/server';
import { createSlackAdapter, type SlackAdapter } from '../../src/slack';
import type { TestStore } from '../../src/store';
import { TEAMS_KV, createTeamsAdapter } from '../../src/teams';
import { appHomeOpened, blockActions, encodeForm, FORM_CONTENT_TYPE, formValues, slackSignature, slashCommand, viewSubmission } from '../clients/slack';
import { TENANT_ID, BOT, channelMessage, connectorMembers, executeInvoke, installationUpdateAdd, installPersonal, postActivity, users } from '../clients/teams';
import { memberKey } from '../../src/teams/directory';
import { startFakeBotConnector, type FakeBotConnector } from '../fakes/bot-connector';
import { FakeSlackApi } from '../fakes/slack-api';
import { person, startWorld, type TestWorld } from '../helpers/world';
import { inLanes } from './support';

const SIGNING_SECRET = 'forgery-test-signing-secret-5e1f';
const APP_ID = BOT.id.slice(3);
const FORGERIES = 1_000;

/** Every row and every outbound call, as text: equal before and after means nothing changed. */
async function everything(world: TestWorld, slack: FakeSlackApi, connector: FakeBotConnector): Promise<string> {
  const db = (world.store as TestStore).db;
  const tables = await Promise.all(
    ['requests', 'audit', 'jobs', 'message_refs', 'idempotency', 'kv'].map((t) => db.query(`SELECT * FROM ${t} ORDER BY 1, 2`)),
  );
  return JSON.stringify({
    tables,
    slack: { calls: slack.calls.length, responses: slack.responseUrlPosts.length, messages: slack.messages.length },
    teams: connector.calls.length,
    azure: world.sim.requestLog.length,
  });
}

describe('forged and replayed requests change nothing', function () {
  this.timeout(180_000);
  let world: TestWorld;
  let fake: FakeSlackApi;
  let connector: FakeBotConnector;
  let slack: SlackAdapter;
  let http: HttpServer;
  let base: string;
  let pendingId: string;

  before(async () => {
    world = await startWorld();
    fake = await FakeSlackApi.start();
    connector = await startFakeBotConnector({ members: connectorMembers() });
    slack = createSlackAdapter({
      api: world.app,
      botToken: 'xoxb-forgery-test',
      signingSecret: SIGNING_SECRET,
      apiUrl: fake.apiUrl,
      logger: silentLogger,
      clock: world.clock,
      processBeforeResponse: true,
      botId: 'B0BOT',
      botUserId: 'U0BOT',
    });
    const teams = createTeamsAdapter({
      api: world.app,
      store: world.store,
      appId: APP_ID,
      appPassword: 'forgery-test-app-password',
      localMode: false,
      logger: silentLogger,
      clock: world.clock,
      botFrameworkSettings: { ToBotFromChannelOpenIdMetadataUrl: connector.openIdMetadataUrl },
    });
    // Cards go to Slack; Teams is here for what it lets in.
    world.addChat(slack.chat);
    http = createHttpServer({ logger: silentLogger, mounts: [(s) => slack.mount(s), (s) => teams.mount(s)] });
    await http.listen(0);
    base = `http://127.0.0.1:${(http.server.address() as AddressInfo).port}`;
    // A request waiting for approval: what a forged click would try to approve.
    const reply = await world.app.command(person('alice', 'slack'), 'ssh web-01 1h from 10.1.2.3 for target');
    assert.equal(reply.kind, 'submitted');
    pendingId = (reply as Extract<typeof reply, { kind: 'submitted' }>).request.id;
    await world.settle();
  });
  after(async () => {
    await slack?.stop();
    await http?.close();
    await world?.close();
    await fake?.close();
    await connector?.close();
  });

  it('refuses 1,000 forged, tampered, stale and replayed Slack requests, then accepts an authentic one', async () => {
    const url = `${base}/slack/events`;
    const now = () => Math.floor(Date.now() / 1000);
    const bodies: Array<{ name: string; body: string; type: string }> = [
      { name: 'slash command', body: encodeForm({ ...slashCommand({ user_id: 'U0ALICE', text: 'ssh web-01 1h from 10.1.2.4 for forged', response_url: fake.responseUrl('forged') }) }), type: FORM_CONTENT_TYPE },
      {
        name: 'approve click',
        body: `payload=${encodeURIComponent(JSON.stringify(blockActions({ user: 'U0BOB', actionId: 'jit_approve', value: pendingId, responseUrl: fake.responseUrl('forged-click') })))}`,
        type: FORM_CONTENT_TYPE,
      },
      {
        name: 'form submission',
        body: `payload=${encodeURIComponent(JSON.stringify(viewSubmission({ user: 'U0ALICE', values: formValues({ vm: 'web-01', ports: ['22'], duration: '1h', source: '10.1.2.5', reason: 'forged' }) })))}`,
        type: FORM_CONTENT_TYPE,
      },
      { name: 'home tab event', body: JSON.stringify(appHomeOpened('U0ALICE')), type: 'application/json' },
    ];
    const sign = (secret: string, ts: number, body: string) => slackSignature(secret, ts, body);
    type Forgery = { name: string; headers: Record<string, string>; body: string };
    const tamperings: Array<(b: { body: string; type: string }, n: number) => Forgery> = [
      (b) => ({ name: 'signed with another secret', headers: { 'x-slack-request-timestamp': String(now()), 'x-slack-signature': sign('guessed-secret', now(), b.body) }, body: b.body }),
      (b, n) => {
        const ts = now() - 301 - n * 37; // just past Slack's five minutes, and much older
        return { name: 'stale timestamp', headers: { 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sign(SIGNING_SECRET, ts, b.body) }, body: b.body };
      },
      (b) => ({ name: 'no signature', headers: { 'x-slack-request-timestamp': String(now()) }, body: b.body }),
      (b) => ({ name: 'no timestamp', headers: { 'x-slack-signature': sign(SIGNING_SECRET, now(), b.body) }, body: b.body }),
      (b) => ({ name: 'no headers at all', headers: {}, body: b.body }),
      (b, n) => {
        // Signed as sent by Slack, altered on the way: another user, another VM, another port.
        const altered = b.body.replace(/U0ALICE|U0BOB/g, 'U0CAROL').replace(/web-01/g, n % 2 ? 'sql-01' : 'web-02').replace(/22/g, '3389');
        return { name: 'body altered after signing', headers: { 'x-slack-request-timestamp': String(now()), 'x-slack-signature': sign(SIGNING_SECRET, now(), b.body) }, body: altered === b.body ? `${b.body}&x=1` : altered };
      },
      (b, n) => {
        // A request Slack really sent, captured and replayed minutes later, as it was…
        const ts = now() - 600 - n;
        return { name: 'replayed as captured', headers: { 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sign(SIGNING_SECRET, ts, b.body) }, body: b.body };
      },
      (b, n) => {
        // …or with a fresh timestamp header, which the old signature does not cover.
        const ts = now() - 600 - n;
        return { name: 'replayed with a fresh timestamp', headers: { 'x-slack-request-timestamp': String(now()), 'x-slack-signature': sign(SIGNING_SECRET, ts, b.body) }, body: b.body };
      },
      (b) => {
        const mac = createHmac('sha256', SIGNING_SECRET).update(`v0:${now()}:${b.body}`).digest('hex');
        return { name: 'malformed signature', headers: { 'x-slack-request-timestamp': String(now()), 'x-slack-signature': `v1=${mac}` }, body: b.body };
      },
    ];
    const forgeries: Array<Forgery & { type: string; of: string }> = [];
    for (let n = 0; forgeries.length < FORGERIES; n++) {
      for (const b of bodies) for (const t of tamperings) if (forgeries.length < FORGERIES) forgeries.push({ ...t(b, n), type: b.type, of: b.name });
    }

    const before = await everything(world, fake, connector);
    const statuses = new Map<string, number>();
    await inLanes(forgeries, 16, async (f) => {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': f.type, ...f.headers }, body: f.body });
      await res.arrayBuffer();
      assert.equal(res.status, 401, `${f.name} (${f.of}) answered ${res.status}`);
      statuses.set(f.name, (statuses.get(f.name) ?? 0) + 1);
    });
    await world.settle();
    assert.equal(await everything(world, fake, connector), before, 'nothing changed anywhere');
    assert.equal([...statuses.values()].reduce((a, b) => a + b, 0), FORGERIES);

    // The same slash command, authentic: it goes through.
    const ts = now();
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': FORM_CONTENT_TYPE, 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sign(SIGNING_SECRET, ts, bodies[0].body) }, body: bodies[0].body });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /Sent for approval/);
    assert.notEqual(await everything(world, fake, connector), before);
  });

  it('refuses 1,000 Teams activities without a valid Bot Framework token, then accepts a valid one', async () => {
    // botframework-connector prints each rejected token with console.error; the assertions are what count.
    sinon.stub(console, 'error');
    try {
      const url = `${base}/api/messages`;
      const at = { serviceUrl: connector.url };
      const activities = [
        () => channelMessage(at, users.alice, 'jit ssh web-01 1h from 10.1.2.6 for forged'),
        () => executeInvoke(at, users.bob, { verb: 'approve', data: { verb: 'approve', requestId: pendingId } }),
        () => installationUpdateAdd(at),
        () => installPersonal(at, users.mallory),
      ];
      const impostor = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      const jwt = (header: object, payload: object, signer: (unsigned: string) => string) => {
        const unsigned = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
        return `${unsigned}.${signer(unsigned)}`;
      };
      const claims = () => ({ iss: connector.issuer, aud: APP_ID, serviceurl: connector.url, nbf: Math.floor(Date.now() / 1000) - 60, exp: Math.floor(Date.now() / 1000) + 3600 });
      const tokens: Array<[string, () => string | undefined]> = [
        ['no Authorization header', () => undefined],
        ['empty bearer', () => ''],
        ['not a JWT', () => 'not.a.jwt'],
        ['signed by another key', () => connector.mintToken({ audience: APP_ID }, { forgedKey: true })],
        ['unknown key id', () => connector.mintToken({ audience: APP_ID }, { kid: 'someone-elses-key' })],
        ['for another bot', () => connector.mintToken({ audience: '99999999-9999-4999-8999-999999999999' })],
        ['expired', () => connector.mintToken({ audience: APP_ID, expiresInSec: -600 })],
        ['for another serviceUrl', () => connector.mintToken({ audience: APP_ID, serviceUrl: 'https://smba.trafficmanager.net/amer/' })],
        ['alg none', () => jwt({ alg: 'none', typ: 'JWT', kid: 'fake-bf-key' }, claims(), () => '')],
        ['HS256 with a guessed secret', () => jwt({ alg: 'HS256', typ: 'JWT', kid: 'fake-bf-key' }, claims(), (u) => createHmac('sha256', 'fake-bf-key').update(u).digest('base64url'))],
        ['RS256 by an impostor, valid claims', () => jwt({ alg: 'RS256', typ: 'JWT', kid: 'fake-bf-key' }, claims(), (u) => createSign('RSA-SHA256').update(u).sign(impostor).toString('base64url'))],
        ['a valid token, its signature cut off', () => connector.mintToken({ audience: APP_ID }).split('.').slice(0, 2).join('.')],
      ];
      const sends: Array<{ name: string; activity: object; token: string | undefined }> = [];
      for (let n = 0; sends.length < FORGERIES; n++) {
        for (const make of activities) for (const [name, token] of tokens) if (sends.length < FORGERIES) sends.push({ name, activity: make(), token: token() });
      }

      // What the earlier steps set going has finished, so only the forgeries could change anything now.
      await world.settle();
      const before = await everything(world, fake, connector);
      await inLanes(sends, 16, async (s) => {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(s.token !== undefined ? { authorization: `Bearer ${s.token}` } : {}) },
          body: JSON.stringify(s.activity),
        });
        const text = await res.text();
        assert.equal(res.status, 401, `${s.name}: ${res.status} ${text}`);
      });
      await world.settle();
      assert.equal(await everything(world, fake, connector), before, 'nothing changed anywhere');
      for (const ns of Object.values(TEAMS_KV)) assert.deepEqual(await world.store.listValues(ns), [], `${ns} is untouched`);

      // Authentic: Bob, whom Teams described earlier (cached), approves with a token the Bot Framework signed.
      await world.store.setValue(TEAMS_KV.members, memberKey({ tenantId: TENANT_ID, aadObjectId: users.bob.aadObjectId, userId: users.bob.id }), { userId: users.bob.id, email: users.bob.email, aadObjectId: users.bob.aadObjectId, tenantId: TENANT_ID, name: 'Bob', fetchedAt: world.clock.now().toISOString() });
      const ok = await postActivity(url, executeInvoke(at, users.bob, { verb: 'approve', data: { verb: 'approve', requestId: pendingId } }), { token: connector.mintToken({ audience: APP_ID }) });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.statusCode, 200);
      assert.notEqual((await world.store.getRequest(pendingId))?.state, 'pending', 'the authentic click approved the request');
    } finally {
      sinon.restore();
    }
  });
});
