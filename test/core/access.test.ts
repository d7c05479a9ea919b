import assert from 'node:assert/strict';
import {
  approversFor,
  canDecide,
  escalationTargets,
  isPartOf,
  evaluateRequest,
  findPerson,
  hasPrincipal,
  isAdmin,
  requestableVms,
  resolveVmNames,
  ruleForVm,
  type RequestDraft,
} from '../../src/core/access';
import { createRequest, transition } from '../../src/core/lifecycle';
import { FROM_ME } from '../../src/core/cidr';
import type { AccessPolicy, Person } from '../../src/core/policy';
import type { AccessRequest, Vm } from '../../src/core/types';
import {
  actorFor,
  alice,
  allVms,
  basePolicy,
  bob,
  build01,
  carol,
  dave,
  policyWith,
  port,
  request,
  rule,
  sql01,
  sqlRule,
  vm,
  web01,
  web02,
  webRule,
} from './fixtures';

function evaluate(cmd = request(), opts: { policy?: AccessPolicy; person?: Person | null; vms?: Vm[] } = {}) {
  return evaluateRequest({ policy: opts.policy ?? basePolicy, person: opts.person === undefined ? alice : opts.person, command: cmd, vms: opts.vms ?? allVms });
}

function refusal(r: ReturnType<typeof evaluate>): { code: string; message: string } {
  assert.ok(!r.ok, `expected a refusal, got ${JSON.stringify(r)}`);
  return { code: r.error.code, message: r.error.message };
}

function drafted(r: ReturnType<typeof evaluate>): RequestDraft {
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.draft;
}

describe('findPerson', () => {
  it('finds people by email without regard to case or spaces', () => {
    assert.equal(findPerson(basePolicy, ' Alice@Example.COM '), alice);
  });

  it('finds nobody for an unknown or missing email', () => {
    assert.equal(findPerson(basePolicy, 'eve@example.com'), null);
    assert.equal(findPerson(basePolicy, null), null);
  });
});

describe('hasPrincipal', () => {
  it('reads *, group:<name> and emails', () => {
    assert.equal(hasPrincipal(dave, ['*']), true);
    assert.equal(hasPrincipal(bob, ['group:sre']), true);
    assert.equal(hasPrincipal(bob, ['group:SRE']), true);
    assert.equal(hasPrincipal(alice, ['group:sre']), false);
    assert.equal(hasPrincipal(alice, ['ALICE@example.com']), true);
    assert.equal(hasPrincipal(alice, []), false);
  });

  it('does not take a group name for an email or the other way round', () => {
    assert.equal(hasPrincipal(alice, ['dev']), false);
    assert.equal(hasPrincipal(alice, ['group:alice@example.com']), false);
  });
});

describe('isAdmin', () => {
  it('follows the admins principals', () => {
    assert.equal(isAdmin(basePolicy, carol), true);
    assert.equal(isAdmin(basePolicy, bob), false);
    assert.equal(isAdmin(basePolicy, null), false);
  });
});

describe('ruleForVm', () => {
  it('takes the first rule that matches, as a firewall does', () => {
    const policy = policyWith([rule({ name: 'first', vms: { names: ['web-01'] } }), rule({ name: 'second', vms: { names: ['web-*'] } })]);
    assert.equal(ruleForVm(policy, web01)?.name, 'first');
    assert.equal(ruleForVm(policy, web02)?.name, 'second');
  });

  it('needs every given criterion to match', () => {
    const tagged = vm('app-01', 'rg-app', [], { tags: { Env: 'prod', team: 'pay' } });
    const policy = policyWith([
      rule({ name: 'names-and-rg', vms: { names: ['app-*'], resourceGroups: ['rg-other'] } }),
      rule({ name: 'tags', vms: { resourceGroups: ['RG-APP'], tags: { env: 'prod' } } }),
    ]);
    assert.equal(ruleForVm(policy, tagged)?.name, 'tags');
    assert.equal(ruleForVm(policyWith([rule({ name: 't', vms: { tags: { env: 'PROD' } } })]), tagged), null, 'tag values keep their case');
  });

  it('lets an empty selector match nothing', () => {
    assert.equal(ruleForVm(policyWith([rule({ name: 'empty', vms: {} })]), web01), null);
    assert.equal(ruleForVm(policyWith([rule({ name: 'no-names', vms: { names: [] } })]), web01), null);
    assert.equal(ruleForVm(policyWith([rule({ name: 'no-tags', vms: { tags: {} } })]), web01), null);
  });

  it('finds no rule for a VM no rule covers', () => {
    assert.equal(ruleForVm(basePolicy, build01), null);
  });
});

describe('requestableVms', () => {
  it('lists VMs under JIT whose rule lets the person request', () => {
    assert.deepEqual(requestableVms(basePolicy, alice, allVms).map((v) => v.name), ['web-01', 'web-02', 'sql-01']);
    assert.deepEqual(requestableVms(basePolicy, dave, allVms), []);
    assert.deepEqual(requestableVms(basePolicy, null, allVms), []);
  });
});

describe('resolveVmNames', () => {
  const twin = vm('web-01', 'rg-other', [port(22, ['*'])]);

  it('resolves exact names, rg/name and globs, without duplicates', () => {
    const r = resolveVmNames(['WEB-01', 'rg-web/web-02', 'web-*'], allVms);
    assert.ok(r.ok);
    assert.deepEqual(r.vms.map((v) => v.name), ['web-01', 'web-02']);
  });

  it('suggests the closest name for a typo', () => {
    const r = resolveVmNames(['web-1'], allVms);
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'not_found');
    assert.equal(r.error.message, '"web-1" is not a VM you can request; did you mean web-01?');
  });

  it('points to the VM list when nothing is close', () => {
    const r = resolveVmNames(['database'], allVms);
    assert.ok(!r.ok);
    assert.equal(r.error.message, '"database" is not a VM you can request; see /jit vms for the list');
  });

  it('refuses a glob that matches nothing', () => {
    const r = resolveVmNames(['db-*'], allVms);
    assert.ok(!r.ok);
    assert.equal(r.error.message, '"db-*" matches no VM you can request; see /jit vms for the list');
  });

  it('refuses a name that is in two resource groups, listing both', () => {
    const r = resolveVmNames(['web-01'], [...allVms, twin]);
    assert.ok(!r.ok);
    assert.equal(r.error.message, '"web-01" is in more than one resource group (rg-web/web-01, rg-other/web-01); name one of them');
    const chosen = resolveVmNames(['rg-other/web-01'], [...allVms, twin]);
    assert.ok(chosen.ok);
    assert.deepEqual(chosen.vms, [twin]);
  });

  it('lets a glob cover the same name in two resource groups', () => {
    const r = resolveVmNames(['web-0*'], [...allVms, twin]);
    assert.ok(r.ok);
    assert.equal(r.vms.length, 3);
  });
});

describe('evaluateRequest', () => {
  it('drafts a request with the policy protocol and the only allowed prefix as source', () => {
    const d = drafted(evaluate(request({ reason: 'INC-1' })));
    assert.deepEqual(d.vms, [web01]);
    assert.deepEqual(d.ports, [{ number: 22, protocol: 'TCP' }]);
    assert.equal(d.source, '10.0.0.0/8');
    assert.equal(d.durationMinutes, 60);
    assert.equal(d.reason, 'INC-1');
    assert.equal(d.rule, webRule);
    assert.equal(d.requiredApprovals, 1);
    assert.equal(d.autoApprove, false);
  });

  it('defaults the reason to empty', () => {
    assert.equal(drafted(evaluate()).reason, '');
  });

  it('refuses a person who is not in the config', () => {
    assert.deepEqual(refusal(evaluate(request(), { person: null })), {
      code: 'unknown_person',
      message: "you are not in jitbot's access list; ask an admin",
    });
  });

  it('refuses a VM the person may not request, naming the rule and its requesters', () => {
    assert.deepEqual(refusal(evaluate(request(), { person: dave })), {
      code: 'not_allowed',
      message: 'you may not request web-01 (rule web: requesters are group:dev, group:sre)',
    });
  });

  it('refuses a VM that no rule covers', () => {
    assert.deepEqual(refusal(evaluate(request({ vms: ['build-01'] }))), {
      code: 'not_allowed',
      message: 'you may not request build-01: no access rule covers it',
    });
  });

  it('suggests only VMs the person may request', () => {
    const policy = policyWith([webRule, rule({ name: 'secret', vms: { names: ['vault-01'] }, requesters: ['group:sre'] })]);
    const vault = vm('vault-01', 'rg-sec', [port(22, ['*'])]);
    assert.equal(refusal(evaluate(request({ vms: ['vault-1'] }), { policy, vms: [web01, vault] })).message, '"vault-1" is not a VM you can request; see /jit vms for the list');
    assert.equal(refusal(evaluate(request({ vms: ['web-1'] }), { policy, vms: [web01, vault] })).message, '"web-1" is not a VM you can request; did you mean web-01?');
  });

  it('suggests /jit enable for a VM without JIT', () => {
    const policy = policyWith([rule({ name: 'ci', vms: { resourceGroups: ['rg-ci'] } })]);
    assert.deepEqual(refusal(evaluate(request({ vms: ['build-01'] }), { policy })), {
      code: 'policy',
      message: 'build-01 is not under JIT; an admin can put it there with /jit enable build-01',
    });
  });

  it('narrows a glob to the VMs the person may request', () => {
    const policy = policyWith([
      rule({ name: 'web', vms: { names: ['web-01'] } }),
      rule({ name: 'other', vms: { names: ['web-02'] }, requesters: ['group:sre'] }),
    ]);
    assert.deepEqual(drafted(evaluate(request({ vms: ['web-*'] }), { policy })).vms, [web01]);
  });

  it('answers a glob that matches only VMs the person may not see without naming any of them', () => {
    const message = refusal(evaluate(request({ vms: ['web-*'] }), { person: dave })).message;
    assert.equal(message, '"web-*" matches no VM you can request; see /jit vms for the list');
    assert.doesNotMatch(message, /web-0\d/);
  });

  it('asks for VMs under different rules to be requested separately', () => {
    assert.deepEqual(refusal(evaluate(request({ vms: ['web-01', 'sql-01'], ports: [{ number: 22, protocol: '*' }] }))), {
      code: 'policy',
      message: 'web-01 and sql-01 fall under different access rules (web, sql); request them separately',
    });
  });

  it('refuses a port the VM policy does not have, listing what it has', () => {
    assert.deepEqual(refusal(evaluate(request({ ports: [{ number: 3389, protocol: '*' }] }))), {
      code: 'policy',
      message: 'port 3389 is not under JIT on web-01; it allows 22/TCP',
    });
  });

  it('refuses a protocol the policy does not allow', () => {
    assert.equal(refusal(evaluate(request({ ports: [{ number: 22, protocol: 'UDP' }] }))).message, 'port 22/UDP is not under JIT on web-01; it allows 22/TCP');
  });

  it("accepts a named protocol where the policy allows any, and records the policy's protocol", () => {
    const ports = [{ number: 3389, protocol: 'TCP' as const }, { number: 5986, protocol: '*' as const }];
    const d = drafted(evaluate(request({ vms: ['sql-01'], ports, source: '203.0.113.7' })));
    assert.deepEqual(d.ports, [{ number: 3389, protocol: '*' }, { number: 5986, protocol: 'TCP' }]);
  });

  it('records * for a port whose protocol differs between the VMs', () => {
    const a = vm('web-a', 'rg', [port(22, ['10.0.0.0/8'], 180, 'TCP')]);
    const b = vm('web-b', 'rg', [port(22, ['10.0.0.0/8'], 180, 'UDP')]);
    assert.deepEqual(drafted(evaluate(request({ vms: ['web-*'] }), { vms: [a, b] })).ports, [{ number: 22, protocol: '*' }]);
  });

  it('refuses a duration over a port maximum, naming the maximum', () => {
    assert.deepEqual(refusal(evaluate(request({ durationMinutes: 240 }))), {
      code: 'policy',
      message: '4h is longer than the 3h maximum for port 22 on web-01',
    });
  });

  it('refuses a duration over the rule maximum', () => {
    const policy = policyWith([{ ...webRule, maxDurationMinutes: 30 }]);
    assert.equal(refusal(evaluate(request({ durationMinutes: 60 }), { policy })).message, '1h is longer than the 30m maximum of rule web');
  });

  it('refuses a duration outside Azure limits even when the command skipped the grammar', () => {
    assert.equal(refusal(evaluate(request({ durationMinutes: 2 }))).code, 'bad_command');
  });

  it('accepts a source inside the allowed prefix and refuses one outside it', () => {
    assert.equal(drafted(evaluate(request({ source: '10.1.2.3' }))).source, '10.1.2.3');
    assert.deepEqual(refusal(evaluate(request({ source: '203.0.113.7' }))), {
      code: 'policy',
      message: '203.0.113.7 is not inside the allowed sources for port 22 on web-01 (10.0.0.0/8)',
    });
  });

  it('checks the source against every VM', () => {
    const narrow = vm('web-03', 'rg-web', [port(22, ['10.1.0.0/16'])]);
    assert.equal(
      refusal(evaluate(request({ vms: ['web-01', 'web-03'], source: '10.2.0.1' }), { vms: [web01, narrow] })).message,
      '10.2.0.1 is not inside the allowed sources for port 22 on web-03 (10.1.0.0/16)',
    );
  });

  it('takes no source on an any-source port to mean from me, never the whole internet', () => {
    const d = drafted(evaluate(request({ vms: ['sql-01'], ports: [{ number: 3389, protocol: '*' }] })));
    assert.equal(d.source, FROM_ME);
    assert.equal(d.sourceNote, undefined);
  });

  it('means from me on an any-source port even when the rule would allow any source', () => {
    const policy = policyWith([webRule, { ...rule({ name: 'sql', vms: { names: ['sql-01'] } }), allowAnySource: true }]);
    assert.equal(drafted(evaluate(request({ vms: ['sql-01'], ports: [{ number: 3389, protocol: '*' }] }), { policy })).source, FROM_ME);
    assert.equal(drafted(evaluate(request({ vms: ['sql-01'], ports: [{ number: 3389, protocol: '*' }], source: '*' }), { policy })).source, '*');
  });

  it("takes the policy's one prefix when no source is named, and says how wide it is", () => {
    const d = drafted(evaluate(request({})));
    assert.equal(d.source, '10.0.0.0/8');
    assert.equal(d.sourceNote, "10.0.0.0/8, the policy's whole range: 16,777,216 addresses");
  });

  it('accepts from me on a port limited to prefixes, to be checked when the address is known', () => {
    assert.equal(drafted(evaluate(request({ source: FROM_ME }))).source, FROM_ME);
  });

  it('refuses an explicit any-source unless the rule allows it', () => {
    assert.equal(
      refusal(evaluate(request({ vms: ['sql-01'], ports: [{ number: 3389, protocol: '*' }], source: '0.0.0.0/0' }))).message,
      'rule sql does not open ports to any source (0.0.0.0/0, 4,294,967,296 addresses: wider than /16 counts as any); name your address with from <ip>, or use from me',
    );
  });

  it("takes every prefix a port allows when no source is named, as Azure's portal does, and says how many addresses that is", () => {
    const multi = vm('web-09', 'rg-web', [port(22, ['10.0.0.0/8', '192.168.0.0/16'])]);
    const d = drafted(evaluate(request({ vms: ['web-09'] }), { vms: [multi] }));
    assert.deepEqual(d.sources, ['10.0.0.0/8', '192.168.0.0/16']);
    assert.equal(d.source, '10.0.0.0/8');
    assert.equal(d.sourceNote, "10.0.0.0/8 and 192.168.0.0/16, the policy's whole range: 16,842,752 addresses");
  });

  it('takes the prefixes of several ports only when every port allows each of them', () => {
    const a = vm('web-a', 'rg', [port(22, ['10.0.0.0/8', '192.168.0.0/16']), port(443, ['*'])]);
    const both = drafted(evaluate(request({ vms: ['web-a'], ports: [{ number: 22, protocol: '*' }, { number: 443, protocol: '*' }] }), { vms: [a] }));
    assert.deepEqual(both.sources, ['10.0.0.0/8', '192.168.0.0/16']);
    const b = vm('web-b', 'rg', [port(22, ['10.0.0.0/8', '192.168.0.0/16']), port(443, ['10.0.0.0/8'])]);
    assert.equal(
      refusal(evaluate(request({ vms: ['web-b'], ports: [{ number: 22, protocol: '*' }, { number: 443, protocol: '*' }] }), { vms: [b] })).message,
      'port 22 on web-b allows 10.0.0.0/8, 192.168.0.0/16, which the other ports do not all allow; name your address with from <ip>, or use from me',
    );
  });

  it('takes the one prefix a port is limited to when the other ports allow it too', () => {
    const mixed = vm('web-05', 'rg-web', [port(22, ['10.0.0.0/8']), port(8443, ['*'])]);
    const d = drafted(evaluate(request({ vms: ['web-05'], ports: [{ number: 22, protocol: '*' }, { number: 8443, protocol: '*' }] }), { vms: [mixed] }));
    assert.equal(d.source, '10.0.0.0/8');
  });

  it('asks for a source when single-prefix ports disagree', () => {
    const a = vm('web-a', 'rg', [port(22, ['10.0.0.0/8'])]);
    const b = vm('web-b', 'rg', [port(22, ['192.168.0.0/16'])]);
    assert.equal(refusal(evaluate(request({ vms: ['web-*'] }), { vms: [a, b] })).code, 'policy');
  });

  it('refuses a rule that cannot gather enough approvers other than the requester', () => {
    const policy = policyWith([rule({ name: 'web', vms: { names: ['web-*'] }, approvers: ['group:sre'], approvals: 2 })]);
    assert.deepEqual(refusal(evaluate(request(), { policy, person: bob })), {
      code: 'config',
      message: 'rule web needs 2 approvals but only 1 other person may approve; ask an admin',
    });
  });

  it('marks a draft for automatic approval when the rule says so', () => {
    const policy = policyWith([{ ...webRule, autoApprove: true, approvers: [] }]);
    assert.equal(drafted(evaluate(request(), { policy })).autoApprove, true);
  });
});

describe('canDecide and approversFor', () => {
  function pendingFrom(person: Person, vms: Vm[] = [web01], policy: AccessPolicy = basePolicy): AccessRequest {
    const d = drafted(evaluateRequest({ policy, person, command: request({ vms: vms.map((v) => v.name), ports: vms[0].jit!.map((p) => ({ number: p.number, protocol: '*' })), source: '10.1.2.3' }), vms: allVms }));
    return createRequest({ id: 'R1', draft: d, requester: actorFor(person), now: new Date('2025-01-01T12:00:00Z') }).request;
  }

  it('lets an approver of the rule decide', () => {
    assert.deepEqual(canDecide(basePolicy, bob, pendingFrom(alice)), { ok: true });
  });

  it('refuses unknown people, requesters, and people who are not approvers', () => {
    const r = pendingFrom(alice);
    assert.deepEqual(canDecide(basePolicy, null, r), { ok: false, reason: "you are not in jitbot's access list; ask an admin" });
    assert.deepEqual(canDecide(basePolicy, alice, r), { ok: false, reason: "you can't approve your own request" });
    assert.deepEqual(canDecide(basePolicy, dave, r), { ok: false, reason: "you can't approve this request: only group:sre may approve under rule web" });
  });

  it('refuses, and says the directory is why, when the only group that would let the person approve could not be checked', () => {
    const policy: AccessPolicy = { ...basePolicy, directoryGroups: ['oncall'], rules: [rule({ name: 'web', vms: { names: ['web-*'] }, approvers: ['group:sre', 'group:oncall'] }), sqlRule] };
    const r = pendingFrom(alice, [web01], policy);
    const frank: Person = { email: 'frank@example.com', name: 'Frank', groups: [], unknownGroups: [{ group: 'oncall', directory: 'Microsoft Entra ID' }] };
    assert.deepEqual(canDecide(policy, frank, r), {
      ok: false,
      reason: "you can't approve this request now: the directory (Microsoft Entra ID) could not be reached, so your membership of group:oncall can't be checked; try again shortly",
    });
    // A group the file already grants is enough; the unchecked one changes nothing.
    assert.deepEqual(canDecide(policy, { ...bob, unknownGroups: [{ group: 'oncall', directory: 'Microsoft Entra ID' }] }, r), { ok: true });
    // Membership the directory confirmed counts like the file's.
    assert.deepEqual(canDecide(policy, { ...frank, groups: ['oncall'], unknownGroups: [] }, r), { ok: true });
  });

  it('lists directory members among the approvers, one person per email, never the requester', () => {
    const policy: AccessPolicy = { ...basePolicy, directoryGroups: ['oncall'], rules: [rule({ name: 'web', vms: { names: ['web-*'] }, approvers: ['group:sre', 'group:oncall'] }), sqlRule] };
    const r = pendingFrom(alice, [web01], policy);
    const listed: Person[] = [
      { email: 'frank@example.com', name: 'Frank', groups: ['oncall'] },
      { email: 'bob@example.com', name: 'Bob', groups: ['oncall'] },
      { email: 'alice@example.com', name: 'Alice', groups: ['oncall'] },
    ];
    assert.deepEqual(approversFor(policy, r, listed).map((p) => p.email).sort(), ['bob@example.com', 'carol@example.com', 'frank@example.com']);
  });

  it('does not count approvers from the file when a directory group may approve: the directory decides on each click', () => {
    const policy: AccessPolicy = { ...basePolicy, people: [alice, bob], directoryGroups: ['oncall'], rules: [rule({ name: 'sql', vms: { names: ['sql-01'] }, approvals: 2, approvers: ['group:sre', 'group:oncall'] })] };
    assert.equal(evaluate(request({ vms: ['sql-01'], ports: [{ number: 3389, protocol: '*' }], source: '203.0.113.7' }), { policy }).ok, true);
  });

  it('refuses the requester under any email case', () => {
    assert.equal(canDecide(basePolicy, { ...bob, email: 'BOB@example.com' }, pendingFrom(bob)).ok, false);
  });

  it('refuses a second decision by the same approver', () => {
    const r = pendingFrom(alice, [sql01]);
    const once = transition(r, { type: 'approve', by: actorFor(bob, 'teams'), at: new Date('2025-01-01T12:01:00Z') });
    assert.ok(once.ok);
    assert.deepEqual(canDecide(basePolicy, bob, once.next), { ok: false, reason: 'you already approved this request' });
    assert.deepEqual(canDecide(basePolicy, carol, once.next), { ok: true });
  });

  it('looks at the extension approvals while an extension waits', () => {
    const r: AccessRequest = {
      ...pendingFrom(alice),
      state: 'active',
      approvals: [{ by: actorFor(bob), at: new Date() }],
      extension: { durationMinutes: 30, requestedAt: new Date(), approvals: [] },
    };
    assert.deepEqual(canDecide(basePolicy, bob, r), { ok: true });
    const approved = { ...r, extension: { ...r.extension!, approvals: [{ by: actorFor(bob), at: new Date() }] } };
    assert.deepEqual(canDecide(basePolicy, bob, approved), { ok: false, reason: 'you already approved this extension' });
  });

  it('refuses decisions under a rule that is gone from the config', () => {
    assert.equal(canDecide(policyWith([]), bob, pendingFrom(alice)).ok, false);
  });

  it('lists the approvers of the rule except the requester', () => {
    assert.deepEqual(approversFor(basePolicy, pendingFrom(alice)).map((p) => p.name), ['Bob', 'Carol']);
    assert.deepEqual(approversFor(basePolicy, pendingFrom(bob)).map((p) => p.name), ['Carol']);
    assert.deepEqual(approversFor(policyWith([]), pendingFrom(alice)), []);
  });
});

describe('escalation rights', () => {
  const escalating = rule({ name: 'web', vms: { names: ['web-*'] }, escalateAfterMinutes: 20, escalateTo: ['dave@example.com', 'group:dev'] });
  const policy = policyWith([escalating]);
  const T = new Date('2025-01-01T12:20:00Z');

  function pendingFrom(person: Person): AccessRequest {
    const d = drafted(evaluateRequest({ policy, person, command: request({ source: '10.1.2.3' }), vms: allVms }));
    return createRequest({ id: 'R1', draft: d, requester: actorFor(person), now: new Date('2025-01-01T12:00:00Z') }).request;
  }

  function escalated(r: AccessRequest): AccessRequest {
    const to = escalationTargets(policy, r).map((p) => ({ name: p.name, email: p.email }));
    const next = transition(r, { type: 'escalate', at: T, to, phase: 'request' });
    assert.ok(next.ok, next.ok ? '' : next.error.message);
    return next.next;
  }

  it('asks the escalation people except the requester, whoever they are named by', () => {
    assert.deepEqual(escalationTargets(policy, pendingFrom(alice)).map((p) => p.name), ['Dave']);
    assert.deepEqual(escalationTargets(policy, pendingFrom(bob)).map((p) => p.name), ['Alice', 'Dave']);
  });

  it('asks nobody under a rule without escalation', () => {
    assert.deepEqual(escalationTargets(basePolicy, pendingFrom(alice)), []);
  });

  it('lets the escalation people decide only once the request is escalated, and says so before', () => {
    const r = pendingFrom(alice);
    assert.deepEqual(canDecide(policy, dave, r), {
      ok: false,
      reason: "you can't approve this request: only group:sre may approve under rule web (and dave@example.com, group:dev once it is escalated)",
    });
    assert.equal(isPartOf(policy, dave, r), false, 'nor see it');
    const e = escalated(r);
    assert.deepEqual(canDecide(policy, dave, e), { ok: true });
    assert.equal(isPartOf(policy, dave, e), true);
    assert.deepEqual(canDecide(policy, alice, e), { ok: false, reason: "you can't approve your own request" });
  });

  it('names exactly the people canDecide lets decide, before and after the escalation', () => {
    for (const r of [pendingFrom(alice), escalated(pendingFrom(alice)), pendingFrom(bob), escalated(pendingFrom(bob))]) {
      const listed = approversFor(policy, r).map((p) => p.email).sort();
      const allowed = policy.people.filter((p) => canDecide(policy, p, r).ok).map((p) => p.email).sort();
      assert.deepEqual(listed, allowed, `request from ${r.requester.name}, escalated: ${r.escalation !== undefined}`);
    }
    assert.deepEqual(approversFor(policy, escalated(pendingFrom(alice))).map((p) => p.name), ['Bob', 'Carol', 'Dave']);
  });

  it('treats an extension as its own decision: the escalation of the request gives no right on it', () => {
    const r: AccessRequest = { ...escalated(pendingFrom(alice)), state: 'active', approvals: [{ by: actorFor(bob), at: T }], extension: { durationMinutes: 30, requestedAt: T, approvals: [] } };
    assert.equal(canDecide(policy, dave, r).ok, false);
    const ext: AccessRequest = { ...r, extension: { ...r.extension!, escalation: { at: T, to: [{ name: 'Dave', email: 'dave@example.com' }] } } };
    assert.deepEqual(canDecide(policy, dave, ext), { ok: true });
  });
});
