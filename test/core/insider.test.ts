// The access rules against a determined insider (issue 12): extensions that would stretch a rule,
// sources so wide they mean "anywhere", look-alike emails, and answers that would name VMs or show
// requests to people outside them. Pure core: the policy, the VMs and the request are passed in.
import assert from 'node:assert/strict';
import { evaluateRequest, extensionTerms, findPerson, isPartOf, maySeeVm } from '../../src/core/access';
import { addressCount, describeAddressCount, isWiderThan } from '../../src/core/cidr';
import { normalizeEmail, sameEmail } from '../../src/core/email';
import { createRequest, transition } from '../../src/core/lifecycle';
import type { AccessPolicy } from '../../src/core/policy';
import type { AccessRequest } from '../../src/core/types';
import { requestView } from '../../src/core/views';
import { configFromDocument } from '../../src/config/file';
import { actorFor, alice, allVms, bob, carol, dave, policyWith, port, request, rule, sqlRule, vm, webRule } from './fixtures';

const T0 = new Date('2025-03-04T13:00:00Z');
const MIN = 60_000;

/** An open grant of `minutes` under the policy's rule for web-01, opened at T0. */
function openGrant(policy: AccessPolicy, minutes: number, source = '10.1.2.3'): AccessRequest {
  const e = evaluateRequest({ policy, person: alice, command: request({ durationMinutes: minutes, source }), vms: allVms });
  assert.ok(e.ok, e.ok ? '' : e.error.message);
  let r = createRequest({ id: 'RINSID', draft: e.draft, requester: actorFor(alice), now: T0 }).request;
  if (r.state === 'pending') {
    const approved = transition(r, { type: 'approve', by: actorFor(bob), at: T0 });
    assert.ok(approved.ok);
    r = approved.next;
  }
  const opened = transition(r, { type: 'opened', at: T0, endsAt: new Date(T0.getTime() + minutes * MIN) });
  assert.ok(opened.ok);
  return opened.next;
}

describe('an insider against the access rules', () => {
  describe('extensions cannot stretch a rule', () => {
    const auto = policyWith([rule({ name: 'web', vms: { names: ['web-*'] }, autoApprove: true, maxDurationMinutes: 60 }), sqlRule]);

    it('refuses 2h under an automatic rule with a 1h maximum, as before', () => {
      const e = evaluateRequest({ policy: auto, person: alice, command: request({ durationMinutes: 120, source: '10.1.2.3' }), vms: allVms });
      assert.ok(!e.ok);
      assert.match(e.error.message, /longer than the 1h maximum of rule web/);
    });

    it('approves an extension automatically only while the total stays within the rule maximum', () => {
      const grant = openGrant(auto, 30);
      const within = extensionTerms({ policy: auto, request: grant, minutes: 30, vms: allVms });
      assert.deepEqual(within, { ok: true, autoApprove: true, totalMinutes: 60 });
    });

    it('sends 1h then extend 2h to the approvers like a new request, never automatically', () => {
      const grant = openGrant(auto, 60);
      const terms = extensionTerms({ policy: auto, request: grant, minutes: 120, vms: allVms });
      assert.deepEqual(terms, { ok: true, autoApprove: false, totalMinutes: 180 });
      const asked = transition(grant, { type: 'extend-request', by: actorFor(alice), at: T0, durationMinutes: 120, autoApprove: terms.ok && terms.autoApprove });
      assert.ok(asked.ok);
      assert.equal(asked.next.extension?.opening, undefined, 'the extension waits for an approver');
      assert.ok(!asked.audit.some((a) => a.type === 'extension.approved'));
    });

    it('uses the smallest port maximum as the one-request limit when the rule sets none', () => {
      const noMax = policyWith([rule({ name: 'web', vms: { names: ['web-*'] }, autoApprove: true }), sqlRule]);
      const grant = openGrant(noMax, 180);
      const terms = extensionTerms({ policy: noMax, request: grant, minutes: 60, vms: allVms });
      assert.ok(terms.ok && !terms.autoApprove, 'web-01 allows 3h per request; 4h in total needs approval');
    });

    it('refuses an extension past maxTotal, whoever would approve it, and says how much is left', () => {
      const capped = policyWith([rule({ name: 'web', vms: { names: ['web-*'] }, maxDurationMinutes: 60, maxTotalMinutes: 120 }), sqlRule]);
      const grant = openGrant(capped, 60);
      const terms = extensionTerms({ policy: capped, request: grant, minutes: 90, vms: allVms });
      assert.ok(!terms.ok);
      assert.equal(terms.error.message, 'extending RINSID by 1h30m would keep it open 2h30m in total, over the 2h maximum of rule web; ask for at most 1h');
      assert.ok(extensionTerms({ policy: capped, request: grant, minutes: 60, vms: allVms }).ok);
    });

    it('refuses an extension past the maximum when the automatic rule names nobody who could approve it', () => {
      const lonely = policyWith([rule({ name: 'web', vms: { names: ['web-*'] }, autoApprove: true, approvers: [], maxDurationMinutes: 60 }), sqlRule]);
      const grant = openGrant(lonely, 60);
      const terms = extensionTerms({ policy: lonely, request: grant, minutes: 60, vms: allVms });
      assert.ok(!terms.ok);
      assert.match(terms.error.message, /^extending RINSID past 1h in total needs 1 approval under rule web, and only 0 other people may approve$/);
    });
  });

  describe('source breadth', () => {
    const wide = ['0.0.0.0/1', '128.0.0.0/1', '::/1', '8000::/1', '10.0.0.0/15', '2001:db8::/47', '*', '0.0.0.0/0'];
    const narrow = ['10.1.0.0/16', '10.1.2.3', '2001:db8:1::/48', '2001:db8::1'];

    for (const source of wide) {
      it(`counts ${source} as any source`, () => assert.equal(isWiderThan(source), true));
    }
    for (const source of narrow) {
      it(`does not count ${source} as any source`, () => assert.equal(isWiderThan(source), false));
    }

    it('counts the addresses a source covers', () => {
      assert.equal(addressCount('10.1.2.3'), 1n);
      assert.equal(addressCount('10.1.0.0/16'), 65_536n);
      assert.equal(addressCount('::/1'), 1n << 127n);
      assert.equal(addressCount('*'), null);
      assert.equal(describeAddressCount('0.0.0.0/1'), '2,147,483,648 addresses');
      assert.equal(describeAddressCount('2001:db8::/64'), '2^64 addresses');
      assert.equal(describeAddressCount('*'), 'every address');
    });

    const anyPorts = vm('edge-01', 'rg-edge', [port(22, ['*']), port(443, ['*'])]);
    const edgeRule = rule({ name: 'edge', vms: { names: ['edge-*'] } });
    for (const source of ['0.0.0.0/1', '128.0.0.0/1', '::/1', '8000::/1']) {
      it(`refuses from ${source} without allowAnySource, and sends it with it`, () => {
        const command = request({ vms: ['edge-01'], source });
        const refused = evaluateRequest({ policy: policyWith([edgeRule]), person: alice, command, vms: [anyPorts] });
        assert.ok(!refused.ok);
        assert.match(refused.error.message, /^rule edge does not open ports to any source \(.+ counts as any\); name your address with from <ip>, or use from me$/);
        const allowed = evaluateRequest({ policy: policyWith([{ ...edgeRule, allowAnySource: true }]), person: alice, command, vms: [anyPorts] });
        assert.ok(allowed.ok);
      });
    }

    it('lets a rule set its own limit', () => {
      const strict = policyWith([{ ...edgeRule, sourceLimits: { ipv4: 24, ipv6: 64 } }]);
      const at = (source: string) => evaluateRequest({ policy: strict, person: alice, command: request({ vms: ['edge-01'], source }), vms: [anyPorts] }).ok;
      assert.equal(at('10.1.0.0/16'), false);
      assert.equal(at('10.1.2.0/24'), true);
      assert.equal(at('2001:db8:1::/48'), false);
      assert.equal(at('2001:db8:1:2::/64'), true);
    });

    it('shows the approver how many addresses the source covers and flags a wide one', () => {
      const narrowView = requestView(openGrant(basePolicyWithAny(), 60, '10.1.2.0/24'), T0);
      assert.equal(narrowView.sourceSize, '256 addresses');
      assert.equal(narrowView.sourceWide, false);
      const wideView = requestView(openGrant(basePolicyWithAny(), 60, '10.0.0.0/8'), T0);
      assert.equal(wideView.sourceSize, '16,777,216 addresses');
      assert.equal(wideView.sourceWide, true);
    });

    it('reads widestSource from the rule file and refuses a limit out of range', () => {
      const doc = (widestSource: unknown) => ({
        people: [{ email: 'a@example.com', name: 'A' }],
        rules: [{ name: 'r', vms: { names: ['x'] }, requesters: ['*'], approvers: ['*'], widestSource, maxTotal: 'PT8H', max: 'PT1H' }],
      });
      const rule0 = configFromDocument(doc({ ipv4: 24 })).policy.rules[0];
      assert.deepEqual(rule0.sourceLimits, { ipv4: 24, ipv6: 48 });
      assert.equal(rule0.maxTotalMinutes, 480);
      assert.throws(() => configFromDocument(doc({ ipv4: 40 })), /rules\[0\]\.widestSource\.ipv4: must be 0 to 32/);
    });
  });

  describe('emails', () => {
    it('folds case and keeps plain ASCII addresses', () => {
      assert.equal(normalizeEmail('  Kate@Example.COM '), 'kate@example.com');
      assert.ok(sameEmail('KATE@example.com', 'kate@EXAMPLE.com'));
    });

    // NFKC maps the Kelvin sign onto K, so normalising alone would make the look-alike Kate. Mail
    // systems refuse it, and so does the bot: an address NFKC changes names nobody.
    it('refuses the Kelvin-sign look-alike instead of folding it onto kate@', () => {
      assert.equal(normalizeEmail('\u212Aate@example.com'), null);
      assert.equal(sameEmail('\u212Aate@example.com', 'kate@example.com'), false);
      const kate = { email: 'kate@example.com', name: 'Kate', groups: ['sre'] };
      assert.equal(findPerson(policyWith([webRule], [kate]), '\u212Aate@example.com'), null);
      assert.equal(findPerson(policyWith([webRule], [kate]), 'KATE@example.com'), kate);
    });

    it('refuses full-width, accented and invisible characters', () => {
      for (const text of ['ｋａｔｅ@example.com', 'kâte@example.com', 'ka\u200Bte@example.com', 'kate@exаmple.com', 'not-an-address']) {
        assert.equal(normalizeEmail(text), null, JSON.stringify(text));
      }
    });

    it('refuses a look-alike address in the rule file', () => {
      assert.throws(
        () => configFromDocument({ people: [{ email: '\u212Aate@example.com', name: 'K' }] }),
        /people\[0\]\.email: must be an email address in plain ASCII/,
      );
    });
  });

  describe('who sees what', () => {
    const policy = policyWith([webRule, sqlRule]);

    it('lets requesters, approvers and admins see a VM, and nobody else', () => {
      assert.equal(maySeeVm(policy, alice, allVms[0]), true);
      assert.equal(maySeeVm(policy, bob, allVms[0]), true);
      assert.equal(maySeeVm(policy, carol, allVms[3]), true, 'Carol is an admin');
      assert.equal(maySeeVm(policy, dave, allVms[0]), false);
      assert.equal(maySeeVm(policy, null, allVms[0]), false);
    });

    it('counts the requester, the approvers and admins as part of a request, and nobody else', () => {
      const r = openGrant(policy, 60);
      assert.equal(isPartOf(policy, alice, r), true);
      assert.equal(isPartOf(policy, bob, r), true);
      assert.equal(isPartOf(policy, carol, r), true);
      assert.equal(isPartOf(policy, dave, r), false);
      assert.equal(isPartOf(policy, null, r), false);
    });
  });
});

function basePolicyWithAny(): AccessPolicy {
  return policyWith([{ ...webRule, allowAnySource: true }, sqlRule]);
}
