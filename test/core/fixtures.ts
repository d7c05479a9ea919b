// Small builders for core tests: a policy with two rules, a handful of VMs, and actors.
import type { RequestCommand } from '../../src/core/command';
import type { AccessPolicy, AccessRule, Person } from '../../src/core/policy';
import type { Actor, PortRule, Vm } from '../../src/core/types';

export const alice: Person = { email: 'alice@example.com', name: 'Alice', groups: ['dev'] };
export const bob: Person = { email: 'bob@example.com', name: 'Bob', groups: ['sre'] };
export const carol: Person = { email: 'carol@example.com', name: 'Carol', groups: ['sre', 'admins'] };
export const dave: Person = { email: 'dave@example.com', name: 'Dave', groups: [] };

export function actorFor(p: Person, platform: Actor['platform'] = 'slack'): Actor {
  return { platform, userId: `U-${p.name.toUpperCase()}-${platform}`, email: p.email, name: p.name };
}

export function rule(overrides: Partial<AccessRule> & Pick<AccessRule, 'name' | 'vms'>): AccessRule {
  return {
    requesters: ['group:dev', 'group:sre'],
    approvers: ['group:sre'],
    approvals: 1,
    autoApprove: false,
    allowAnySource: false,
    route: { slack: 'C0JIT', teams: 'installed' },
    ...overrides,
  };
}

export function policyWith(rules: AccessRule[], people: Person[] = [alice, bob, carol, dave]): AccessPolicy {
  return { people, admins: ['group:admins'], rules, reminderMinutes: 10, pendingTimeoutMinutes: 60 };
}

export const webRule = rule({ name: 'web', vms: { names: ['web-*'] } });
export const sqlRule = rule({ name: 'sql', vms: { names: ['sql-01'] }, approvals: 2 });
export const basePolicy = policyWith([webRule, sqlRule]);

export function port(number: number, from: string[], maxMinutes = 180, protocol: PortRule['protocol'] = 'TCP'): PortRule {
  return { number, protocol, allowedSourcePrefixes: from, maxDurationMinutes: maxMinutes };
}

export function vm(name: string, resourceGroup: string, jit: PortRule[] | null, extra: Partial<Vm> = {}): Vm {
  return {
    id: `/subscriptions/s/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/virtualMachines/${name}`,
    name,
    resourceGroup,
    location: 'westeurope',
    os: 'linux',
    tags: {},
    jit,
    ...extra,
  };
}

export const web01 = vm('web-01', 'rg-web', [port(22, ['10.0.0.0/8'])]);
export const web02 = vm('web-02', 'rg-web', [port(22, ['10.0.0.0/8'])]);
export const sql01 = vm('sql-01', 'rg-data', [port(3389, ['*'], 180, '*'), port(5986, ['*'], 60)], { os: 'windows' });
export const build01 = vm('build-01', 'rg-ci', null);
export const allVms = [web01, web02, sql01, build01];

export function request(overrides: Partial<RequestCommand> = {}): RequestCommand {
  return { kind: 'request', ports: [{ number: 22, protocol: '*' }], vms: ['web-01'], durationMinutes: 60, ...overrides };
}
