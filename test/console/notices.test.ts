// The console stands in for Slack and Teams in local mode: its reminders, too, lose their buttons
// when the grant ends, and the requester's answer follows the request.
import assert from 'node:assert/strict';
import { createConsoleChat } from '../../src/console/chat';
import { ConsoleRoom, type ConversationEntry } from '../../src/console/room';
import type { Notice, RequestView } from '../../src/core/views';
import { SAMPLE_VIEW } from '../slack/support';

const alice = { platform: 'console' as const, userId: 'alice@example.com', email: 'alice@example.com', name: 'Alice' };
const reminder: Notice = { kind: 'reminder', requestId: SAMPLE_VIEW.id, text: 'Alice, your access ends at 13:05 UTC (in 10 min). Extend or release it now.', actions: ['extend', 'release'] };
const ended: Notice = { kind: 'reminder', requestId: SAMPLE_VIEW.id, text: 'Closed at 13:01 UTC: released by Alice.' };

describe('console reminders and copies', () => {
  let room: ConsoleRoom;
  const view: RequestView = SAMPLE_VIEW;

  beforeEach(() => {
    room = new ConsoleRoom(() => new Date('2026-11-21T12:55:00Z'));
  });

  function chat() {
    return createConsoleChat({ room, knows: (email) => email === 'alice@example.com', view: async () => view });
  }

  it('a reminder in the thread and in the chat loses its buttons when the grant ends', async () => {
    const c = chat();
    const card = await c.postCard({}, view);
    const inThread = await c.replyInThread(card!, reminder);
    const direct = await c.messagePerson(alice, reminder);
    assert.ok(inThread && direct);
    await c.updateNotice(inThread, ended);
    await c.updateNotice(direct, ended);
    assert.deepEqual(room.channel()[0].thread.map((t) => t.notice), [ended]);
    const dms = room.conversation('alice@example.com').filter((e): e is Extract<ConversationEntry, { kind: 'dm' }> => e.kind === 'dm');
    assert.deepEqual(dms.map((e) => e.notice), [ended]);
  });

  it("redraws the requester's answer on a transition that draws no card", async () => {
    const c = chat();
    room.addToConversation('alice@example.com', { kind: 'reply', reply: { kind: 'submitted', text: 'Sent for approval: R4K7QX. It needs 1 approval.', request: view } });
    const ref = await c.postCopy(alice, view);
    assert.ok(ref);
    await c.updateCopy(ref, { ...view, state: 'opening', headline: 'Approved; opening…' });
    const [entry] = room.conversation('alice@example.com');
    assert.equal(entry.kind, 'reply');
    const reply = (entry as Extract<ConversationEntry, { kind: 'reply' }>).reply as Extract<import('../../src/core/views').Reply, { kind: 'submitted' }>;
    assert.equal(reply.request.state, 'opening');
    assert.doesNotMatch(reply.text, /needs 1 approval/);
  });
});
