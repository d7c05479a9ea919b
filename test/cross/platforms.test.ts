// One request, two platforms: a rule that routes to Slack and Teams puts a card in both, and a
// decision in either redraws both cards and replies in both threads. Approvals count people, not
// platforms: Bob in Slack and Bob in Teams are one approver.
import assert from 'node:assert/strict';
import { channelMessage, connectorMembers, executeInvoke, installationUpdateAdd, personalMessage, postActivity, users } from '../clients/teams';
import { blockActions, slashCommand } from '../clients/slack';
import { startFakeBotConnector, type FakeBotConnector } from '../fakes/bot-connector';
import { escalatingConfig } from '../helpers/escalation-config';
import { MINUTE, startWorld, type TestWorld } from '../helpers/world';
import { startSlackHarness, type SlackHarness } from '../slack/support';
import { startTeamsHarness, type TeamsHarness } from '../teams/harness';

const APPROVALS = 'C0JITAPPROVALS';

describe('Slack and Teams together', function () {
  this.timeout(30_000);
  let world: TestWorld;
  let slack: SlackHarness;
  let connector: FakeBotConnector;
  let teams: TeamsHarness;
  let seq = 0;

  beforeEach(async () => {
    // web escalates to Dave after 20 minutes; only the escalation tests let that much time pass.
    world = await startWorld({ config: escalatingConfig() });
    slack = await startSlackHarness(world.app, { clock: world.clock, botId: 'B0BOT', botUserId: 'U0BOT' });
    connector = await startFakeBotConnector({ members: connectorMembers() });
    teams = await startTeamsHarness({ api: world.app, store: world.store, clock: world.clock, connector });
    world.addChat(slack.adapter.chat);
    world.addChat(teams.teams.chat);
    assert.equal((await postActivity(teams.url, installationUpdateAdd({ serviceUrl: connector.url }))).status, 200);
    connector.reset();
  });
  afterEach(async () => {
    await teams.close();
    await connector.close();
    await slack.close();
    await world.close();
  });

  async function slackCommand(user: string, text: string): Promise<void> {
    seq += 1;
    const res = await slack.client.command(slashCommand({ user_id: user, text, response_url: slack.fake.responseUrl(`cmd-${seq}`) }));
    assert.equal(res.status, 200);
    await world.settle();
  }

  async function slackClick(user: string, verb: string, id: string): Promise<string> {
    seq += 1;
    const card = slackCard(id);
    const res = await slack.client.interactive(
      blockActions({ user, actionId: `jit_${verb}`, value: id, responseUrl: slack.fake.responseUrl(`click-${seq}`), channel: APPROVALS, messageTs: card.ts }),
    );
    assert.equal(res.status, 200);
    await world.settle();
    return JSON.stringify(slack.fake.responsesTo(`click-${seq}`));
  }

  function slackCard(id: string) {
    const card = slack.fake.channelMessages(APPROVALS).find((m) => m.text.startsWith(`${id}:`));
    assert.ok(card, `no Slack card for ${id}`);
    return card;
  }

  /** The Teams card's activity id, from the reference the app stored when it posted the card. */
  async function teamsCardId(id: string): Promise<string> {
    const refs = await world.store.listMessageRefs(id);
    const ref = refs.find((r) => r.ref.platform === 'teams' && r.kind === 'card');
    assert.ok(ref, 'the card was posted to Teams');
    return String(ref.ref.data.activityId);
  }

  async function teamsClick(user: (typeof users)[keyof typeof users], verb: string, id: string) {
    const res = await postActivity(
      teams.url,
      executeInvoke({ serviceUrl: connector.url }, user, { verb, data: { verb, requestId: id } }, { replyToId: await teamsCardId(id) }),
    );
    assert.equal(res.status, 200);
    await world.settle();
    return JSON.stringify(res.body);
  }

  function latestRequestId(): Promise<string> {
    return world.store.listRequests({ limit: 10 }).then((rs) => {
      assert.equal(rs.length, 1);
      return rs[0].id;
    });
  }

  it('a request from Slack approved in Teams redraws the Slack card and replies in both threads', async () => {
    await slackCommand('U0ALICE', 'ssh web-01 1h from 10.1.2.3 for INC-4711');
    const id = await latestRequestId();
    assert.match(JSON.stringify(slackCard(id).blocks), /jit_approve/);
    const teamsPost = connector.calls.find((c) => c.method === 'POST' && c.path === '/v3/conversations');
    assert.ok(teamsPost && JSON.stringify(teamsPost.body).includes(id), 'the same card went to the Teams channel');

    const answer = await teamsClick(users.bob, 'approve', id);
    assert.match(answer, /approved/i);

    const slackAfter = slackCard(id);
    assert.doesNotMatch(JSON.stringify(slackAfter.blocks), /jit_approve/, 'Slack card lost its buttons');
    assert.match(JSON.stringify(slackAfter.blocks), /Approved by Bob/);
    const slackThread = slack.fake.thread(APPROVALS, slackAfter.ts).map((m) => m.text).join('\n');
    assert.match(slackThread, /Open until (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC from 10\.1\.2\.3/);
    const teamsCard = await teamsCardId(id);
    const teamsReplies = connector.calls.filter((c) => c.method === 'POST' && c.path.includes(`;messageid=${teamsCard}`));
    assert.ok(teamsReplies.some((c) => JSON.stringify(c.body).includes('Open until')), 'Teams thread says open');
    assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, true);
    // The requester is told directly on the platform she asked from.
    assert.ok(slack.fake.callsTo('chat.postMessage').some((c) => c.args.channel === 'U0ALICE' && /Open until/.test(JSON.stringify(c.args))));
  });

  it('a request from Teams needing two approvals counts Bob once across platforms and opens after Carol', async () => {
    const res = await postActivity(teams.url, channelMessage({ serviceUrl: connector.url }, users.alice, 'jit rdp sql-01 1h from 203.0.113.7 for patching'));
    assert.equal(res.status, 200);
    await world.settle();
    const id = await latestRequestId();

    assert.match(await slackClick('U0BOB', 'approve', id), /1 of 2|another approver/i);
    assert.match(await teamsClick(users.bob, 'approve', id), /already approved/i, 'Bob in Teams is still Bob');
    assert.equal((await world.store.getRequest(id))!.state, 'pending');
    assert.match(JSON.stringify(slackCard(id).blocks), /1 of 2/);

    await teamsClick(users.carol, 'approve', id);
    assert.equal((await world.store.getRequest(id))!.state, 'active');
    assert.doesNotMatch(JSON.stringify(slackCard(id).blocks), /jit_approve/);
    const cardId = await teamsCardId(id);
    const updates = connector.calls.filter((c) => c.method === 'PUT' && c.path.includes(cardId));
    assert.ok(updates.length > 0, 'the Teams card was updated in place');
    assert.equal(world.sim.check('sql-01', 3389, '203.0.113.7').allowed, true);
  });

  it("a Slack requester's copy in direct messages follows every transition, and the reminders lose their buttons when the grant ends", async () => {
    await slackCommand('U0ALICE', 'ssh web-01 1h from 10.1.2.3 for INC-4711');
    const id = await latestRequestId();
    const copy = () => {
      const found = slack.fake.channelMessages('D0ALICE').find((m) => m.text.startsWith(`${id}:`));
      assert.ok(found, `no copy of ${id} in Alice's direct messages`);
      return found;
    };
    assert.match(copy().text, /Waiting for approval \(0 of 1\)/);
    assert.match(JSON.stringify(copy().blocks), /jit_cancel/, 'the copy offers Cancel while pending');

    await slackClick('U0BOB', 'approve', id);
    assert.match(copy().text, /Open until (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC/, 'the copy no longer says it needs an approval');
    assert.doesNotMatch(copy().text, /needs 1 approval|Waiting/);

    await world.advance(50 * MINUTE);
    const thread = slack.fake.thread(APPROVALS, slackCard(id).ts);
    const reminderInThread = thread.find((m) => /ends at/.test(m.text));
    const reminderInDm = slack.fake.channelMessages('D0ALICE').find((m) => /ends at/.test(m.text));
    assert.ok(reminderInThread && reminderInDm, 'a reminder in the thread and one in direct messages');
    for (const r of [reminderInThread, reminderInDm]) assert.match(JSON.stringify(r.blocks), /jit_release/);

    await world.advance(11 * MINUTE);
    assert.equal((await world.store.getRequest(id))!.state, 'expired');
    for (const r of [reminderInThread, reminderInDm]) {
      const now = slack.fake.message(r.channel, r.ts)!;
      assert.doesNotMatch(JSON.stringify(now.blocks), /jit_extend|jit_release|jit_extend_by/, 'no buttons left');
      assert.match(now.text, /Closed at (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC: the access ended/);
    }
    assert.match(copy().text, /Expired, ports closed/);
    assert.doesNotMatch(JSON.stringify(copy().blocks), /"type":"actions"/);

    // An old Release button, clicked anyway, is answered and changes nothing.
    seq += 1;
    const res = await slack.client.interactive(
      blockActions({ user: 'U0ALICE', actionId: 'jit_release', value: id, responseUrl: slack.fake.responseUrl(`late-${seq}`), channel: 'D0ALICE', messageTs: reminderInDm.ts }),
    );
    assert.equal(res.status, 200);
    await world.settle();
    assert.match(JSON.stringify(slack.fake.responsesTo(`late-${seq}`)), /expired|ended|no longer/i);
    assert.equal((await world.store.getRequest(id))!.state, 'expired');
  });

  it("a Teams requester's answer card is redrawn in place as the ports open and when they are released", async () => {
    const res = await postActivity(teams.url, channelMessage({ serviceUrl: connector.url }, users.alice, 'jit ssh web-01 1h from 10.1.2.3 for INC-1'));
    assert.equal(res.status, 200);
    await world.settle();
    const id = await latestRequestId();
    const copy = (await world.store.listMessageRefs(id)).find((r) => r.kind === 'copy');
    assert.ok(copy, 'the answer is kept as the requester\'s copy');
    const answerId = String(copy.ref.data.activityId);
    const redraws = () => connector.calls.filter((c) => c.method === 'PUT' && c.path.endsWith(`/activities/${answerId}`)).map((c) => JSON.stringify(c.body));
    assert.deepEqual(redraws(), [], 'an answer that still shows the request as it is is not drawn again');

    await slackClick('U0BOB', 'approve', id);
    assert.ok(redraws().some((b) => /Open until/.test(b)), 'the answer says open');
    await world.advance(50 * MINUTE);
    const reminders = (await world.store.listMessageRefs(id)).filter((r) => r.kind === 'notice' && r.ref.platform === 'teams');
    assert.equal(reminders.length, 2, 'the reminder in the Teams thread and in her personal chat are remembered');
    assert.match(await teamsClick(users.alice, 'release', id), /Released|release/i);
    assert.match(redraws().at(-1) ?? '', /Released/);
    for (const r of reminders) {
      const put = connector.calls.filter((c) => c.method === 'PUT' && c.path.endsWith(`/activities/${String(r.ref.data.activityId)}`)).at(-1);
      assert.ok(put, 'the reminder was redrawn in place');
      assert.match(JSON.stringify(put.body), /Closed at (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC: released by Alice/);
      assert.doesNotMatch(JSON.stringify(put.body), /Action\.Execute|Action\.Submit/, 'with no buttons');
    }
  });

  it('a request without from on a port with two allowed prefixes shows both, and their total, on the Slack and the Teams card', async () => {
    const enabled = await world.app.command({ platform: 'console', userId: 'carol@example.com', email: 'carol@example.com', name: 'Carol' }, 'enable web-02 ssh from 10.0.0.0/8,192.168.0.0/16');
    assert.equal(enabled.kind, 'policy', JSON.stringify(enabled));
    connector.reset();
    await slackCommand('U0ALICE', 'ssh web-02 1h for INC-8');
    const id = await latestRequestId();
    const both = "10.0.0.0/8 and 192.168.0.0/16, the policy's whole range: 16,842,752 addresses";
    assert.ok(JSON.stringify(slackCard(id).blocks).includes(both), 'the Slack card says both prefixes and the total');
    const teamsPost = connector.calls.find((c) => c.method === 'POST' && c.path === '/v3/conversations' && JSON.stringify(c.body).includes(id));
    assert.ok(teamsPost && JSON.stringify(teamsPost.body).includes(both), 'so does the Teams card');
    await teamsClick(users.bob, 'approve', id);
    assert.equal(world.sim.check('web-02', 22, '192.168.3.4').allowed, true);
    assert.equal(world.sim.check('web-02', 22, '10.3.4.5').allowed, true);
  });

  it('escalates an undecided Slack request in both threads and to Dave directly, and Dave approves from his Slack message', async () => {
    // Dave has written to the bot in Teams, so Teams knows him and can mention him.
    assert.equal((await postActivity(teams.url, channelMessage({ serviceUrl: connector.url }, users.dave, 'jit help'))).status, 200);
    await slackCommand('U0ALICE', 'ssh web-01 1h from 10.1.2.3 for INC-4711');
    const id = await latestRequestId();
    await world.advance(19 * MINUTE);
    assert.equal(slack.fake.callsTo('users.lookupByEmail').length, 0, 'nobody is looked up before the time');
    await world.advance(MINUTE);

    const slackThread = slack.fake.thread(APPROVALS, slackCard(id).ts).filter((m) => /escalated to Dave/.test(m.text));
    assert.equal(slackThread.length, 1, 'one mention in the Slack thread');
    assert.match(slackThread[0].text, /<@U0DAVE> Alice's request R\w+ has waited 20m for a decision/);
    assert.match(JSON.stringify(slackCard(id).blocks), /Escalated to Dave at 12:20 UTC/, 'the Slack card says so');

    const cardId = await teamsCardId(id);
    const teamsThread = connector.calls.filter((c) => c.method === 'POST' && c.path.includes(`;messageid=${cardId}`) && JSON.stringify(c.body).includes('escalated to Dave'));
    assert.equal(teamsThread.length, 1, 'one mention in the Teams thread');
    const entities = (teamsThread[0].body as { attachments: Array<{ content: { msteams?: { entities: Array<{ mentioned: { id: string } }> } } }> }).attachments[0].content.msteams?.entities ?? [];
    assert.deepEqual(entities.map((e) => e.mentioned.id), [users.dave.id]);

    const toDave = slack.fake.callsTo('chat.postMessage').filter((c) => c.args.channel === 'U0DAVE');
    assert.equal(toDave.length, 1, 'one direct message to Dave, on the first platform that knows him');
    assert.match(String(toDave[0].args.text), /Dave, Alice's request R\w+ .* was escalated to you/);
    assert.match(JSON.stringify(toDave[0].args.blocks), /"action_id":"jit_approve".*"action_id":"jit_deny"/);
    const lookups = slack.fake.callsTo('users.lookupByEmail').map((c) => c.args.email);
    assert.ok(lookups.length > 0 && lookups.every((e) => e === 'dave@example.com'), `Slack is asked for Dave by email: ${lookups.join(', ')}`);
    assert.ok(slack.fake.callsTo('chat.postMessage').some((c) => c.args.channel === 'U0ALICE' && /escalated to Dave/.test(String(c.args.text))), 'Alice is told');

    const dm = slack.fake.channelMessages('D0DAVE').find((m) => m.text.includes('escalated to you'));
    assert.ok(dm);
    seq += 1;
    const res = await slack.client.interactive(
      blockActions({ user: 'U0DAVE', actionId: 'jit_approve', value: id, responseUrl: slack.fake.responseUrl(`click-${seq}`), channel: 'D0DAVE', messageTs: dm.ts }),
    );
    assert.equal(res.status, 200);
    await world.settle();
    assert.match(JSON.stringify(slack.fake.responsesTo(`click-${seq}`)), /You approved/);
    assert.equal((await world.store.getRequest(id))!.state, 'active');
    assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, true);
  });

  it('escalates to Dave in a Teams personal chat when Slack does not know him, and he approves there', async () => {
    slack.fake.override('users.lookupByEmail', (call) => (String(call.args.email) === 'dave@example.com' ? { body: { ok: false, error: 'users_not_found' } } : undefined));
    assert.equal((await postActivity(teams.url, personalMessage({ serviceUrl: connector.url }, users.dave, 'jit help'))).status, 200);
    const res = await postActivity(teams.url, channelMessage({ serviceUrl: connector.url }, users.alice, 'jit ssh web-01 1h from 10.1.2.3 for patching'));
    assert.equal(res.status, 200);
    await world.settle();
    const id = await latestRequestId();
    connector.reset();
    await world.advance(20 * MINUTE);

    assert.equal(slack.fake.callsTo('chat.postMessage').filter((c) => c.args.channel === 'U0DAVE').length, 0);
    const toDave = connector.calls.filter((c) => c.method === 'POST' && /\/activities$/.test(c.path) && JSON.stringify(c.body).includes('escalated to you'));
    assert.equal(toDave.length, 1, 'one personal message to Dave in Teams');
    assert.match(JSON.stringify(toDave[0].body), /"verb":"approve"/);
    assert.match(slack.fake.thread(APPROVALS, slackCard(id).ts).map((m) => m.text).join('\n'), /escalated to Dave/, 'the Slack thread names him even without a mention');

    const answer = JSON.stringify((await postActivity(teams.url, executeInvoke({ serviceUrl: connector.url }, users.dave, { verb: 'approve', data: { verb: 'approve', requestId: id } }, { personal: true }))).body);
    await world.settle();
    assert.match(answer, /approved/i);
    assert.equal((await world.store.getRequest(id))!.state, 'active');
  });

  it("Dave's escalation message in Slack loses its buttons when Bob approves first on the card, and his old Approve is answered and changes nothing", async () => {
    await slackCommand('U0ALICE', 'ssh web-01 1h from 10.1.2.3 for INC-4711');
    const id = await latestRequestId();
    await world.advance(20 * MINUTE);
    const ask = slack.fake.channelMessages('D0DAVE').find((m) => m.text.includes('escalated to you'));
    assert.ok(ask, 'Dave is asked directly');
    assert.match(JSON.stringify(ask.blocks), /jit_approve/);

    await world.advance(MINUTE);
    await slackClick('U0BOB', 'approve', id);
    const now = slack.fake.message(ask.channel, ask.ts)!;
    assert.match(now.text, /Approved by Bob at 12:21 UTC: Alice's request R\w+ \(22\/TCP on web-01\)\. Nothing is left to decide here\./);
    assert.doesNotMatch(JSON.stringify(now.blocks), /jit_approve|jit_deny/, 'no buttons left');

    seq += 1;
    const res = await slack.client.interactive(
      blockActions({ user: 'U0DAVE', actionId: 'jit_approve', value: id, responseUrl: slack.fake.responseUrl(`late-${seq}`), channel: 'D0DAVE', messageTs: ask.ts }),
    );
    assert.equal(res.status, 200);
    await world.settle();
    assert.match(JSON.stringify(slack.fake.responsesTo(`late-${seq}`)), /already approved by Bob/);
    const r = (await world.store.getRequest(id))!;
    assert.deepEqual(r.approvals.map((a) => a.by.name), ['Bob'], 'Dave is not counted');
  });

  it("Dave's escalation message in a Teams personal chat loses its buttons when Bob approves first in Slack, and his old Approve changes nothing", async () => {
    slack.fake.override('users.lookupByEmail', (call) => (String(call.args.email) === 'dave@example.com' ? { body: { ok: false, error: 'users_not_found' } } : undefined));
    assert.equal((await postActivity(teams.url, personalMessage({ serviceUrl: connector.url }, users.dave, 'jit help'))).status, 200);
    await slackCommand('U0ALICE', 'ssh web-01 1h from 10.1.2.3 for INC-4711');
    const id = await latestRequestId();
    await world.advance(20 * MINUTE);
    const asks = (await world.store.listMessageRefs(id)).filter((m) => m.kind === 'ask:request');
    assert.equal(asks.length, 1, "Dave's personal message is remembered");
    assert.equal(asks[0].ref.platform, 'teams');
    const activityId = String(asks[0].ref.data.activityId);

    await slackClick('U0BOB', 'approve', id);
    const put = connector.calls.filter((c) => c.method === 'PUT' && c.path.endsWith(`/activities/${activityId}`)).at(-1);
    assert.ok(put, 'the personal message was redrawn in place');
    assert.match(JSON.stringify(put.body), /Approved by Bob at 12:20 UTC: Alice's request R\w+/);
    assert.doesNotMatch(JSON.stringify(put.body), /Action\.Execute|Action\.Submit/, 'with no buttons');

    const answer = JSON.stringify((await postActivity(teams.url, executeInvoke({ serviceUrl: connector.url }, users.dave, { verb: 'approve', data: { verb: 'approve', requestId: id } }, { personal: true, replyToId: activityId }))).body);
    await world.settle();
    assert.match(answer, /already approved by Bob/);
    assert.deepEqual((await world.store.getRequest(id))!.approvals.map((a) => a.by.name), ['Bob']);
  });
});
