// The access rules of examples/local.yaml, the file local mode starts with, read the way the app reads
// it and checked person by person against the VMs of its simulated subscription.
import assert from 'node:assert/strict';
import path from 'node:path';
import { canDecide, evaluateRequest, extensionTerms, findPerson, isPartOf, maySeeVm, requestableVms } from '../../src/core/access';
import type { RequestCommand } from '../../src/core/command';
import { parseCommand } from '../../src/core/grammar';
import { createRequest, transition } from '../../src/core/lifecycle';
import type { AccessPolicy, Person } from '../../src/core/policy';
import type { AccessRequest, Actor, Vm } from '../../src/core/types';
import { loadConfigFile } from '../../src/config/file';

const { policy, world } = loadConfigFile(path.join(__dirname, '../../examples/local.yaml'));
const vms: Vm[] = (world?.vms ?? []).map((v) => ({
  id: `/subscriptions/${world!.subscriptionId}/resourceGroups/${v.resourceGroup}/providers/Microsoft.Compute/virtualMachines/${v.name}`,
  name: v.name,
  resourceGroup: v.resourceGroup,
  location: v.location,
  os: v.os,
  tags: v.tags,
  jit: v.jit,
}));

const T0 = new Date('2025-03-04T13:00:00Z');

function person(name: string): Person {
  const p = policy.people.find((x) => x.name.toLowerCase() === name);
  assert.ok(p, `${name} is in examples/local.yaml`);
  return p;
}

function actor(name: string, platform: Actor['platform'] = 'slack'): Actor {
  const p = person(name);
  return { platform, userId: `${platform}-${name}`, email: p.email, name: p.name };
}

function command(text: string): RequestCommand {
  const parsed = parseCommand(text);
  assert.ok(parsed.ok && parsed.command.kind === 'request', `${text}: ${JSON.stringify(parsed)}`);
  return parsed.command;
}

function evaluate(name: string, text: string, p: AccessPolicy = policy) {
  return evaluateRequest({ policy: p, person: findPerson(p, person(name).email), command: command(text), vms });
}

function requested(name: string, text: string): AccessRequest {
  const r = evaluate(name, text);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return createRequest({ id: 'RMATRIX', draft: r.draft, requester: actor(name), now: T0 }).request;
}

describe('the authorization matrix of examples/local.yaml', () => {
  it('has the people, rules and VMs the matrix relies on', () => {
    assert.deepEqual(policy.people.map((p) => p.name), ['Alice', 'Bob', 'Carol', 'Dave']);
    assert.deepEqual(policy.rules.map((r) => r.name), ['web', 'sql']);
    assert.deepEqual(vms.map((v) => v.name), ['web-01', 'web-02', 'sql-01', 'build-01', 'web-fw-01']);
  });

  describe('who may request what', () => {
    const matrix: Array<[string, string[]]> = [
      ['alice', ['web-01', 'web-02', 'sql-01', 'web-fw-01']],
      ['bob', ['web-01', 'web-02', 'sql-01', 'web-fw-01']],
      ['carol', ['web-01', 'web-02', 'sql-01', 'web-fw-01']],
      ['dave', []],
    ];
    for (const [name, expected] of matrix) {
      it(`${name} may request ${expected.length ? expected.join(', ') : 'nothing'}`, () => {
        assert.deepEqual(requestableVms(policy, person(name), vms).map((v) => v.name), expected);
      });
    }

    it('dave cannot request web-01', () => {
      const r = evaluate('dave', 'ssh web-01 1h');
      assert.ok(!r.ok);
      assert.equal(r.error.code, 'not_allowed');
      assert.equal(r.error.message, 'you may not request web-01 (rule web: requesters are group:dev, group:sre)');
    });

    it('nobody can request build-01, which no rule covers and which is not under JIT', () => {
      const r = evaluate('carol', 'ssh build-01 1h');
      assert.ok(!r.ok);
      assert.equal(r.error.message, 'you may not request build-01: no access rule covers it');
    });

    it('someone outside the file is told to ask an admin', () => {
      const r = evaluateRequest({ policy, person: findPerson(policy, 'eve@example.com'), command: command('ssh web-01 1h'), vms });
      assert.ok(!r.ok);
      assert.equal(r.error.code, 'unknown_person');
    });
  });

  describe('what the JIT policies allow', () => {
    it('takes 10.0.0.0/8 as the source for web-01 when none is given', () => {
      const r = evaluate('alice', 'ssh web-01 1h');
      assert.ok(r.ok);
      assert.equal(r.draft.source, '10.0.0.0/8');
      assert.deepEqual(r.draft.ports, [{ number: 22, protocol: 'TCP' }]);
    });

    it('refuses a source outside 10.0.0.0/8 for web-01', () => {
      const r = evaluate('alice', 'ssh web-01 1h from 203.0.113.7');
      assert.ok(!r.ok);
      assert.equal(r.error.code, 'policy');
      assert.equal(r.error.message, '203.0.113.7 is not inside the allowed sources for port 22 on web-01 (10.0.0.0/8)');
    });

    it('refuses 4h on a PT3H port, naming the maximum', () => {
      const r = evaluate('alice', 'ssh web-01 4h');
      assert.ok(!r.ok);
      assert.equal(r.error.message, '4h is longer than the 3h maximum for port 22 on web-01');
    });

    it('refuses 2h on the PT1H WinRM port of sql-01', () => {
      const r = evaluate('alice', 'winrm-https sql-01 2h from 203.0.113.7');
      assert.ok(!r.ok);
      assert.equal(r.error.message, '2h is longer than the 1h maximum for port 5986 on sql-01');
    });

    it('takes no source on sql-01, whose ports allow any, to mean from me', () => {
      const r = evaluate('alice', 'rdp sql-01 1h');
      assert.ok(r.ok);
      assert.equal(r.draft.source, 'me');
    });

    it('refuses ssh on sql-01, which only has RDP and WinRM under JIT', () => {
      const r = evaluate('alice', 'ssh sql-01 1h from 203.0.113.7');
      assert.ok(!r.ok);
      assert.equal(r.error.message, 'port 22 is not under JIT on sql-01; it allows 3389, 5986/TCP');
    });

    it('refuses web-01 and sql-01 in one request', () => {
      const r = evaluate('alice', 'ssh web-01,sql-01 1h');
      assert.ok(!r.ok);
      assert.match(r.error.message, /request them separately$/);
    });
  });

  describe('who may decide', () => {
    it('alice cannot approve', () => {
      const r = requested('bob', 'ssh web-01 1h');
      assert.deepEqual(canDecide(policy, person('alice'), r), { ok: false, reason: "you can't approve this request: only group:sre may approve under rule web" });
      assert.deepEqual(canDecide(policy, person('dave'), r), { ok: false, reason: "you can't approve this request: only group:sre may approve under rule web" });
    });

    it('bob cannot approve his own request, and carol can', () => {
      const r = requested('bob', 'ssh web-01 1h');
      assert.deepEqual(canDecide(policy, person('bob'), r), { ok: false, reason: "you can't approve your own request" });
      const own = transition(r, { type: 'approve', by: actor('bob', 'teams'), at: T0 });
      assert.ok(!own.ok);
      assert.deepEqual(canDecide(policy, person('carol'), r), { ok: true });
    });

    it('bob can approve alice on web-01, and web-01 opens after that one approval', () => {
      const r = requested('alice', 'ssh web-01 1h for INC-4711');
      assert.deepEqual(canDecide(policy, person('bob'), r), { ok: true });
      const approved = transition(r, { type: 'approve', by: actor('bob'), at: T0 });
      assert.ok(approved.ok);
      assert.equal(approved.next.state, 'opening');
    });

    it('sql-01 stays pending after one approval and opens after a second, distinct approver', () => {
      const r = requested('alice', 'rdp sql-01 1h from 203.0.113.7');
      assert.equal(r.requiredApprovals, 2);
      const first = transition(r, { type: 'approve', by: actor('bob', 'slack'), at: T0 });
      assert.ok(first.ok);
      assert.equal(first.next.state, 'pending');

      assert.deepEqual(canDecide(policy, person('bob'), first.next), { ok: false, reason: 'you already approved this request' });
      const again = transition(first.next, { type: 'approve', by: actor('bob', 'teams'), at: T0 });
      assert.ok(!again.ok);
      assert.equal(first.next.state, 'pending');

      assert.deepEqual(canDecide(policy, person('carol'), first.next), { ok: true });
      const second = transition(first.next, { type: 'approve', by: actor('carol', 'teams'), at: T0 });
      assert.ok(second.ok);
      assert.equal(second.next.state, 'opening');
    });

    it('bob cannot request sql-01 himself: carol is the only other approver and the rule needs two', () => {
      const r = evaluate('bob', 'rdp sql-01 1h from 203.0.113.7');
      assert.ok(!r.ok);
      assert.equal(r.error.code, 'config');
    });
  });

  describe('against an insider (issue 12)', () => {
    const seeing: Array<[string, string[]]> = [
      ['alice', ['web-01', 'web-02', 'sql-01', 'web-fw-01']],
      ['bob', ['web-01', 'web-02', 'sql-01', 'web-fw-01']],
      ['carol', ['web-01', 'web-02', 'sql-01', 'build-01', 'web-fw-01']],
      ['dave', []],
    ];
    for (const [name, expected] of seeing) {
      it(`${name} may see the grants on ${expected.length ? expected.join(', ') : 'no VM'}`, () => {
        assert.deepEqual(vms.filter((vm) => maySeeVm(policy, person(name), vm)).map((v) => v.name), expected);
      });
    }

    for (const source of ['0.0.0.0/1', '128.0.0.0/1', '::/1', '8000::/1']) {
      it(`alice cannot open sql-01 from ${source}: rule sql does not allow any source`, () => {
        const r = evaluate('alice', `rdp sql-01 1h from ${source}`);
        assert.ok(!r.ok);
        assert.match(r.error.message, /^rule sql does not open ports to any source/);
      });
    }

    it('dave is part of no request, and alice, bob and carol are part of alice\'s', () => {
      const r = requested('alice', 'ssh web-01 1h from 10.1.2.3');
      assert.deepEqual(['alice', 'bob', 'carol', 'dave'].map((n) => isPartOf(policy, person(n), r)), [true, true, true, false]);
    });

    it('an extension past the rule maximum goes to the approvers even under an automatic rule', () => {
      const auto: AccessPolicy = { ...policy, rules: policy.rules.map((r) => (r.name === 'web' ? { ...r, autoApprove: true, maxDurationMinutes: 60 } : r)) };
      const e = evaluateRequest({ policy: auto, person: person('alice'), command: command('ssh web-01 1h from 10.1.2.3'), vms });
      assert.ok(e.ok);
      const created = createRequest({ id: 'RAUTO1', draft: e.draft, requester: actor('alice'), now: T0 }).request;
      const open = transition(created, { type: 'opened', at: T0, endsAt: new Date(T0.getTime() + 3_600_000) });
      assert.ok(open.ok);
      const terms = extensionTerms({ policy: auto, request: open.next, minutes: 120, vms });
      assert.ok(terms.ok && terms.autoApprove === false);
    });
  });
});
