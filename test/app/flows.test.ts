import assert from 'node:assert/strict';
import { RecordingChat } from '../fakes/recording-chat';
import { engines, MINUTE, person, startWorld, type TestWorld } from '../helpers/world';
import type { Reply } from '../../src/core/views';

function submittedId(reply: Reply): string {
  assert.equal(reply.kind, 'submitted', `expected a submitted request, got ${JSON.stringify(reply)}`);
  return (reply as Extract<Reply, { kind: 'submitted' }>).request.id;
}

for (const engine of engines()) {
  describe(`request lifecycle through the use cases (${engine})`, function () {
    let world: TestWorld;
    let chat: RecordingChat;

    beforeEach(async () => {
      world = await startWorld({ engine });
      chat = new RecordingChat();
      world.addChat(chat);
    });
    afterEach(async () => world.close());

    it('opens exactly the approved port, reminds before the end and closes at the end', async () => {
      const alice = person('alice');
      const id = submittedId(await world.app.command(alice, 'ssh web-01 1h from 10.1.2.3 for INC-4711'));
      await world.settle();
      assert.equal(chat.recorded.cards.length, 1, 'one approval card is posted');
      assert.equal(chat.recorded.cards[0].view.approvalsText, '0 of 1');
      assert.deepEqual(chat.recorded.cards[0].route, { slack: 'C0JITAPPROVALS', teams: 'installed' });
      assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, false, 'nothing is open before approval');

      const result = await world.app.act(person('bob'), 'approve', id);
      assert.equal(result.ok, true, result.message);
      await world.settle();
      const view = chat.lastView(id)!;
      assert.equal(view.state, 'active');
      assert.match(view.decision ?? '', /Approved by Bob/);
      assert.deepEqual(view.approverActions, [], 'no approve buttons once decided');
      assert.ok(chat.threadOf(id).some((t) => /^Open until (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC from 10\.1\.2\.3/.test(t)), chat.threadOf(id).join('\n'));
      assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, true, 'port 22 is open for the source');
      assert.equal(world.sim.check('web-01', 22, '10.9.9.9').allowed, false, 'and only for that source');
      assert.equal(world.sim.check('web-02', 22, '10.1.2.3').allowed, false, 'and only on that VM');
      assert.ok(chat.recorded.dms.some((d) => d.to.email === 'alice@example.com' && d.notice.kind === 'opened'), 'the requester is told directly');

      await world.advance(50 * MINUTE);
      const reminders = chat.recorded.thread.filter((t) => t.notice.kind === 'reminder');
      assert.equal(reminders.length, 1, 'one reminder');
      assert.deepEqual(reminders[0].notice.actions, ['extend', 'release']);
      assert.equal(reminders[0].notice.mention?.email, 'alice@example.com');

      await world.advance(11 * MINUTE);
      assert.equal(chat.lastView(id)!.state, 'expired');
      assert.ok(chat.threadOf(id).includes('Expired, ports closed: 22/TCP on web-01.'));
      assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, false, 'port 22 closed at the end');

      await world.advance(60 * MINUTE);
      assert.equal(chat.recorded.thread.filter((t) => t.notice.kind === 'expired').length, 1, 'the expiry is announced once');
      const audit = await world.store.listAudit({ requestId: id });
      const types = audit.map((e) => e.type);
      for (const t of ['request.created', 'request.approved', 'azure.initiate', 'request.opened', 'request.expired']) {
        assert.ok(types.includes(t), `audit has ${t}: ${types.join(', ')}`);
      }
    });

    it('when a grant ends, its reminders lose their buttons and say how it ended, in the thread and in the direct message', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for INC-1'));
      await world.app.act(person('bob'), 'approve', id);
      await world.settle();
      await world.advance(50 * MINUTE);
      assert.equal(chat.recorded.thread.filter((t) => t.notice.kind === 'reminder').length, 1);
      assert.equal(chat.recorded.dms.filter((d) => d.notice.kind === 'reminder').length, 1);
      assert.equal(chat.recorded.noticeUpdates.length, 0, 'nothing is redrawn while the grant is open');

      const released = await world.app.act(person('alice'), 'release', id);
      assert.equal(released.ok, true, released.message);
      await world.settle();
      assert.equal(chat.recorded.noticeUpdates.length, 2, 'the thread reminder and the direct one are both redrawn');
      for (const u of chat.recorded.noticeUpdates) {
        assert.equal(u.notice.actions, undefined, 'no buttons');
        assert.match(u.notice.text, /^Closed at (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC: released by Alice\./);
      }
      await world.advance(20 * MINUTE);
      assert.equal(chat.recorded.noticeUpdates.length, 2, 'once: the expiry job of a released grant redraws nothing again');

      const late = await world.app.act(person('alice'), 'extend', id, { durationMinutes: 30 });
      assert.equal(late.ok, false, 'an old Extend button is answered, and changes nothing');
      assert.match(late.message, /released|ended|no longer/i);
      assert.equal((await world.store.getRequest(id))!.state, 'released');
    });

    it('a reminder delivered after its grant expired goes without buttons', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for INC-2'));
      await world.app.act(person('bob'), 'approve', id);
      await world.settle();
      chat.failNext = 1000;
      await world.advance(50 * MINUTE);
      await world.advance(11 * MINUTE);
      assert.equal((await world.store.getRequest(id))!.state, 'expired');
      chat.failNext = 0;
      await world.advance(2 * MINUTE);
      const reminders = [...chat.recorded.thread, ...chat.recorded.dms.map((d) => ({ notice: d.notice }))].filter((t) => /ends at|Closed at/.test(t.notice.text));
      assert.ok(reminders.length >= 2, JSON.stringify(chat.recorded.thread.map((t) => t.notice.text)));
      for (const r of reminders) assert.equal(r.notice.actions, undefined, `no buttons on ${r.notice.text}`);
    });

    it("the requester's copy is redrawn on every transition: approved, open, extended, released", async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for INC-3'));
      await world.settle();
      assert.equal(chat.recorded.copies.length, 1, 'one copy, for the requester');
      assert.equal(chat.recorded.copies[0].to.email, 'alice@example.com');
      assert.equal(chat.lastCopy(id)!.state, 'pending');
      // Azure takes its seconds to apply, so the copy has time to say so.
      world.sim.setApplyDelay(5_000);
      await world.app.act(person('bob'), 'approve', id);
      await world.settle();
      const states = () => chat.recorded.copyUpdates.filter((u) => u.view.id === id).map((u) => u.view.state);
      assert.equal(chat.lastCopy(id)!.state, 'opening', states().join(','));
      world.sim.setApplyDelay(0);
      await world.advance(10_000);
      assert.equal(chat.lastCopy(id)!.state, 'active');
      assert.match(chat.lastCopy(id)!.headline, /^Open until/);
      const extended = await world.app.act(person('alice'), 'extend', id, { durationMinutes: 30 });
      assert.equal(extended.ok, true, extended.message);
      await world.app.act(person('bob'), 'approve', id);
      await world.settle();
      assert.match(chat.lastCopy(id)!.headline, /^Open until/);
      assert.equal(chat.lastCopy(id)!.extension, null, 'the extension is settled on the copy');
      await world.app.act(person('alice'), 'release', id);
      await world.settle();
      assert.equal(chat.lastCopy(id)!.state, 'released');
      assert.equal(chat.lastCopy(id)!.final, true, 'no buttons once it ended');
    });

    it("the requester's copy says denied, with the reason, and timed out", async () => {
      const denied = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for INC-4'));
      await world.app.act(person('bob'), 'deny', denied, { reason: 'use the bastion' });
      await world.settle();
      assert.equal(chat.lastCopy(denied)!.state, 'denied');
      assert.match(chat.lastCopy(denied)!.decision ?? '', /use the bastion/);
      const lapsed = submittedId(await world.app.command(person('alice'), 'ssh web-02 1h from 10.1.2.3 for INC-5'));
      await world.advance(24 * 60 * MINUTE);
      assert.equal(chat.lastCopy(lapsed)!.state, 'timed-out');
    });

    it("without from, a port whose policy lists several prefixes opens to all of them, and the answer and the card say how many addresses that is", async () => {
      const enabled = await world.app.command(person('carol'), 'enable web-02 ssh from 10.0.0.0/8,192.168.0.0/16');
      assert.equal(enabled.kind, 'policy', JSON.stringify(enabled));
      const reply = await world.app.command(person('alice'), 'ssh web-02 1h for INC-6');
      const id = submittedId(reply);
      const both = "10.0.0.0/8 and 192.168.0.0/16, the policy's whole range: 16,842,752 addresses";
      assert.ok((reply as { text: string }).text.includes(both), (reply as { text: string }).text);
      await world.settle();
      assert.equal(chat.recorded.cards[0].view.source, both);
      assert.equal(chat.recorded.cards[0].view.sourceSize, '16,842,752 addresses');
      assert.equal(chat.recorded.cards[0].view.sourceWide, true, 'flagged: together far wider than a /16');
      await world.app.act(person('bob'), 'approve', id);
      await world.settle();
      assert.equal((await world.store.getRequest(id))!.state, 'active');
      assert.equal(world.sim.check('web-02', 22, '10.9.9.9').allowed, true, 'open from the first prefix');
      assert.equal(world.sim.check('web-02', 22, '192.168.1.1').allowed, true, 'and from the second');
      assert.equal(world.sim.check('web-02', 22, '172.16.0.1').allowed, false, 'and from nothing else');
      assert.ok(chat.threadOf(id).some((t) => t.startsWith('Open until') && t.includes('from 10.0.0.0/8 and 192.168.0.0/16')), chat.threadOf(id).join('\n'));
      const created = (await world.store.listAudit({ requestId: id })).find((e) => e.type === 'request.created');
      assert.deepEqual(created?.details.sources, ['10.0.0.0/8', '192.168.0.0/16'], 'the audit names every prefix');
      const released = await world.app.act(person('alice'), 'release', id);
      assert.equal(released.ok, true, released.message);
      await world.advance(2 * MINUTE);
      assert.equal((await world.store.getRequest(id))!.state, 'released');
      assert.equal(world.sim.check('web-02', 22, '192.168.1.1').allowed, false, 'release closes every prefix');
      assert.equal(world.sim.check('web-02', 22, '10.9.9.9').allowed, false);
    });

    it('a request stored with one source, before requests could carry several, still opens and closes', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for INC-7'));
      const stored = (await world.store.getRequest(id))!;
      assert.equal(stored.sources, undefined, 'a single source is stored as before');
      await world.app.act(person('bob'), 'approve', id);
      await world.settle();
      assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, true);
      assert.match(chat.lastView(id)!.source, /^10\.1\.2\.3$/);
      assert.equal(chat.lastView(id)!.sourceSize, '1 address');
    });

    it('enable says which rule lets people request the VM, or that none does', async () => {
      const none = await world.app.command(person('carol'), 'enable build-01');
      assert.equal(none.kind, 'policy', JSON.stringify(none));
      assert.match((none as { note?: string }).note ?? '', /build-01 is under JIT, but no access rule covers it, so nobody can request it yet/);
      const web = await world.app.command(person('carol'), 'enable web-02 ssh');
      assert.match((web as { note?: string }).note ?? '', /Rule web lets group:dev, group:sre request it \(1 approval from group:sre\)/);
    });

    it('dave, who has no group, cannot request', async () => {
      const reply = await world.app.command(person('dave'), 'ssh web-01 1h from 10.1.2.3 for x');
      assert.equal(reply.kind, 'error');
      assert.match((reply as { message: string }).message, /may not request web-01/);
      assert.equal((await world.store.listRequests({})).length, 0, 'nothing is stored');
      const refused = await world.store.listAudit({});
      assert.ok(refused.some((e) => e.type === 'command.refused' && e.actor?.email === 'dave@example.com'), 'the refusal is audited');
    });

    it('an unknown person can ask for help and nothing else', async () => {
      const stranger = { platform: 'slack' as const, userId: 'U0X', email: 'eve@evil.example', name: 'Eve' };
      assert.equal((await world.app.command(stranger, 'help')).kind, 'help');
      const reply = await world.app.command(stranger, 'ssh web-01 1h from 10.1.2.3');
      assert.equal(reply.kind, 'error');
      assert.match((reply as { message: string }).message, /not in jitbot's access list/);
    });

    it('alice cannot approve, and bob cannot approve his own request', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 30m from 10.1.2.3 for x'));
      const byAlice = await world.app.act(person('alice'), 'approve', id);
      assert.equal(byAlice.ok, false);
      assert.match(byAlice.message, /own request/);
      const own = submittedId(await world.app.command(person('bob'), 'ssh web-02 30m from 10.1.2.3 for y'));
      const byBob = await world.app.act(person('bob'), 'approve', own);
      assert.equal(byBob.ok, false);
      assert.match(byBob.message, /own request/);
      const other = submittedId(await world.app.command(person('carol'), 'ssh web-02 30m from 10.1.2.4 for z'));
      const byAliceOnCarol = await world.app.act(person('alice'), 'approve', other);
      assert.equal(byAliceOnCarol.ok, false);
      assert.match(byAliceOnCarol.message, /can't approve/);
      for (const rid of [id, own, other]) assert.equal((await world.store.getRequest(rid))!.state, 'pending');
    });

    it('sql-01 stays pending after one approval and opens after a second, distinct approver', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'rdp sql-01 1h from 203.0.113.7 for patching'));
      const first = await world.app.act(person('bob'), 'approve', id);
      assert.equal(first.ok, true);
      assert.equal(first.view?.approvalsText, '1 of 2');
      const again = await world.app.act(person('bob'), 'approve', id);
      assert.equal(again.ok, false, 'the same person twice is not two approvals');
      await world.settle();
      assert.equal((await world.store.getRequest(id))!.state, 'pending');
      assert.equal(world.sim.check('sql-01', 3389, '203.0.113.7').allowed, false);
      const second = await world.app.act(person('carol'), 'approve', id);
      assert.equal(second.ok, true);
      await world.settle();
      assert.equal((await world.store.getRequest(id))!.state, 'active');
      assert.equal(world.sim.check('sql-01', 3389, '203.0.113.7').allowed, true);
    });

    it('refuses a source outside the policy and a duration over the maximum, naming the limit', async () => {
      const outside = await world.app.command(person('alice'), 'ssh web-01 1h from 203.0.113.7 for x');
      assert.equal(outside.kind, 'error');
      assert.match((outside as { message: string }).message, /10\.0\.0\.0\/8/);
      const tooLong = await world.app.command(person('alice'), 'ssh web-01 4h from 10.1.2.3 for x');
      assert.equal(tooLong.kind, 'error');
      assert.match((tooLong as { message: string }).message, /3h/);
      assert.equal((await world.store.listRequests({})).length, 0);
    });

    it('50 parallel approvals of one request make exactly one transition and open once', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for race'));
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => world.app.act(i % 2 === 0 ? person('bob') : person('carol'), 'approve', id)),
      );
      assert.equal(results.filter((r) => r.ok).length, 1, 'one approval wins');
      for (const r of results.filter((x) => !x.ok)) assert.match(r.message, /already/i);
      await world.settle();
      const r = (await world.store.getRequest(id))!;
      assert.equal(r.state, 'active');
      assert.equal(r.approvals.length, 1);
      const initiates = (await world.store.listAudit({ requestId: id })).filter((e) => e.type === 'azure.initiate');
      assert.equal(initiates.length, 1, 'Azure initiate is called once');
    });

    it('a second click on a decided request says who decided', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for x'));
      await world.app.act(person('bob'), 'deny', id);
      const late = await world.app.act(person('carol'), 'approve', id);
      assert.equal(late.ok, false);
      assert.match(late.message, /denied by Bob/i);
      await world.settle();
      assert.equal(chat.lastView(id)!.state, 'denied');
      assert.ok(chat.recorded.dms.some((d) => d.notice.kind === 'denied'));
      assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, false);
    });

    it('the same delivery twice creates one request', async () => {
      const a = await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for x', { idempotencyKey: 'trigger-1' });
      const b = await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for x', { idempotencyKey: 'trigger-1' });
      assert.equal(a.kind, 'submitted');
      assert.equal(b.kind, 'text');
      assert.equal((await world.store.listRequests({})).length, 1);
    });

    it('a redelivery after a failed attempt is answered afresh, not ignored', async () => {
      world.sim.setFaults({ errorRate: 1 });
      const failed = await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for x', { idempotencyKey: 'trigger-2' });
      assert.equal(failed.kind, 'error', 'Azure is down: nothing can be checked');
      world.sim.setFaults({ errorRate: 0 });
      const retried = await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for x', { idempotencyKey: 'trigger-2' });
      assert.equal(retried.kind, 'submitted');
      const refused = await world.app.act(person('alice'), 'approve', (retried as Extract<Reply, { kind: 'submitted' }>).request.id, { idempotencyKey: 'click-1' });
      assert.equal(refused.ok, false);
      const again = await world.app.act(person('alice'), 'approve', (retried as Extract<Reply, { kind: 'submitted' }>).request.id, { idempotencyKey: 'click-1' });
      assert.match(again.message, /own request/, 'a refusal is repeated, not hidden behind "already received"');
    });

    it('cancel withdraws a pending request; only the requester may', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for x'));
      const notMine = await world.app.command(person('bob'), `cancel ${id}`);
      assert.equal(notMine.kind, 'error');
      const mine = await world.app.command(person('alice'), `cancel ${id.toLowerCase()}`);
      assert.equal(mine.kind, 'text');
      await world.settle();
      assert.equal(chat.lastView(id)!.state, 'cancelled');
      const late = await world.app.act(person('bob'), 'approve', id);
      assert.equal(late.ok, false);
    });

    it('release closes the ports in Azure before saying so', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 2h from 10.1.2.3 for x'));
      await world.app.act(person('bob'), 'approve', id);
      await world.settle();
      assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, true);
      const released = await world.app.act(person('alice'), 'release', id);
      assert.equal(released.ok, true, released.message);
      await world.settle();
      assert.equal((await world.store.getRequest(id))!.state, 'released');
      await world.advance(2 * MINUTE);
      assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, false, 'closed in the simulator');
      await world.advance(3 * 60 * MINUTE);
      assert.equal(chat.recorded.thread.filter((t) => t.notice.kind === 'expired' || t.notice.kind === 'reminder').length, 0, 'no reminder or expiry after release');
    });

    it('extend needs the same approvals and moves the end time', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for x'));
      await world.app.act(person('bob'), 'approve', id);
      await world.settle();
      const before = (await world.store.getRequest(id))!.endsAt!;
      const tooLong = await world.app.command(person('alice'), `extend ${id} 3h`);
      assert.equal(tooLong.kind, 'error', 'past the 3h maximum from now');
      const asked = await world.app.command(person('alice'), `extend ${id} 1h`);
      assert.equal(asked.kind, 'text');
      await world.settle();
      assert.equal((await world.store.getRequest(id))!.endsAt!.getTime(), before.getTime(), 'nothing moves before approval');
      const self = await world.app.act(person('alice'), 'approve', id);
      assert.equal(self.ok, false);
      const ok = await world.app.act(person('bob'), 'approve', id);
      assert.equal(ok.ok, true, ok.message);
      await world.settle();
      const after = (await world.store.getRequest(id))!;
      assert.equal(after.endsAt!.getTime(), before.getTime() + 60 * MINUTE);
      assert.equal(after.extension, undefined);
      await world.advance(65 * MINUTE);
      assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, true, 'still open past the old end');
      assert.equal((await world.store.getRequest(id))!.state, 'active');
      await world.advance(60 * MINUTE);
      assert.equal((await world.store.getRequest(id))!.state, 'expired');
      assert.equal(chat.recorded.thread.filter((t) => t.notice.kind === 'expired').length, 1);
    });

    it('when Azure replaces a grant with a newer one on the same port, the older one stops claiming to be open', async () => {
      const alices = submittedId(await world.app.command(person('alice'), 'ssh web-01 2h from 10.1.2.3 for first'));
      await world.app.act(person('bob'), 'approve', alices);
      await world.settle();
      assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, true);
      const carols = submittedId(await world.app.command(person('carol'), 'ssh web-01 1h from 10.4.5.6 for second'));
      const logged = world.sim.requestLog.length;
      await world.app.act(person('bob'), 'approve', carols);
      await world.settle();
      assert.equal(world.sim.check('web-01', 22, '10.4.5.6').allowed, true);
      const calls = world.sim.requestLog.slice(logged).map((e) => `${e.method} ${e.path.split('?')[0].split('/').slice(-2).join('/')}`);
      assert.deepEqual(calls, ['POST default/initiate', 'GET westeurope/jitNetworkAccessPolicies'], 'one read of Azure sees the grant applied and what it replaced');
      assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, false, 'the simulator, like Azure, keeps one grant per VM port');
      assert.equal((await world.store.getRequest(alices))!.state, 'expired', 'no longer shown as open');
      assert.ok(chat.threadOf(alices).some((t) => /Azure replaced 22 on web-01 with Carol's request/.test(t)), chat.threadOf(alices).join('\n'));
      assert.ok(chat.recorded.dms.some((d) => d.to.email === 'alice@example.com' && d.notice.kind === 'superseded'));
      await world.advance(3 * 60 * MINUTE);
      const late = chat.recorded.thread.filter((t) => t.notice.requestId === alices && (t.notice.kind === 'reminder' || t.notice.kind === 'expired'));
      assert.equal(late.length, 0, 'no reminder or expiry for a grant already ended');
      assert.equal((await world.store.getRequest(carols))!.state, 'expired');
    });

    it('a pending request times out after the pending TTL', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for x'));
      await world.advance(61 * MINUTE);
      assert.equal((await world.store.getRequest(id))!.state, 'timed-out');
      assert.ok(chat.threadOf(id).some((t) => /timed out/.test(t)));
    });

    it('a chat platform that fails is retried until the card and thread arrive', async () => {
      chat.failNext = 3;
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for x'));
      for (let i = 0; i < 10 && chat.recorded.cards.length === 0; i++) await world.advance(MINUTE);
      assert.equal(chat.recorded.cards.length, 1);
      await world.app.act(person('bob'), 'approve', id);
      await world.settle();
      assert.ok(chat.threadOf(id).some((t) => t.startsWith('Open until')));
    });

    it('a port Azure refuses ends failed with Azure’s reason and nothing claims open', async () => {
      // Between request and approval, someone removes 5986 from sql-01's policy in Azure.
      const id = submittedId(await world.app.command(person('alice'), 'winrm-https sql-01 30m from 203.0.113.7 for x'));
      const policy = await world.cloud.listVms();
      const sql = policy.find((v) => v.name === 'sql-01')!;
      await world.cloud.enable(sql, sql.jit!.filter((p) => p.number !== 5986));
      await world.app.act(person('bob'), 'approve', id);
      await world.app.act(person('carol'), 'approve', id);
      await world.settle();
      const r = (await world.store.getRequest(id))!;
      assert.equal(r.state, 'failed');
      assert.ok(r.failure && r.failure.length > 0);
      assert.ok(chat.threadOf(id).some((t) => t.startsWith('Could not open')));
      assert.ok(!chat.threadOf(id).some((t) => t.startsWith('Open until')));
    });

    it('after a crash between Azure accepting and the commit, reconcile settles the grant without a second initiate', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for crash'));
      await world.settle();
      // The approval commits (state opening) but the process dies right after Azure accepted the initiate.
      await world.store.commit({
        request: { ...(await world.store.getRequest(id))!, state: 'opening', version: 2, approvals: [{ by: person('bob'), at: world.clock.now() }] },
        expectedVersion: 1,
      });
      const r = (await world.store.getRequest(id))!;
      await world.cloud.open({ vms: r.vms, ports: r.ports, sources: [r.source], endsAt: new Date(world.clock.now().getTime() + 60 * MINUTE), justification: `jitbot ${id} for Alice: crash` });
      const initiatesBefore = world.sim.requestLog.filter((e) => e.method === 'POST' && /initiate/i.test(e.path)).length;
      const { settled } = await world.app.reconcile();
      await world.settle();
      assert.deepEqual(settled, [id]);
      const after = (await world.store.getRequest(id))!;
      assert.equal(after.state, 'active');
      assert.equal(world.sim.requestLog.filter((e) => e.method === 'POST' && /initiate/i.test(e.path)).length, initiatesBefore, 'no second initiate');
      assert.ok(chat.threadOf(id).some((t) => t.startsWith('Open until')));
      await world.advance(61 * MINUTE);
      assert.equal((await world.store.getRequest(id))!.state, 'expired', 'and it still expires on time');
    });

    it('reconcile at start only watches an initiate that is already on record, so the trail tells once how Azure opened it', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for watched'));
      await world.settle();
      await world.store.commit({
        request: { ...(await world.store.getRequest(id))!, state: 'opening', version: 2, approvals: [{ by: person('bob'), at: world.clock.now() }] },
        expectedVersion: 1,
      });
      const r = (await world.store.getRequest(id))!;
      // Another replica sent the initiate and recorded it, and is still watching Azure apply it.
      await world.cloud.open({ vms: r.vms, ports: r.ports, sources: [r.source], endsAt: new Date(world.clock.now().getTime() + 60 * MINUTE), justification: `jitbot ${id} for Alice: watched` });
      await world.store.appendAudit([{ at: world.clock.now(), requestId: id, type: 'azure.initiate', actor: null, platform: null, vmNames: ['web-01'], details: { ok: true, accepted: true } }]);
      await world.app.reconcile();
      await world.settle();
      assert.equal((await world.store.getRequest(id))!.state, 'active');
      const types = (await world.store.listAudit({ requestId: id })).map((e) => e.type);
      assert.equal(types.filter((t) => t === 'azure.initiate').length + types.filter((t) => t === 'azure.reconciled').length, 1, types.join(', '));
    });

    it('admins export the audit trail as CSV; others may not', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for "=cmd"'));
      const denied = await world.app.command(person('bob'), 'audit');
      assert.equal(denied.kind, 'error');
      const reply = await world.app.command(person('carol'), 'audit web-01 7d');
      assert.equal(reply.kind, 'audit');
      const csv = (reply as Extract<Reply, { kind: 'audit' }>).csv;
      assert.match(csv.split('\r\n')[0], /^time_utc,request,event/);
      assert.ok(csv.includes(id));
    });
  });
}
