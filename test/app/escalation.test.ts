// Escalation on the local clock: a decision still open after the rule's escalateAfterMinutes is
// announced again (thread mention, direct messages, the requester told), once, and never after the
// request was decided or withdrawn; the people it was escalated to may then decide it.
import assert from 'node:assert/strict';
import { JitApp } from '../../src/app/jit-app';
import { auditCsv } from '../../src/app/audit-csv';
import type { Reply } from '../../src/core/views';
import { RecordingChat } from '../fakes/recording-chat';
import { escalatingConfig } from '../helpers/escalation-config';
import { engines, MINUTE, person, startWorld, type TestWorld } from '../helpers/world';

function submittedId(reply: Reply): string {
  assert.equal(reply.kind, 'submitted', JSON.stringify(reply));
  return (reply as Extract<Reply, { kind: 'submitted' }>).request.id;
}

for (const engine of engines()) {
  describe(`escalating a decision nobody made in time (${engine})`, function () {
    let world: TestWorld;
    let chat: RecordingChat;

    beforeEach(async () => {
      world = await startWorld({ engine, config: escalatingConfig() });
      chat = new RecordingChat();
      world.addChat(chat);
    });
    afterEach(async () => world.close());

    const escalatedThread = (id: string) => chat.recorded.thread.filter((t) => t.notice.requestId === id && t.notice.kind === 'escalated');
    const escalatedDms = (id: string) => chat.recorded.dms.filter((d) => d.notice.requestId === id && d.notice.kind === 'escalated');

    it('says nothing before escalateAfterMinutes, and Dave may not decide yet', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for INC-4711'));
      await world.advance(19 * MINUTE + 59_000);
      assert.deepEqual(escalatedThread(id), []);
      assert.deepEqual(escalatedDms(id), []);
      assert.equal(chat.lastView(id)!.escalation, null);
      const early = await world.app.act(person('dave'), 'approve', id);
      assert.equal(early.ok, false);
      assert.match(early.message, /only group:sre may approve under rule web \(and dave@example\.com once it is escalated\)/);
      assert.deepEqual(await world.app.approverEmails(id), ['bob@example.com', 'carol@example.com']);
    });

    it('at escalateAfterMinutes mentions Dave in the thread, asks him directly with buttons, tells Alice, and lets Dave approve', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for INC-4711'));
      await world.advance(20 * MINUTE);

      const thread = escalatedThread(id);
      assert.equal(thread.length, 1, 'one mention in the thread');
      assert.deepEqual(thread[0].notice.mentionEmails, [{ name: 'Dave', email: 'dave@example.com' }]);
      assert.match(thread[0].notice.text, /^Alice's request R\w+ has waited 20m for a decision; escalated to Dave, who may now approve or deny it/);

      const toDave = escalatedDms(id).filter((d) => d.to.email === 'dave@example.com');
      assert.equal(toDave.length, 1, 'one direct message to Dave');
      assert.equal(toDave[0].to.userId, '', 'Dave is known by email only; the platform finds him');
      assert.deepEqual(toDave[0].notice.actions, ['approve', 'deny']);
      assert.match(toDave[0].notice.text, /^Dave, Alice's request R\w+ for 22\/TCP on web-01 from 10\.1\.2\.3 for 1h: INC-4711 has waited 20m for approval and was escalated to you/);

      const toAlice = escalatedDms(id).filter((d) => d.to.email === 'alice@example.com');
      assert.equal(toAlice.length, 1, 'the requester is told');
      assert.match(toAlice[0].notice.text, /^Your request R\w+ has waited 20m for a decision; it was escalated to Dave\.$/);

      assert.match(chat.lastView(id)!.escalation ?? '', /^Escalated to Dave at 12:20 UTC$/);
      assert.deepEqual(await world.app.approverEmails(id), ['bob@example.com', 'carol@example.com', 'dave@example.com']);
      const audit = (await world.store.listAudit({ requestId: id })).filter((e) => e.type === 'request.escalated');
      assert.equal(audit.length, 1);
      assert.deepEqual(audit[0].details, { to: ['dave@example.com'], approvals: 0, required: 1, waitedMinutes: 20 });
      assert.match(auditCsv(audit), /request\.escalated/);

      const byDave = await world.app.act(person('dave'), 'approve', id);
      assert.equal(byDave.ok, true, byDave.message);
      await world.settle();
      assert.equal((await world.store.getRequest(id))!.state, 'active');
      assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, true);
      assert.match(chat.lastView(id)!.escalation ?? '', /^Escalated to Dave at 12:20 UTC$/, 'the card keeps it as history');
    });

    it('escalates nothing when the request was approved first', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for x'));
      await world.advance(5 * MINUTE);
      assert.equal((await world.app.act(person('bob'), 'approve', id)).ok, true);
      await world.advance(30 * MINUTE);
      assert.deepEqual(escalatedThread(id), []);
      assert.deepEqual(escalatedDms(id), []);
      const types = (await world.store.listAudit({ requestId: id })).map((e) => e.type);
      assert.ok(!types.includes('request.escalated'), types.join(', '));
    });

    it('does not ask Dave directly when the request was decided between the escalation and his message', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for x'));
      await world.settle();
      // The platform is down when the escalation runs: its deliveries wait for a retry.
      chat.failNext = 1_000;
      await world.advance(20 * MINUTE);
      assert.equal(escalatedDms(id).length, 0);
      assert.equal((await world.app.act(person('bob'), 'approve', id)).ok, true);
      await world.settle();
      chat.failNext = 0;
      await world.advance(10 * MINUTE);
      assert.deepEqual(escalatedDms(id).filter((d) => d.to.email === 'dave@example.com'), [], 'no stale ask');
      assert.equal(escalatedThread(id).length, 1, 'the thread keeps the history');
      assert.equal((await world.store.getRequest(id))!.state, 'active');
    });

    it('escalates nothing when the requester withdrew the request first', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for x'));
      await world.advance(10 * MINUTE);
      assert.equal((await world.app.act(person('alice'), 'cancel', id)).ok, true);
      await world.advance(30 * MINUTE);
      assert.deepEqual(escalatedThread(id), []);
      assert.deepEqual(escalatedDms(id), []);
    });

    it('an escalated request nobody decides still times out at the pending timeout', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for x'));
      await world.advance(20 * MINUTE);
      assert.equal(escalatedThread(id).length, 1);
      await world.advance(40 * MINUTE);
      assert.equal((await world.store.getRequest(id))!.state, 'timed-out');
      assert.equal(escalatedThread(id).length, 1, 'still escalated once');
      const late = await world.app.act(person('dave'), 'approve', id);
      assert.equal(late.ok, false);
      assert.match(late.message, /timed out/);
    });

    it('without escalateTo asks the approvers who have not approved yet, and nobody new may decide', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'rdp sql-01 1h from 203.0.113.7 for patching'));
      await world.advance(MINUTE);
      assert.equal((await world.app.act(person('bob'), 'approve', id)).ok, true);
      await world.advance(19 * MINUTE);
      const asked = escalatedDms(id).filter((d) => d.notice.actions?.includes('approve'));
      assert.deepEqual(asked.map((d) => d.to.email), ['carol@example.com'], 'Bob already approved; Carol is reminded');
      assert.deepEqual(escalatedThread(id)[0].notice.mentionEmails, [{ name: 'Carol', email: 'carol@example.com' }]);
      assert.equal((await world.app.act(person('dave'), 'approve', id)).ok, false, 'Dave is no approver of sql');
      assert.equal((await world.app.act(person('carol'), 'approve', id)).ok, true);
      await world.settle();
      assert.equal((await world.store.getRequest(id))!.state, 'active');
    });

    it('the requester is never asked, nor allowed to approve her own request once it is escalated to her group', async () => {
      await world.close();
      world = await startWorld({ engine, config: escalatingConfig((doc) => (doc.rules[0].escalateTo = ['group:dev', 'dave@example.com'])) });
      chat = new RecordingChat();
      world.addChat(chat);
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for x'));
      await world.advance(20 * MINUTE);
      const asked = escalatedDms(id).filter((d) => d.notice.actions?.includes('approve'));
      assert.deepEqual(asked.map((d) => d.to.email), ['dave@example.com']);
      const own = await world.app.act(person('alice'), 'approve', id);
      assert.equal(own.ok, false);
      assert.match(own.message, /own request/);
    });

    it('an escalation person must still step up on a rule with stepUp', async () => {
      await world.close();
      world = await startWorld({ engine, config: escalatingConfig((doc) => (doc.rules[0].stepUp = true)) });
      chat = new RecordingChat();
      world.addChat(chat);
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for x'));
      await world.advance(20 * MINUTE);
      const byDave = await world.app.act(person('dave'), 'approve', id);
      assert.match(byDave.message, /sign in again with a second factor/);
      assert.equal((await world.store.getRequest(id))!.state, 'pending', 'no approval without the sign-in');
    });

    it('an extension waiting for approval is escalated too, and Dave may approve it', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for x'));
      await world.app.act(person('bob'), 'approve', id);
      await world.settle();
      assert.equal(escalatedThread(id).length, 0);
      const asked = await world.app.command(person('alice'), `extend ${id} 1h`);
      assert.equal(asked.kind, 'text', JSON.stringify(asked));
      await world.advance(19 * MINUTE);
      assert.equal(escalatedThread(id).length, 0, 'not before escalateAfterMinutes');
      assert.equal((await world.app.act(person('dave'), 'approve', id)).ok, false);
      await world.advance(MINUTE);
      const thread = escalatedThread(id);
      assert.equal(thread.length, 1);
      assert.match(thread[0].notice.text, /^Alice's extension of R\w+ by 1h has waited 20m for a decision; escalated to Dave/);
      assert.match(chat.lastView(id)!.escalation ?? '', /^Extension escalated to Dave at /);
      const audit = (await world.store.listAudit({ requestId: id })).filter((e) => e.type === 'extension.escalated');
      assert.equal(audit.length, 1);
      const before = (await world.store.getRequest(id))!.endsAt!.getTime();
      const byDave = await world.app.act(person('dave'), 'approve', id);
      assert.equal(byDave.ok, true, byDave.message);
      await world.settle();
      assert.equal((await world.store.getRequest(id))!.endsAt!.getTime(), before + 60 * MINUTE);
      // A new extension is a new decision: Dave may not decide it until it too is escalated.
      await world.app.command(person('alice'), `extend ${id} 30m`);
      assert.equal((await world.app.act(person('dave'), 'approve', id)).ok, false);
    });

    it('an extension decided first is not escalated', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for x'));
      await world.app.act(person('bob'), 'approve', id);
      await world.settle();
      await world.app.command(person('alice'), `extend ${id} 1h`);
      await world.advance(5 * MINUTE);
      assert.equal((await world.app.act(person('carol'), 'deny', id)).ok, true);
      await world.advance(30 * MINUTE);
      assert.equal(escalatedThread(id).length, 0);
    });

    it('escalates once with two processes sharing the store, and not again after a restart', async () => {
      const other = new JitApp({ policy: world.config.policy, store: world.store, cloud: world.cloud, clock: world.clock, vmCacheTtlMs: 0, owner: 'second', scheduler: { pollIntervalMs: 60_000 } });
      const otherChat = new RecordingChat();
      other.addChat(otherChat);
      try {
        const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for x'));
        await world.settle();
        world.clock.advance(20 * MINUTE);
        await Promise.all([world.app.scheduler.drain(), other.scheduler.drain(), world.app.scheduler.drain(), other.scheduler.drain()]);
        const all = [...chat.recorded.thread, ...otherChat.recorded.thread].filter((t) => t.notice.requestId === id && t.notice.kind === 'escalated');
        const dms = [...chat.recorded.dms, ...otherChat.recorded.dms].filter((d) => d.notice.requestId === id && d.notice.kind === 'escalated');
        assert.equal(all.length, 1, 'one thread mention between the two processes');
        assert.deepEqual(dms.map((d) => d.to.email).sort(), ['alice@example.com', 'dave@example.com']);

        // A restart: the first process stops, a new one starts on the same store and runs what is due.
        await world.app.stop({ timeoutMs: 1000 });
        const restarted = new JitApp({ policy: world.config.policy, store: world.store, cloud: world.cloud, clock: world.clock, vmCacheTtlMs: 0, owner: 'restarted', scheduler: { pollIntervalMs: 60_000 } });
        const restartedChat = new RecordingChat();
        restarted.addChat(restartedChat);
        await restarted.reconcile();
        world.clock.advance(10 * MINUTE);
        await restarted.scheduler.drain();
        assert.equal(restartedChat.recorded.thread.filter((t) => t.notice.kind === 'escalated').length, 0, 'nothing escalated twice');
        const audit = (await world.store.listAudit({ requestId: id })).filter((e) => e.type === 'request.escalated');
        assert.equal(audit.length, 1);
        await restarted.stop({ timeoutMs: 1000 });
      } finally {
        await other.stop({ timeoutMs: 1000 });
      }
    });

    it('an escalation due while the bot was down runs once it is back, before the timeout', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for x'));
      await world.settle();
      await world.app.stop({ timeoutMs: 1000 });
      world.clock.advance(25 * MINUTE);
      const restarted = new JitApp({ policy: world.config.policy, store: world.store, cloud: world.cloud, clock: world.clock, vmCacheTtlMs: 0, owner: 'back', scheduler: { pollIntervalMs: 60_000 } });
      const restartedChat = new RecordingChat();
      restarted.addChat(restartedChat);
      try {
        await restarted.scheduler.drain();
        const thread = restartedChat.recorded.thread.filter((t) => t.notice.kind === 'escalated');
        assert.equal(thread.length, 1);
        assert.match(thread[0].notice.text, /has waited 25m for a decision/);
        assert.equal((await world.store.getRequest(id))!.state, 'pending');
      } finally {
        await restarted.stop({ timeoutMs: 1000 });
      }
    });
  });
}
