import assert from 'node:assert/strict';
import { evaluateRequest, type RequestDraft } from '../../src/core/access';
import { createRequest, decidedMessage, transition, type LifecycleEvent } from '../../src/core/lifecycle';
import type { AccessRequest, Actor, AuditEvent } from '../../src/core/types';
import { actorFor, alice, allVms, basePolicy, bob, carol, dave, policyWith, request, webRule } from './fixtures';

const T0 = new Date('2025-03-04T13:00:00Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

const ALICE = actorFor(alice);
const BOB = actorFor(bob);
const BOB_ON_TEAMS = actorFor(bob, 'teams');
const CAROL = actorFor(carol, 'teams');

function draftFor(vmName: 'web-01' | 'sql-01', policy = basePolicy): RequestDraft {
  const ports = vmName === 'web-01' ? [{ number: 22, protocol: '*' as const }] : [{ number: 3389, protocol: '*' as const }];
  const r = evaluateRequest({ policy, person: alice, command: request({ vms: [vmName], ports, source: '10.1.2.3', reason: 'INC-1' }), vms: allVms });
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.draft;
}

function created(vmName: 'web-01' | 'sql-01' = 'web-01', policy = basePolicy): AccessRequest {
  return createRequest({ id: 'R4K7QX', draft: draftFor(vmName, policy), requester: ALICE, now: T0 }).request;
}

/** Freezes the whole request, so any mutation inside transition throws. */
function frozen<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof Date) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) frozen(v);
  }
  return value;
}

function step(r: AccessRequest, event: LifecycleEvent): { next: AccessRequest; audit: AuditEvent[] } {
  const result = transition(frozen(structuredClone(r)), event);
  assert.ok(result.ok, result.ok ? '' : `${event.type}: ${result.error.message}`);
  assert.equal(result.next.version, r.version + 1);
  return result;
}

function refused(r: AccessRequest, event: LifecycleEvent): { code: string; message: string } {
  const result = transition(frozen(structuredClone(r)), event);
  assert.ok(!result.ok, `${event.type} should be refused in state ${r.state}`);
  return { code: result.error.code, message: result.error.message };
}

function run(r: AccessRequest, ...events: LifecycleEvent[]): AccessRequest {
  return events.reduce((acc, e) => step(acc, e).next, r);
}

const approve = (by: Actor, minutes: number): LifecycleEvent => ({ type: 'approve', by, at: at(minutes) });
const opened = (minutes: number, endsAfter = 60): LifecycleEvent => ({ type: 'opened', at: at(minutes), endsAt: at(minutes + endsAfter) });

describe('createRequest', () => {
  it('creates a pending request at version 1 with the route and approvals of its rule', () => {
    const { request: r, audit } = createRequest({ id: 'R4K7QX', draft: draftFor('sql-01'), requester: ALICE, now: T0 });
    assert.equal(r.state, 'pending');
    assert.equal(r.version, 1);
    assert.equal(r.rule, 'sql');
    assert.equal(r.requiredApprovals, 2);
    assert.deepEqual(r.route, { slack: 'C0JIT', teams: 'installed' });
    assert.deepEqual(r.vms.map((v) => v.name), ['sql-01']);
    assert.deepEqual(r.ports, [{ number: 3389, protocol: '*' }]);
    assert.equal(r.source, '10.1.2.3');
    assert.equal(r.reason, 'INC-1');
    assert.deepEqual(r.approvals, []);
    assert.equal(r.autoApproved, undefined);
    assert.deepEqual(audit.map((e) => e.type), ['request.created']);
    assert.deepEqual(audit[0].vmNames, ['sql-01']);
    assert.equal(audit[0].actor, ALICE);
    assert.equal(audit[0].platform, 'slack');
  });

  it('goes straight to opening when the rule approves automatically', () => {
    const policy = policyWith([{ ...webRule, autoApprove: true }]);
    const { request: r, audit } = createRequest({ id: 'R1', draft: draftFor('web-01', policy), requester: ALICE, now: T0 });
    assert.equal(r.state, 'opening');
    assert.equal(r.autoApproved, true);
    assert.deepEqual(audit.map((e) => e.type), ['request.created', 'request.approved']);
    assert.equal(decidedMessage(r, T0), 'already approved automatically by rule web');
  });
});

describe('transition', () => {
  describe('approvals', () => {
    it('opens after one approval when the rule needs one', () => {
      const { next, audit } = step(created(), approve(BOB, 5));
      assert.equal(next.state, 'opening');
      assert.deepEqual(next.approvals, [{ by: BOB, at: at(5) }]);
      assert.deepEqual(audit.map((e) => e.type), ['request.approval', 'request.approved']);
    });

    it('approving twice opens once', () => {
      const once = step(created(), approve(BOB, 5)).next;
      assert.deepEqual(refused(once, approve(BOB, 6)), { code: 'conflict', message: 'already approved by Bob at 13:05 UTC' });
      assert.deepEqual(refused(once, approve(CAROL, 6)), { code: 'conflict', message: 'already approved by Bob at 13:05 UTC' });
    });

    it('the requester can never approve, on any platform', () => {
      const r = created('sql-01');
      assert.deepEqual(refused(r, approve(ALICE, 1)), { code: 'not_allowed', message: "you can't approve your own request" });
      assert.equal(refused(r, approve({ ...actorFor(alice, 'teams'), email: 'ALICE@example.com' }, 1)).code, 'not_allowed');
      assert.equal(refused(r, approve({ ...ALICE, email: null }, 1)).code, 'not_allowed');
    });

    it('two approvals must come from two people', () => {
      const one = step(created('sql-01'), approve(BOB, 1)).next;
      assert.equal(one.state, 'pending');
      assert.deepEqual(refused(one, approve(BOB_ON_TEAMS, 2)), { code: 'conflict', message: 'you already approved this request' });
      const two = step(one, approve(CAROL, 3));
      assert.equal(two.next.state, 'opening');
      assert.deepEqual(two.next.approvals.map((a) => a.by.name), ['Bob', 'Carol']);
      assert.deepEqual(two.audit.map((e) => e.type), ['request.approval', 'request.approved']);
      assert.equal(decidedMessage(two.next, at(4)), 'already approved by Bob and Carol at 13:03 UTC');
    });

    it('refuses an approval from someone the platform gave no email for', () => {
      assert.equal(refused(created(), approve({ ...BOB, email: null }, 1)).code, 'not_allowed');
    });

    it('records the approval count in the audit details', () => {
      const { audit } = step(created('sql-01'), approve(BOB, 1));
      assert.deepEqual(audit.map((e) => [e.type, e.details]), [['request.approval', { approvals: 1, required: 2 }]]);
    });
  });

  describe('deny, cancel and timeout', () => {
    it('denies with a reason and says so to a later approver', () => {
      const { next, audit } = step(created(), { type: 'deny', by: BOB, at: at(5), reason: 'not during the freeze' });
      assert.equal(next.state, 'denied');
      assert.deepEqual(next.denial, { by: BOB, at: at(5), reason: 'not during the freeze' });
      assert.deepEqual(audit[0].details, { reason: 'not during the freeze' });
      assert.deepEqual(refused(next, approve(CAROL, 6)), { code: 'conflict', message: 'already denied by Bob at 13:05 UTC' });
    });

    it('lets a second approver deny after a first approval', () => {
      const one = step(created('sql-01'), approve(BOB, 1)).next;
      assert.equal(step(one, { type: 'deny', by: CAROL, at: at(2) }).next.state, 'denied');
    });

    it('does not let the requester deny their own request', () => {
      assert.equal(refused(created(), { type: 'deny', by: ALICE, at: at(1) }).code, 'not_allowed');
    });

    it('cancels only for the requester and only while pending', () => {
      assert.deepEqual(refused(created(), { type: 'cancel', by: BOB, at: at(1) }), {
        code: 'not_allowed',
        message: 'only Alice, who asked for R4K7QX, can cancel it',
      });
      const { next, audit } = step(created(), { type: 'cancel', by: actorFor(alice, 'teams'), at: at(1) });
      assert.equal(next.state, 'cancelled');
      assert.deepEqual(next.cancelledAt, at(1));
      assert.deepEqual(audit.map((e) => e.type), ['request.cancelled']);
      assert.deepEqual(refused(next, approve(BOB, 2)), { code: 'conflict', message: 'this request was cancelled' });
      assert.deepEqual(refused(next, { type: 'cancel', by: ALICE, at: at(2) }), { code: 'conflict', message: 'this request was cancelled' });
      const approved = step(created(), approve(BOB, 1)).next;
      assert.deepEqual(refused(approved, { type: 'cancel', by: ALICE, at: at(2) }), {
        code: 'conflict',
        message: 'already approved by Bob at 13:01 UTC; only a pending request can be cancelled',
      });
    });

    it('times out only a pending request', () => {
      const { next, audit } = step(created(), { type: 'timeout', at: at(60) });
      assert.equal(next.state, 'timed-out');
      assert.equal(audit[0].type, 'request.timed-out');
      assert.equal(audit[0].actor, null);
      assert.equal(audit[0].platform, null);
      assert.deepEqual(refused(next, approve(BOB, 61)), { code: 'conflict', message: 'this request timed out waiting for approval' });
      assert.equal(refused(step(created(), approve(BOB, 1)).next, { type: 'timeout', at: at(60) }).code, 'conflict');
    });
  });

  describe('opening and closing', () => {
    it('becomes active when Azure accepted, with the clock starting then', () => {
      const { next, audit } = step(step(created(), approve(BOB, 5)).next, opened(6));
      assert.equal(next.state, 'active');
      assert.deepEqual(next.openedAt, at(6));
      assert.deepEqual(next.endsAt, at(66));
      assert.deepEqual(audit[0].details, { endsAt: at(66).toISOString(), ports: ['22/TCP'], source: '10.1.2.3' });
    });

    it('fails with Azure reason when the initiate failed', () => {
      const { next, audit } = step(step(created(), approve(BOB, 5)).next, { type: 'open-failed', at: at(6), reason: 'AuthorizationFailed' });
      assert.equal(next.state, 'failed');
      assert.equal(next.failure, 'AuthorizationFailed');
      assert.deepEqual(audit.map((e) => [e.type, e.details]), [['request.failed', { reason: 'AuthorizationFailed' }]]);
    });

    it('refuses opened and open-failed outside opening', () => {
      assert.equal(refused(created(), opened(1)).code, 'conflict');
      assert.equal(refused(created(), { type: 'open-failed', at: at(1), reason: 'x' }).code, 'conflict');
    });

    it('expires only while active', () => {
      const active = run(created(), approve(BOB, 1), opened(2));
      const { next, audit } = step(active, { type: 'expire', at: at(62) });
      assert.equal(next.state, 'expired');
      assert.deepEqual(next.closedAt, at(62));
      assert.equal(audit[0].type, 'request.expired');
      assert.equal(refused(next, { type: 'expire', at: at(63) }).code, 'conflict');
      assert.equal(refused(created(), { type: 'expire', at: at(63) }).code, 'conflict');
    });

    it('releases only while active, recording who released', () => {
      const active = run(created(), approve(BOB, 1), opened(2));
      const { next, audit } = step(active, { type: 'release', by: ALICE, at: at(10) });
      assert.equal(next.state, 'released');
      assert.equal(next.releasedBy, ALICE);
      assert.deepEqual(next.closedAt, at(10));
      assert.equal(audit[0].type, 'request.released');
      assert.deepEqual(refused(next, { type: 'release', by: ALICE, at: at(11) }), { code: 'conflict', message: 'R4K7QX is not open (released); there is nothing to release' });
      assert.equal(refused(created(), { type: 'release', by: ALICE, at: at(1) }).code, 'conflict');
      assert.equal(refused(step(created(), approve(BOB, 1)).next, { type: 'release', by: ALICE, at: at(1) }).message, 'R4K7QX is still opening; release it once it is open');
    });
  });

  describe('extensions', () => {
    const active = () => run(created(), approve(BOB, 1), opened(2));
    const ask = (by: Actor = ALICE, minutes = 30): LifecycleEvent => ({ type: 'extend-request', by, at: at(40), durationMinutes: minutes });

    it('asks for more time only by the requester, only while active, one at a time', () => {
      assert.equal(refused(active(), ask(BOB)).code, 'not_allowed');
      assert.equal(refused(created(), ask()).code, 'conflict');
      const { next, audit } = step(active(), ask());
      assert.deepEqual(next.extension, { durationMinutes: 30, requestedAt: at(40), approvals: [] });
      assert.deepEqual(audit.map((e) => e.type), ['extension.requested']);
      assert.deepEqual(refused(next, ask()), { code: 'conflict', message: 'an extension of +30m is already waiting for approval' });
    });

    it('refuses an extension length outside Azure limits', () => {
      assert.equal(refused(active(), ask(ALICE, 2)).code, 'bad_command');
      assert.equal(refused(active(), ask(ALICE, 25 * 60)).code, 'bad_command');
    });

    it('needs the same approvals as the request, from people other than the requester', () => {
      const waiting = step(active(), ask()).next;
      assert.deepEqual(refused(waiting, approve(ALICE, 41)), { code: 'not_allowed', message: "you can't approve your own extension" });
      const { next, audit } = step(waiting, approve(BOB, 41));
      assert.equal(next.state, 'active');
      assert.equal(next.extension?.opening, true);
      assert.deepEqual(next.approvals.map((a) => a.by.name), ['Bob'], 'the request approvals stay as they were');
      assert.deepEqual(audit.map((e) => e.type), ['extension.approval', 'extension.approved']);
      assert.deepEqual(refused(next, approve(CAROL, 42)), { code: 'conflict', message: 'the extension is already approved by Bob at 13:41 UTC' });
      assert.equal(refused(next, { type: 'deny', by: CAROL, at: at(42) }).code, 'conflict');
    });

    it('takes two distinct approvers for an extension under a two-approval rule', () => {
      const sqlActive = run(created('sql-01'), approve(BOB, 1), approve(CAROL, 2), opened(3));
      const one = step(step(sqlActive, ask()).next, approve(BOB, 41)).next;
      assert.equal(one.extension?.opening, undefined);
      assert.deepEqual(refused(one, approve(BOB_ON_TEAMS, 42)), { code: 'conflict', message: 'you already approved this extension' });
      assert.equal(step(one, approve(CAROL, 42)).next.extension?.opening, true);
    });

    it('moves the end time when Azure accepted the extension', () => {
      const approved = run(active(), ask(), approve(BOB, 41));
      const { next, audit } = step(approved, { type: 'extended', at: at(42), endsAt: at(92) });
      assert.deepEqual(next.endsAt, at(92));
      assert.equal(next.extension, undefined);
      assert.equal('extension' in next, false);
      assert.deepEqual(audit[0].details, { previousEndsAt: at(62).toISOString(), endsAt: at(92).toISOString(), durationMinutes: 30 });
    });

    it('keeps the old end time when Azure refused the extension', () => {
      const approved = run(active(), ask(), approve(BOB, 41));
      const { next, audit } = step(approved, { type: 'extend-failed', at: at(42), reason: 'Throttled' });
      assert.deepEqual(next.endsAt, at(62));
      assert.equal(next.extension, undefined);
      assert.equal(audit[0].type, 'extension.failed');
    });

    it('refuses extended and extend-failed without an approved extension', () => {
      assert.equal(refused(active(), { type: 'extended', at: at(42), endsAt: at(92) }).code, 'conflict');
      assert.equal(refused(step(active(), ask()).next, { type: 'extend-failed', at: at(42), reason: 'x' }).code, 'conflict');
    });

    it('drops the extension when denied and keeps the grant', () => {
      const { next, audit } = step(step(active(), ask()).next, { type: 'deny', by: BOB, at: at(41) });
      assert.equal(next.state, 'active');
      assert.equal(next.extension, undefined);
      assert.deepEqual(audit.map((e) => e.type), ['extension.denied']);
    });

    it('approves the extension of an automatically approved request automatically', () => {
      const policy = policyWith([{ ...webRule, autoApprove: true }]);
      const auto = run(created('web-01', policy), opened(1));
      const { next, audit } = step(auto, ask());
      assert.equal(next.extension?.opening, true);
      assert.deepEqual(audit.map((e) => e.type), ['extension.requested', 'extension.approved']);
    });

    it('lets the caller decide automatic approval of an extension', () => {
      const { next } = step(active(), { type: 'extend-request', by: ALICE, at: at(40), durationMinutes: 30, autoApprove: true });
      assert.equal(next.extension?.opening, true);
    });

    it('drops a waiting extension when the grant expires or is released', () => {
      const waiting = step(active(), ask()).next;
      const expired = step(waiting, { type: 'expire', at: at(62) });
      assert.equal(expired.next.extension, undefined);
      assert.equal(expired.audit[0].details.droppedExtensionMinutes, 30);
      assert.equal(step(waiting, { type: 'release', by: ALICE, at: at(50) }).next.extension, undefined);
    });
  });

  it('never changes the request it is given', () => {
    const r = created('sql-01');
    const snapshot = structuredClone(r);
    frozen(r);
    transition(r, approve(BOB, 1));
    transition(r, { type: 'deny', by: BOB, at: at(1) });
    assert.deepEqual(r, snapshot);
  });

  it('fills every audit event with the request id, the VM names and the actor platform', () => {
    const { audit } = step(created(), approve(BOB_ON_TEAMS, 1));
    for (const e of audit) {
      assert.equal(e.requestId, 'R4K7QX');
      assert.deepEqual(e.vmNames, ['web-01']);
      assert.equal(e.platform, 'teams');
      assert.deepEqual(e.at, at(1));
    }
  });
});

describe('escalate', () => {
  const DAVE = [{ name: 'Dave', email: 'dave@example.com' }];
  const escalate = (minutes: number): LifecycleEvent => ({ type: 'escalate', at: at(minutes), to: DAVE, phase: 'request' });

  it('records who was asked and how long the request waited, once', () => {
    const { next, audit } = step(created(), escalate(20));
    assert.deepEqual(next.escalation, { at: at(20), to: DAVE });
    assert.equal(next.state, 'pending');
    assert.deepEqual(audit.map((e) => [e.type, e.details]), [['request.escalated', { to: ['dave@example.com'], approvals: 0, required: 1, waitedMinutes: 20 }]]);
    assert.deepEqual(refused(next, escalate(21)), { code: 'conflict', message: 'R4K7QX was already escalated' });
  });

  it('does not escalate a request that was decided, withdrawn or timed out', () => {
    assert.equal(refused(run(created(), approve(BOB, 5)), escalate(20)).code, 'conflict');
    assert.equal(refused(run(created(), { type: 'cancel', by: ALICE, at: at(5) }), escalate(20)).code, 'conflict');
    assert.equal(refused(run(created(), { type: 'timeout', at: at(60) }), escalate(61)).code, 'conflict');
  });

  it('escalates only the extension it was scheduled for, and keeps nothing of it once decided', () => {
    const active = run(created(), approve(BOB, 1), opened(2), { type: 'extend-request', by: ALICE, at: at(10), durationMinutes: 30 });
    assert.equal(refused(active, { type: 'escalate', at: at(30), to: DAVE, phase: 'extension', askedAt: at(9) }).code, 'conflict');
    const { next, audit } = step(active, { type: 'escalate', at: at(30), to: DAVE, phase: 'extension', askedAt: at(10) });
    assert.deepEqual(next.extension?.escalation, { at: at(30), to: DAVE });
    assert.equal(next.escalation, undefined);
    assert.deepEqual(audit.map((e) => e.type), ['extension.escalated']);
    const denied = step(next, { type: 'deny', by: BOB, at: at(31) }).next;
    assert.equal(denied.extension, undefined);
  });
});

describe('decidedMessage', () => {
  it('says who decided and when, in UTC, with the date when it is another day', () => {
    const approved = step(created(), approve(BOB, 5)).next;
    assert.equal(decidedMessage(approved, at(10)), 'already approved by Bob at 13:05 UTC');
    assert.equal(decidedMessage(approved, new Date('2025-03-05T09:00:00Z')), 'already approved by Bob at 2025-03-04 13:05 UTC');
  });

  it('describes a request still waiting', () => {
    assert.equal(decidedMessage(created('sql-01'), T0), 'this request is still waiting for approval (0 of 2)');
  });

  it('names all approvers', () => {
    const r = { ...created('sql-01'), state: 'expired' as const, approvals: [{ by: actorFor(dave), at: at(1) }, { by: BOB, at: at(2) }, { by: CAROL, at: at(3) }] };
    assert.equal(decidedMessage(r, at(4)), 'already approved by Dave, Bob and Carol at 13:03 UTC');
  });
});
