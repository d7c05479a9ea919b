import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../src/app/clock';
import { ChatError } from '../../src/core/errors';
import type { Notice, RequestView } from '../../src/core/views';
import { createSlackChatPort, readSlackMessageRef } from '../../src/slack/chat-port';
import { createSlackIdentity } from '../../src/slack/identity';
import { createBoltLogger } from '../../src/slack/log';
import { createSlackCaller, slackErrorCode, type SlackCaller } from '../../src/slack/web';
import { FakeSlackApi } from '../fakes/slack-api';
import { BOT_TOKEN, RecordingLogger, SAMPLE_VIEW } from './support';

async function rejection(p: Promise<unknown>): Promise<ChatError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ChatError, `expected a ChatError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('Slack Web API calls', () => {
  let fake: FakeSlackApi;
  let logger: RecordingLogger;
  let slack: SlackCaller;

  before(async () => {
    fake = await FakeSlackApi.start();
  });
  after(async () => {
    await fake.close();
  });
  beforeEach(() => {
    fake.reset();
    fake.clearOverrides();
    logger = new RecordingLogger();
    slack = createSlackCaller(BOT_TOKEN, { apiUrl: fake.apiUrl, logger: createBoltLogger(logger), timeoutMs: 2_000 });
  });

  it('turns ok:false into a ChatError that is not retryable and keeps Slack’s code', async () => {
    fake.failNext('chat.postMessage', 'channel_not_found');
    const err = await rejection(slack.call('chat.postMessage', { channel: 'C0NOPE', text: 'x' }));
    assert.equal(err.retryable, false);
    assert.equal(err.message, 'Slack chat.postMessage failed: channel_not_found');
    assert.equal(slackErrorCode(err), 'channel_not_found');
    assert.equal(fake.callsTo('chat.postMessage').length, 1);
  });

  it('marks Slack’s own "try later" codes retryable', async () => {
    fake.failNext('chat.update', 'service_unavailable');
    assert.equal((await rejection(slack.call('chat.update', { channel: 'C1', ts: '1' }))).retryable, true);
  });

  it('waits out a short Retry-After on 429 and then succeeds', async () => {
    fake.rateLimitNext('chat.postMessage', 0, 2);
    const res = await slack.call<{ ok: boolean; ts?: string }>('chat.postMessage', { channel: 'C0JITAPPROVALS', text: 'x' });
    assert.equal(res.ok, true);
    assert.equal(fake.callsTo('chat.postMessage').length, 3);
  });

  it('gives up on 429 after a few tries, retryable, with Slack’s wait', async () => {
    fake.rateLimitNext('chat.postMessage', 0, 10);
    const err = await rejection(slack.call('chat.postMessage', { channel: 'C1', text: 'x' }));
    assert.equal(err.retryable, true);
    assert.equal(err.retryAfterMs, 0);
    assert.equal(fake.callsTo('chat.postMessage').length, 3);
  });

  it('does not sit on a long Retry-After: it fails at once, retryable, saying how long to wait', async () => {
    fake.rateLimitNext('chat.postMessage', 30, 1);
    const started = Date.now();
    const err = await rejection(slack.call('chat.postMessage', { channel: 'C1', text: 'x' }));
    assert.ok(Date.now() - started < 1_000);
    assert.equal(err.retryable, true);
    assert.equal(err.retryAfterMs, 30_000);
  });

  it('retries a 500 twice, quickly, then fails retryable', async () => {
    fake.serverErrorNext('chat.update', 5);
    const err = await rejection(slack.call('chat.update', { channel: 'C1', ts: '1' }));
    assert.equal(err.retryable, true);
    assert.equal(err.message, 'Slack chat.update failed: HTTP 500');
    assert.equal(fake.callsTo('chat.update').length, 3);
  });

  it('recovers from one 500', async () => {
    fake.serverErrorNext('chat.postMessage', 1);
    const res = await slack.call('chat.postMessage', { channel: 'C1', text: 'x' });
    assert.equal(res.ok, true);
  });

  it('fails retryable when Slack cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const offline = createSlackCaller(BOT_TOKEN, { apiUrl: `http://127.0.0.1:${port}/api/`, logger: createBoltLogger(logger), timeoutMs: 2_000 });
    const err = await rejection(offline.call('auth.test', {}));
    assert.equal(err.retryable, true);
  });

  it('keeps to the caller’s deadline', async () => {
    const slow = createServer((_req, res) => setTimeout(() => res.end('{"ok":true}'), 1_000));
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    try {
      const port = (slow.address() as AddressInfo).port;
      const caller = createSlackCaller(BOT_TOKEN, { apiUrl: `http://127.0.0.1:${port}/api/`, logger: createBoltLogger(logger) });
      const started = Date.now();
      const err = await rejection(caller.call('chat.update', { channel: 'C1', ts: '1' }, { timeoutInMs: 100 }));
      assert.ok(Date.now() - started < 600);
      assert.equal(err.message, 'Slack chat.update timed out');
      assert.equal(err.retryable, true);
      const aborted = new AbortController();
      const pending = caller.call('chat.update', { channel: 'C1', ts: '1' }, { abortSignal: aborted.signal });
      aborted.abort();
      assert.equal((await rejection(pending)).message, 'Slack chat.update was cancelled');
    } finally {
      slow.closeAllConnections();
      await new Promise<void>((r) => slow.close(() => r()));
    }
  });

  it('never writes the token into a log line', async () => {
    fake.serverErrorNext('chat.update', 5);
    await rejection(slack.call('chat.update', { channel: 'C1', ts: '1' }));
    assert.ok(!logger.text().includes(BOT_TOKEN));
  });

  describe('identity', () => {
    it('reads the email lower-cased and the real name, and caches them until the TTL passes', async () => {
      const clock = new ManualClock();
      const identity = createSlackIdentity({ slack, clock, ttlMs: 60_000 });
      assert.deepEqual(await identity.actorFor('U0BOB'), { platform: 'slack', userId: 'U0BOB', email: 'bob@example.com', name: 'Bob' });
      await identity.actorFor('U0BOB');
      assert.equal(fake.callsTo('users.info').length, 1);
      clock.advance(61_000);
      await identity.actorFor('U0BOB');
      assert.equal(fake.callsTo('users.info').length, 2);
    });

    it('asks Slack once for concurrent lookups of the same person', async () => {
      const identity = createSlackIdentity({ slack, clock: new ManualClock() });
      await Promise.all([identity.actorFor('U0ALICE'), identity.actorFor('U0ALICE'), identity.actorFor('U0ALICE')]);
      assert.equal(fake.callsTo('users.info').length, 1);
    });

    it('treats a user Slack does not know, and a bot, as people without email', async () => {
      fake.addUser({ id: 'U0ROBOT', name: 'robot', realName: 'Robot', email: 'robot@example.com', isBot: true });
      const identity = createSlackIdentity({ slack, clock: new ManualClock() });
      assert.deepEqual(await identity.actorFor('U0GHOST', { name: 'ghost' }), { platform: 'slack', userId: 'U0GHOST', email: null, name: 'ghost' });
      assert.equal((await identity.actorFor('U0ROBOT')).email, null);
    });

    it('does not remember a failed lookup', async () => {
      const identity = createSlackIdentity({ slack, clock: new ManualClock() });
      fake.serverErrorNext('users.info', 3);
      await rejection(identity.actorFor('U0CAROL'));
      assert.equal((await identity.actorFor('U0CAROL')).email, 'carol@example.com');
    });
  });

  describe('the ChatPort', () => {
    const view: RequestView = SAMPLE_VIEW;
    const reminder: Notice = {
      kind: 'reminder',
      requestId: 'R4K7QX',
      text: 'Alice, your access ends at 13:00 UTC. Extend or release it now.',
      mention: SAMPLE_VIEW.requester,
      actions: ['extend', 'release'],
    };

    it('posts the card to the route’s Slack channel and returns a versioned ref', async () => {
      const chat = createSlackChatPort(slack);
      assert.equal(chat.platform, 'slack');
      const ref = await chat.postCard({ slack: 'C0JITAPPROVALS', teams: 'installed' }, view);
      assert.ok(ref);
      assert.deepEqual(ref, { platform: 'slack', v: 1, data: { channel: 'C0JITAPPROVALS', ts: fake.channelMessages('C0JITAPPROVALS')[0].ts } });
      const [post] = fake.callsTo('chat.postMessage');
      assert.equal(post.args.text, 'R4K7QX: Waiting for approval (0 of 1). Alice asks for 22/TCP on web-01.');
      assert.ok(Array.isArray(post.args.blocks));
    });

    it('posts nothing when the route names no Slack channel', async () => {
      assert.equal(await createSlackChatPort(slack).postCard({ teams: 'installed' }, view), null);
      assert.equal(fake.calls.length, 0);
    });

    it('redraws the card in place and replies in its thread', async () => {
      const chat = createSlackChatPort(slack);
      const ref = await chat.postCard({ slack: 'C0JITAPPROVALS' }, view);
      assert.ok(ref);
      await chat.updateCard(ref, { ...view, approverActions: [], decision: 'Approved by Bob at 12:05 UTC' });
      await chat.replyInThread(ref, reminder);
      const { channel, ts } = readSlackMessageRef(ref);
      const card = fake.message(channel, ts);
      assert.equal(card?.updates, 1);
      assert.ok(JSON.stringify(card?.blocks).includes('Approved by Bob at 12:05 UTC'));
      assert.ok(!JSON.stringify(card?.blocks).includes('jit_approve'));
      const [reply] = fake.thread(channel, ts);
      assert.match(reply.text, /<@U0ALICE>, your access ends/);
      assert.ok(JSON.stringify(reply.blocks).includes('jit_extend'));
    });

    it('sends a direct message to a Slack person and declines anyone else', async () => {
      const chat = createSlackChatPort(slack);
      assert.equal(await chat.notifyPerson({ platform: 'slack', userId: 'U0ALICE', email: 'alice@example.com', name: 'Alice' }, reminder), true);
      assert.equal(fake.callsTo('chat.postMessage')[0].args.channel, 'U0ALICE');
      assert.equal(await chat.notifyPerson({ platform: 'teams', userId: '29:x', email: 'alice@example.com', name: 'Alice' }, reminder), false);
      assert.equal(fake.callsTo('chat.postMessage').length, 1);
    });

    it("keeps the requester's copy in a direct message it can redraw, since Slack refuses to edit an ephemeral", async () => {
      const eph = await slack.call<{ ok: boolean; message_ts?: string }>('chat.postEphemeral', { channel: 'C0JITAPPROVALS', user: 'U0ALICE', text: 'Sent for approval' });
      const refused = await slack.call('chat.update', { channel: 'C0JITAPPROVALS', ts: eph.message_ts, text: 'Open' }).then(
        () => null,
        (err: unknown) => slackErrorCode(err),
      );
      assert.equal(refused, 'cant_update_message', 'an ephemeral cannot be redrawn');

      const chat = createSlackChatPort(slack);
      const alice = { platform: 'slack' as const, userId: 'U0ALICE', email: 'alice@example.com', name: 'Alice' };
      const ref = await chat.postCopy(alice, view);
      assert.ok(ref);
      const { channel, ts } = readSlackMessageRef(ref);
      assert.equal(channel, 'D0ALICE', "in the bot's direct messages with her");
      assert.match(fake.message(channel, ts)!.text, /^R4K7QX: Waiting for approval/);
      await chat.updateCopy(ref, { ...view, state: 'active', headline: 'Open until 13:05 UTC', requesterActions: ['extend', 'release'], approverActions: [] });
      assert.match(fake.message(channel, ts)!.text, /^R4K7QX: Open until 13:05 UTC\. You ask for/);
      assert.ok(JSON.stringify(fake.message(channel, ts)!.blocks).includes('jit_release'), 'with her buttons');
      assert.equal(await chat.postCopy({ ...alice, platform: 'teams', userId: '29:x' }, view), null, 'only for people on Slack');
    });

    it('redraws a reminder without its buttons once the grant has ended', async () => {
      const chat = createSlackChatPort(slack);
      const card = await chat.postCard({ slack: 'C0JITAPPROVALS' }, view);
      const sent = await chat.replyInThread(card!, reminder);
      assert.ok(sent, 'the reply says where it landed');
      await chat.updateNotice(sent, { ...reminder, actions: undefined, text: 'Closed at 13:05 UTC: the access ended.' });
      const { channel, ts } = readSlackMessageRef(sent);
      const now = fake.message(channel, ts)!;
      assert.match(now.text, /Closed at 13:05 UTC/);
      assert.ok(!JSON.stringify(now.blocks).includes('jit_extend'));
    });

    it('finds someone known only by email with users.lookupByEmail, once, and declines whom Slack does not know', async () => {
      const chat = createSlackChatPort(slack);
      const dave = { platform: 'console' as const, userId: '', email: 'dave@example.com', name: 'Dave' };
      assert.equal(await chat.notifyPerson(dave, reminder), true);
      assert.equal(await chat.notifyPerson(dave, reminder), true);
      assert.deepEqual(fake.callsTo('chat.postMessage').map((c) => c.args.channel), ['U0DAVE', 'U0DAVE']);
      assert.equal(fake.callsTo('users.lookupByEmail').length, 1, 'the answer is reused');
      assert.equal(await chat.notifyPerson({ ...dave, email: 'erin@example.com', name: 'Erin' }, reminder), false);
      assert.equal(fake.callsTo('chat.postMessage').length, 2);
    });

    it('retries a direct message by email when Slack cannot answer the look-up, rather than giving up on the person', async () => {
      const chat = createSlackChatPort(slack);
      fake.serverErrorNext('users.lookupByEmail', 5);
      await assert.rejects(chat.notifyPerson({ platform: 'console', userId: '', email: 'dave@example.com', name: 'Dave' }, reminder));
      assert.equal(fake.callsTo('chat.postMessage').length, 0);
    });

    it('refuses a ref made by another platform', async () => {
      const chat = createSlackChatPort(slack);
      const err = await rejection(chat.updateCard({ platform: 'teams', v: 1, data: { activityId: 'x' } }, view));
      assert.equal(err.retryable, false);
    });

    it('surfaces Slack failures as ChatErrors the scheduler can retry', async () => {
      const chat = createSlackChatPort(slack);
      fake.rateLimitNext('chat.update', 30, 1);
      const err = await rejection(chat.updateCard({ platform: 'slack', v: 1, data: { channel: 'C1', ts: '1' } }, view));
      assert.equal(err.retryable, true);
      assert.equal(err.retryAfterMs, 30_000);
      fake.failNext('chat.postMessage', 'not_in_channel');
      assert.equal((await rejection(chat.postCard({ slack: 'C0PRIVATE' }, view))).retryable, false);
    });

    it('the fake Slack refuses what real Slack refuses: a 3,001-character section, 51 blocks, a 40,001-character text', async () => {
      const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });
      const long = await rejection(slack.call('chat.postMessage', { channel: 'C1', text: 'x', blocks: [section('a'.repeat(3_001))] }));
      assert.equal(slackErrorCode(long), 'invalid_blocks');
      assert.match(long.message, /invalid_blocks/);
      const many = await rejection(slack.call('chat.postMessage', { channel: 'C1', text: 'x', blocks: Array.from({ length: 51 }, () => section('a')) }));
      assert.equal(slackErrorCode(many), 'invalid_blocks');
      assert.equal(slackErrorCode(await rejection(slack.call('chat.postMessage', { channel: 'C1', text: 'a'.repeat(40_001) }))), 'msg_too_long');
      await slack.call('chat.postMessage', { channel: 'C1', text: 'x', blocks: [section('a'.repeat(3_000))] });
    });

    it('the fake Slack reads a JSON body only with the token in the Authorization header, as Slack does', async () => {
      const post = async (headers: Record<string, string>) =>
        ((await (await fetch(`${fake.apiUrl}chat.postMessage`, { method: 'POST', headers, body: JSON.stringify({ channel: 'C1', text: 'x' }) })).json()) as { ok: boolean; error?: string });
      assert.deepEqual(await post({ 'content-type': 'application/json' }), { ok: false, error: 'not_authed' });
      assert.equal((await post({ 'content-type': 'application/json', authorization: `Bearer ${BOT_TOKEN}` })).ok, true);
      // And the bot's own posts, sent as JSON, carry it.
      await slack.call('chat.postMessage', { channel: 'C1', text: 'x' });
      const sent = fake.callsTo('chat.postMessage').at(-1)!;
      assert.match(sent.contentType ?? '', /^application\/json/);
      assert.equal(sent.authorization, `Bearer ${BOT_TOKEN}`);
    });

    it('posts a card, a thread reply and a direct message for 200 VMs and a 2,000-character reason within Slack limits', async () => {
      const chat = createSlackChatPort(slack);
      const vms = Array.from({ length: 200 }, (_, i) => `web-${String(i + 1).padStart(3, '0')}`);
      const huge: RequestView = { ...view, vms, reason: 'R'.repeat(2_000), requester: { ...view.requester, name: 'N'.repeat(500) } };
      const ref = await chat.postCard({ slack: 'C0JITAPPROVALS' }, huge);
      assert.ok(ref);
      await chat.updateCard(ref, huge);
      const opened: Notice = { kind: 'opened', requestId: view.id, text: `Open until 13:00 UTC from 10.1.2.3: 22/TCP on ${vms.join(', ')} ${'x'.repeat(3_000)}`, mention: view.requester };
      await chat.replyInThread(ref, opened);
      assert.equal(await chat.notifyPerson({ platform: 'slack', userId: 'U0ALICE', email: 'alice@example.com', name: 'Alice' }, opened), true);
      const { channel, ts } = readSlackMessageRef(ref);
      const card = JSON.stringify(fake.message(channel, ts)?.blocks);
      assert.match(card, /web-\* \(200 VMs\): web-001, web-002/, 'the VMs are summarised as their glob and count');
      assert.match(card, /R{900,1000}…/, 'the reason is clipped on the card');
      assert.equal(fake.thread(channel, ts).length, 1);
      for (const post of fake.callsTo('chat.postMessage')) assert.equal(post.args.blocks === undefined || (post.args.blocks as unknown[]).length <= 50, true);
    });

    it('sends a notice again in its minimal form when Slack refuses it as built, so "open" is never lost', async () => {
      const warnings: string[] = [];
      const chat = createSlackChatPort(slack, { onMinimal: (method) => warnings.push(method) });
      const opened: Notice = { kind: 'opened', requestId: view.id, text: 'Open until 13:00 UTC from 10.1.2.3: 22/TCP on web-01.', mention: view.requester };
      fake.failNext('chat.postMessage', 'invalid_blocks');
      assert.equal(await chat.notifyPerson({ platform: 'slack', userId: 'U0ALICE', email: 'alice@example.com', name: 'Alice' }, opened), true);
      const [refused, minimal] = fake.callsTo('chat.postMessage');
      assert.ok(refused && minimal, 'posted twice');
      assert.match(String(minimal.args.text), /Open until 13:00 UTC/);
      assert.deepEqual((minimal.args.blocks as Array<{ type: string }>).map((b) => b.type), ['section']);
      assert.deepEqual(warnings, ['chat.postMessage']);
      const ref = await chat.postCard({ slack: 'C0JITAPPROVALS' }, view);
      assert.ok(ref);
      fake.failNext('chat.update', 'msg_too_long');
      await chat.updateCard(ref, { ...view, headline: 'Open until 13:00 UTC' });
      assert.equal(fake.callsTo('chat.update').length, 2, 'the card update went again in its minimal form');
      const { channel, ts } = readSlackMessageRef(ref);
      assert.match(fake.message(channel, ts)?.text ?? '', /Open until 13:00 UTC/);
    });
  });
});
