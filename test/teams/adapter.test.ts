import { strict as assert } from 'node:assert';
import { ManualClock } from '../../src/app/clock';
import type { Store } from '../../src/app/ports';
import { ChatError } from '../../src/core/errors';
import { createTeamsAdapter } from '../../src/teams';
import { TEAMS_KV } from '../../src/teams';
import {
  BOT,
  CHANNEL_ID,
  TEAM_ID,
  channelMessage,
  executeInvoke,
  installInTeam,
  installPersonal,
  installationUpdateAdd,
  installationUpdateRemove,
  personalConversationId,
  personalMessage,
  postActivity,
  submitMessage,
  users,
} from '../clients/teams';
import { sampleNotices, sampleViews } from './card-samples';
import { memoryKvStore, recordingLogger, startTeamsHarness, type TeamsHarness } from './harness';
import { StubApi } from './stub-api';

type Json = Record<string, any>;

function cardOf(body: Json | undefined): Json {
  const a = body?.attachments?.[0];
  assert.equal(a?.contentType, 'application/vnd.microsoft.card.adaptive');
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

describe('Teams adapter (stub api, fake Bot Connector)', () => {
  let api: StubApi;
  let store: Store;
  let h: TeamsHarness;
  const clock = new ManualClock();

  beforeEach(async () => {
    api = new StubApi();
    store = memoryKvStore();
    h = await startTeamsHarness({ api, store, clock });
  });
  afterEach(async () => {
    await h.close();
  });

  const place = (): { serviceUrl: string } => ({ serviceUrl: h.connector.url });

  describe('commands', () => {
    it('should run `@jitbot jit help` from a channel as the member Teams describes, and answer in the thread', async () => {
      const activity = channelMessage(place(), users.alice, 'jit help');
      const res = await postActivity(h.url, activity);
      assert.equal(res.status, 200);
      const [call] = api.calls.filter((c) => c.method === 'command');
      assert.equal(call.text, 'help');
      assert.deepEqual(call.actor, { platform: 'teams', userId: users.alice.id, email: 'alice@example.com', name: 'Alice', aadObjectId: users.alice.aadObjectId });
      assert.equal(call.key, `teams:${CHANNEL_ID}:${activity.id}`);
      // In a channel the member lookup goes to the team, as TeamsInfo does.
      assert.equal(h.connector.callsMatching('GET', `/v3/conversations/${TEAM_ID}/members/${users.alice.id}`).length, 1);
      const reply = await h.connector.waitFor((c) => c.method === 'POST' && c.path.includes('/activities'));
      assert.equal(reply.path, `/v3/conversations/${CHANNEL_ID}/activities/${activity.id}`);
      assert.equal(cardOf(reply.body).type, 'AdaptiveCard');
    });

    it('should take `/jit …`, `jit …` and bare words in a 1:1 chat, and read the Entra id from aadObjectId too', async () => {
      await postActivity(h.url, personalMessage(place(), users.bob, '/jit status'));
      await postActivity(h.url, personalMessage(place(), users.bob, 'JIT vms'));
      await postActivity(h.url, personalMessage(place(), users.bob, 'policy web-01'));
      assert.deepEqual(api.calls.filter((c) => c.method === 'command').map((c) => c.text), ['status', 'vms', 'policy web-01']);
      assert.equal(api.calls[0].actor?.aadObjectId, users.bob.aadObjectId);
      // The member lookup is cached: one call for three messages.
      assert.equal(h.connector.callsMatching('GET', '/members/').length, 1);
    });

    it('should ignore channel chatter that neither mentions the bot nor starts with jit', async () => {
      const res = await postActivity(h.url, channelMessage(place(), users.alice, 'lunch anyone?', { mention: false }));
      assert.equal(res.status, 200);
      assert.deepEqual(api.calls, []);
      assert.deepEqual(h.connector.calls, []);
    });

    it('should ask unknown people nothing more: the api gets a null email', async () => {
      const stranger = { id: '29:1nobody', name: 'Nobody', email: 'n@x', aadObjectId: '00000000-0000-4000-8000-00000000dead' };
      await postActivity(h.url, personalMessage(place(), stranger, 'jit ssh web-01 1h'));
      const [call] = api.calls;
      assert.equal(call.actor?.email, null);
      assert.equal(call.actor?.aadObjectId, stranger.aadObjectId);
    });

    it('should take an email-shaped Emulator user id as that person, in no-auth local mode only', async () => {
      const activity = { ...personalMessage(place(), users.carol, 'jit status'), channelId: 'emulator', from: { id: 'Carol@Example.com', name: 'Carol' } };
      await postActivity(h.url, activity);
      assert.deepEqual(api.calls[0].actor, { platform: 'teams', userId: 'Carol@Example.com', email: 'carol@example.com', name: 'Carol' });
      assert.equal(h.connector.callsMatching('GET', '/members/').length, 0);
      // The same claim from Teams itself is looked up, not believed.
      await postActivity(h.url, { ...activity, channelId: 'msteams' });
      assert.equal(api.calls[1].actor?.email, null);
    });

    it('should say so, and not call the api, when the member lookup is throttled', async () => {
      h.connector.failNext({ method: 'GET', pathIncludes: '/members/' }, { status: 429, headers: { 'retry-after': '2' } });
      await postActivity(h.url, personalMessage(place(), users.carol, 'jit status'));
      assert.deepEqual(api.calls, []);
      const sent = await h.connector.waitFor((c) => c.method === 'POST');
      assert.match(sent.body.text, /could not look you up/);
    });
  });

  describe('installation and proactive posts', () => {
    it('should remember the team channel on install and post the approval card there as a new thread', async () => {
      await postActivity(h.url, installationUpdateAdd(place()));
      const stored = await store.listValues<Json>(TEAMS_KV.conversations);
      assert.deepEqual(stored.map((s) => [s.key, s.value.kind, s.value.installed, s.value.teamName]), [[CHANNEL_ID, 'channel', true, 'SRE']]);
      const welcome = await h.connector.waitFor((c) => c.method === 'POST');
      assert.equal(welcome.path, '/v3/conversations', 'a new post in the selected channel');
      assert.equal(welcome.body.channelData.channel.id, CHANNEL_ID);
      assert.match(welcome.body.activity.text, /Approval cards/);
      h.connector.reset();

      const view = sampleViews().pending;
      const ref = await h.teams.chat.postCard({ teams: 'installed' }, view);
      assert.ok(ref);
      const [create] = h.connector.calls;
      assert.equal(create.method, 'POST');
      assert.equal(create.path, '/v3/conversations');
      assert.equal(create.body.channelData.channel.id, CHANNEL_ID);
      assert.equal(create.body.isGroup, true);
      assert.deepEqual(verbsOf(cardOf(create.body.activity)), ['approve', 'deny']);
      assert.equal(ref.platform, 'teams');
      assert.equal(ref.v, 1);
      const activityId = ref.data.activityId as string;
      assert.equal((ref.data.conversation as Json).conversation.id, CHANNEL_ID);

      await h.teams.chat.updateCard(ref, sampleViews().active);
      const put = h.connector.calls[1];
      assert.equal(put.method, 'PUT');
      assert.equal(put.path, `/v3/conversations/${CHANNEL_ID}/activities/${activityId}`);
      assert.match(JSON.stringify(put.body), /Open until/);

      await h.teams.chat.replyInThread(ref, sampleNotices().find((n) => n.kind === 'reminder')!);
      const reply = h.connector.calls[2];
      assert.equal(reply.method, 'POST');
      assert.equal(reply.path, `/v3/conversations/${CHANNEL_ID};messageid=${activityId}/activities`);
      assert.deepEqual(verbsOf(cardOf(reply.body)), ['extend', 'release']);
    });

    it('should use the team General channel for a plain conversationUpdate install, once, and forget it on removal', async () => {
      await postActivity(h.url, installInTeam(place()));
      await postActivity(h.url, installInTeam(place()));
      const welcomes = h.connector.calls.filter((c) => c.method === 'POST');
      assert.equal(welcomes.length, 1, 'a second install event is no news');
      assert.deepEqual((await store.listValues<Json>(TEAMS_KV.conversations)).map((s) => s.key), [TEAM_ID]);
      await postActivity(h.url, installationUpdateRemove(place()));
      assert.equal(await h.teams.chat.postCard({ teams: 'installed' }, sampleViews().pending), null);
    });

    it('should return null when the route names no Teams place or the bot is installed nowhere', async () => {
      assert.equal(await h.teams.chat.postCard({ slack: 'C1' }, sampleViews().pending), null);
      assert.equal(await h.teams.chat.postCard({ teams: 'installed' }, sampleViews().pending), null);
      assert.ok(h.logs.some((l) => l.level === 'info' && /install the app/.test(l.msg ?? '')), 'says why nothing was posted');
    });

    it('should DM a person through their 1:1 chat, and answer false for someone Teams cannot reach', async () => {
      await postActivity(h.url, installPersonal(place(), users.alice));
      h.connector.reset();
      const notice = sampleNotices().find((n) => n.kind === 'opened')!;
      const alice = { platform: 'teams' as const, userId: users.alice.id, email: users.alice.email, name: 'Alice', aadObjectId: users.alice.aadObjectId };
      assert.equal(await h.teams.chat.notifyPerson(alice, notice), true);
      assert.equal(h.connector.calls[0].path, `/v3/conversations/${personalConversationId(users.alice)}/activities`);
      const ghost = { platform: 'slack' as const, userId: 'U1', email: 'ghost@example.com', name: 'Ghost' };
      assert.equal(await h.teams.chat.notifyPerson(ghost, notice), false);
    });

    it('should open a 1:1 chat with a Teams user it met in a channel, and report false when Teams refuses', async () => {
      await postActivity(h.url, installationUpdateAdd(place()));
      await postActivity(h.url, channelMessage(place(), users.dave, 'jit status'));
      h.connector.reset();
      const dave = { platform: 'teams' as const, userId: users.dave.id, email: users.dave.email, name: 'Dave' };
      const notice = sampleNotices()[0];
      assert.equal(await h.teams.chat.notifyPerson(dave, notice), true);
      assert.equal(h.connector.calls[0].path, '/v3/conversations');
      assert.deepEqual(h.connector.calls[0].body.members, [{ id: users.dave.id, name: '' }]);
      assert.match(h.connector.calls[1].path, /^\/v3\/conversations\/a:1:1-personal-\d+\/activities$/);

      const carol = { platform: 'teams' as const, userId: users.carol.id, email: users.carol.email, name: 'Carol' };
      h.connector.failNext({ method: 'POST', pathIncludes: '/v3/conversations' }, { status: 403, body: { error: { code: 'BotNotInConversationRoster', message: 'no' } } });
      assert.equal(await h.teams.chat.notifyPerson(carol, notice), false);
    });

    it('should turn a 429 into a retryable ChatError with Retry-After, and a 500 too, without retrying inside the SDK', async () => {
      await postActivity(h.url, installationUpdateAdd(place()));
      h.connector.reset();
      h.connector.failNext({ method: 'POST', pathIncludes: '/v3/conversations' }, { status: 429, headers: { 'retry-after': '7' }, body: { error: { code: 'Throttled', message: 'slow down' } } });
      await assert.rejects(h.teams.chat.postCard({ teams: 'installed' }, sampleViews().pending), (err: unknown) => {
        assert.ok(err instanceof ChatError);
        assert.equal(err.retryable, true);
        assert.equal(err.retryAfterMs, 7000);
        assert.match(err.message, /HTTP 429 Throttled/);
        return true;
      });
      assert.equal(h.connector.calls.length, 1, 'one attempt: the scheduler does the retrying');

      const ref = await h.teams.chat.postCard({ teams: 'installed' }, sampleViews().pending);
      h.connector.failNext({ method: 'PUT' }, { status: 500 });
      await assert.rejects(h.teams.chat.updateCard(ref!, sampleViews().active), (err: unknown) => err instanceof ChatError && err.retryable);
      h.connector.failNext({ method: 'PUT' }, { status: 404, body: { error: { code: 'ActivityNotFoundInConversation', message: 'gone' } } });
      await assert.rejects(h.teams.chat.updateCard(ref!, sampleViews().active), (err: unknown) => err instanceof ChatError && !err.retryable);
    });
  });

  describe('card actions', () => {
    it('should route an Action.Execute invoke without a verb on data.verb and answer with the clicker’s card', async () => {
      const view = sampleViews().pending;
      const res = await postActivity(h.url, executeInvoke(place(), users.bob, { verb: 'approve', data: { verb: 'approve', requestId: view.id }, omitVerb: true }, { replyToId: '1001' }));
      assert.equal(res.status, 200);
      assert.equal(res.body.statusCode, 200);
      assert.equal(res.body.type, 'application/vnd.microsoft.card.adaptive');
      const act = api.calls.find((c) => c.method === 'act')!;
      assert.equal(act.verb, 'approve');
      assert.equal(act.requestId, view.id);
      assert.equal(act.actor?.email, 'bob@example.com');
      assert.match(act.key ?? '', /^teams:19:approvals.*:f:[0-9a-f-]{36}$/);
      assert.match(JSON.stringify(res.body.value), /approve recorded/);
      // Bob approves: his copy keeps approve/deny; the invoke itself sends nothing through the connector.
      assert.deepEqual(verbsOf(res.body.value), ['approve', 'deny']);
      assert.equal(h.connector.calls.filter((c) => c.method !== 'GET').length, 0);
    });

    it('should give the requester cancel, an approver approve/deny and anyone else no buttons on refresh', async () => {
      const id = sampleViews().pending.id;
      const refresh = (u: (typeof users)[keyof typeof users]) =>
        postActivity(h.url, executeInvoke(place(), u, { verb: 'refresh', data: { verb: 'refresh', requestId: id } }, { replyToId: '1001', trigger: 'automatic' }));
      assert.deepEqual(verbsOf((await refresh(users.alice)).body.value), ['cancel']);
      assert.deepEqual(verbsOf((await refresh(users.bob)).body.value), ['approve', 'deny']);
      assert.deepEqual(verbsOf((await refresh(users.dave)).body.value), []);
      assert.ok(!api.calls.some((c) => c.method === 'act'), 'a refresh changes nothing');
    });

    it('should name the approvers and the requester it has met in refresh.userIds', async () => {
      for (const u of [users.alice, users.bob]) await postActivity(h.url, personalMessage(place(), u, 'jit status'));
      const res = await postActivity(h.url, executeInvoke(place(), users.bob, { verb: 'refresh', data: { verb: 'refresh', requestId: sampleViews().pending.id } }));
      // Alice is the sample's requester as `29:alice`; Bob was met; Carol (an approver) never was.
      assert.deepEqual(res.body.value.refresh.userIds, ['29:alice', users.bob.id]);
    });

    it('should answer a form submit with the form and its errors, then with the submitted card', async () => {
      const data = { verb: 'submit-form', vm: 'web-01', ports: '22', duration: '1h', source: '1.2.3.4', reason: 'x' };
      let res = await postActivity(h.url, executeInvoke(place(), users.alice, { verb: 'submit-form', data }, { personal: true, replyToId: '2001' }));
      assert.equal(res.body.statusCode, 200);
      assert.match(JSON.stringify(res.body.value), /Source 1\.2\.3\.4 is outside/);
      assert.deepEqual(api.calls.find((c) => c.method === 'submitForm')?.input, { vm: 'web-01', ports: '22', duration: '1h', source: '1.2.3.4', reason: 'x' });
      api.formResult = () => ({ ok: true, reply: { kind: 'submitted', text: 'Request R4K7QX is waiting for approval.', request: sampleViews().pending } });
      res = await postActivity(h.url, executeInvoke(place(), users.alice, { verb: 'submit-form', data }, { personal: true, replyToId: '2001' }));
      assert.match(JSON.stringify(res.body.value), /waiting for approval/);
      assert.deepEqual(verbsOf(res.body.value), ['cancel']);
      // In a 1:1 chat the form message itself is replaced, for every client.
      assert.equal(h.connector.callsMatching('PUT', '/activities/2001').length, 2);
    });

    it('should refuse unknown verbs with a 400 error body, and accept the Action.Submit fallback as a message', async () => {
      let res = await postActivity(h.url, executeInvoke(place(), users.bob, { verb: 'def', data: {} }));
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { statusCode: 400, type: 'application/vnd.microsoft.error', value: { code: 'BadRequest', message: 'This card action is not one of jitbot’s.' } });
      res = await postActivity(h.url, submitMessage(place(), users.bob, { verb: 'deny', requestId: 'R4K7QX' }, '1001'));
      assert.equal(res.status, 200);
      assert.equal(api.calls.find((c) => c.method === 'act')?.verb, 'deny');
      const sent = await h.connector.waitFor((c) => c.method === 'POST' && c.path.includes('/activities'));
      assert.equal(sent.body.text, 'deny recorded');
    });
  });
});

describe('Teams adapter configuration', () => {
  const base = { api: new StubApi(), store: memoryKvStore(), logger: recordingLogger() };

  it('should refuse an empty app id outside local mode', () => {
    assert.throws(() => createTeamsAdapter({ ...base, appId: '', appPassword: '', localMode: false }), /MicrosoftAppId is empty/);
    assert.ok(createTeamsAdapter({ ...base, appId: '', appPassword: '', localMode: true }).chat);
  });

  it('should refuse an app id without a password, a single-tenant app without a tenant, and unknown app types', () => {
    assert.throws(() => createTeamsAdapter({ ...base, appId: BOT.id.slice(3), appPassword: '', localMode: false }), /MicrosoftAppPassword is empty/);
    assert.throws(() => createTeamsAdapter({ ...base, appId: 'x', appPassword: 'y', appType: 'SingleTenant', localMode: false }), /MicrosoftAppTenantId is required/);
    assert.throws(() => createTeamsAdapter({ ...base, appId: 'x', appPassword: 'y', appType: 'Bogus', localMode: false }), /not one of/);
  });
});
