// The real @azure/arm-security and @azure/arm-compute clients, through createAzureCloud, against the
// simulator with a manual clock: what the bot does to Azure and what Azure's network then allows.
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/app/clock';
import type { Cloud, OpenSpec } from '../../src/app/ports';
import { CLOSE_AFTER_MS } from '../../src/azure';
import { startAzureSim, type AzureSim } from '../../src/azure-sim/server';
import { CloudError } from '../../src/core/errors';
import type { PortRule, Vm } from '../../src/core/types';
import { MINUTE, arm, localWorld, policyPath, startScriptedArm, stopAll, testCloud, vmResourceId } from './helpers';

const web01Id = vmResourceId('rg-web', 'web-01');

async function rejection(promise: Promise<unknown>): Promise<CloudError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof CloudError, `expected a CloudError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

function assertChatReady(err: CloudError): void {
  assert.doesNotMatch(err.message, /\/subscriptions\//, 'no raw ARM ids in chat');
  assert.doesNotMatch(err.message, /Bearer|jitbot-local-simulator|test-token/, 'no tokens');
  assert.ok(err.message.length < 500, 'one readable line');
}

describe('Azure cloud against the simulator', () => {
  let clock: ManualClock;
  let sim: AzureSim;
  let cloud: Cloud;
  let vms: Map<string, Vm>;

  beforeEach(async () => {
    clock = new ManualClock(new Date('2026-11-21T12:00:00Z'));
    sim = await startAzureSim({ world: localWorld(), clock, pageSize: 1 });
    cloud = testCloud(sim, clock);
    vms = new Map((await cloud.listVms()).map((vm) => [vm.name, vm]));
  });
  afterEach(() => stopAll(sim));

  function vm(name: string): Vm {
    const found = vms.get(name);
    assert.ok(found, `no VM ${name}`);
    return found;
  }

  function ssh(names: string[], minutes: number, source = '10.1.2.3'): OpenSpec {
    return {
      vms: names.map(vm),
      ports: [{ number: 22, protocol: 'TCP' }],
      sources: [source],
      endsAt: new Date(clock.now().getTime() + minutes * MINUTE),
      justification: 'alice@example.com: INC-4711',
    };
  }

  async function records(name: string) {
    return cloud.accessRecords([vm(name)]);
  }

  it('lists every VM across pages with its OS, tags and JIT rules, and null for a VM without JIT', () => {
    assert.deepEqual([...vms.keys()], ['build-01', 'sql-01', 'web-01', 'web-02', 'web-fw-01']);
    assert.deepEqual(vm('web-01'), {
      id: web01Id,
      name: 'web-01',
      resourceGroup: 'rg-web',
      location: 'westeurope',
      os: 'linux',
      tags: {},
      jit: [{ number: 22, protocol: 'TCP', allowedSourcePrefixes: ['10.0.0.0/8'], maxDurationMinutes: 180 }],
      policyName: 'default',
    });
    assert.equal(vm('sql-01').os, 'windows');
    assert.deepEqual(vm('sql-01').jit?.map((r) => [r.number, r.protocol, r.maxDurationMinutes]), [
      [3389, '*', 180],
      [5986, 'TCP', 60],
    ]);
    assert.equal(vm('build-01').jit, null);
    assert.equal(vm('build-01').policyName, undefined);
    assert.ok(sim.requestLog.some((e) => e.path.includes('skipToken')), 'the client followed nextLinks');
  });

  it('enabling a VM replaces only its own entry and keeps every other VM of the policy', async () => {
    const rules: PortRule[] = [
      { number: 22, protocol: 'TCP', allowedSourcePrefixes: ['10.20.0.0/16'], maxDurationMinutes: 60 },
      { number: 2222, protocol: 'TCP', allowedSourcePrefixes: ['10.20.0.0/16', '192.0.2.10'], maxDurationMinutes: 30 },
    ];
    const enabled = await cloud.enable(vm('web-02'), rules);
    assert.deepEqual(enabled.jit, rules);
    assert.equal(enabled.policyName, 'default');
    const after = new Map((await cloud.listVms()).map((v) => [v.name, v]));
    assert.deepEqual(after.get('web-01')?.jit, vm('web-01').jit, "web-01's rules survive");
    assert.deepEqual(after.get('web-02')?.jit, rules);
    const policy = await arm(sim.url, 'GET', `${policyPath('rg-web')}?api-version=2020-01-01`);
    assert.deepEqual(
      policy.body.properties.virtualMachines.map((v: { id: string }) => v.id.split('/').pop()),
      ['web-01', 'web-02', 'web-fw-01'],
      'one policy, every VM, in their order',
    );
    assert.equal(policy.body.properties.virtualMachines[2].publicIpAddress, '203.0.113.50', "the firewall VM keeps its firewall's address");
    assert.ok(sim.nsg('web-02').some((r) => r.access === 'Deny' && r.destinationPortRange === '2222'), 'the new port is denied by default');
  });

  it('enabling a VM in a resource group without a policy creates the default policy there', async () => {
    const enabled = await cloud.enable(vm('build-01'), [{ number: 22, protocol: '*', allowedSourcePrefixes: ['*'], maxDurationMinutes: 180 }]);
    assert.equal(enabled.policyName, 'default');
    assert.equal(enabled.os, 'linux');
    const policy = await arm(sim.url, 'GET', `${policyPath('rg-ci')}?api-version=2020-01-01`);
    assert.equal(policy.status, 200);
    assert.equal(sim.check('build-01', 22, '198.51.100.7').allowed, false);
  });

  it("opens a port to several prefixes in one initiate, in Azure's plural field, and closes every one of them", async () => {
    await cloud.enable(vm('web-01'), [{ number: 22, protocol: 'TCP', allowedSourcePrefixes: ['10.0.0.0/8', '192.168.0.0/16'], maxDurationMinutes: 180 }]);
    await cloud.open({ ...ssh(['web-01'], 60), sources: ['10.0.0.0/8', '192.168.0.0/16'] });
    const policy = await arm(sim.url, 'GET', `${policyPath('rg-web')}?api-version=2020-01-01`);
    const port = policy.body.properties.requests.at(-1).virtualMachines[0].ports[0];
    assert.deepEqual(port.allowedSourceAddressPrefixes, ['10.0.0.0/8', '192.168.0.0/16'], 'the plural field on the wire');
    assert.equal(port.allowedSourceAddressPrefix, undefined, 'and never both');
    clock.advance(MINUTE);
    assert.equal(sim.check('web-01', 22, '10.200.0.1').allowed, true);
    assert.equal(sim.check('web-01', 22, '192.168.7.7').allowed, true);
    assert.equal(sim.check('web-01', 22, '172.16.0.1').allowed, false);
    const records = await cloud.accessRecords([vm('web-01')]);
    assert.deepEqual(records.at(-1)?.sources, ['10.0.0.0/8', '192.168.0.0/16']);
    await cloud.close({ vms: [vm('web-01')], ports: [{ number: 22, protocol: 'TCP' }], sources: ['192.168.0.0/16', '10.0.0.0/8'], justification: 'release' });
    clock.advance(2 * MINUTE);
    assert.equal(sim.check('web-01', 22, '192.168.7.7').allowed, false, 'closed for every prefix, named in any order');
    assert.equal(sim.check('web-01', 22, '10.200.0.1').allowed, false);
  });

  it('the simulator refuses an initiate port that names both the singular and the plural source field, as Azure does', async () => {
    const res = await arm(sim.url, 'POST', `${policyPath('rg-web')}/initiate?api-version=2020-01-01`, {
      virtualMachines: [{ id: web01Id, ports: [{ number: 22, endTimeUtc: '2026-11-21T13:00:00Z', allowedSourceAddressPrefix: '10.1.2.3', allowedSourceAddressPrefixes: ['10.1.2.4'] }] }],
    });
    assert.equal(res.status, 400);
    assert.match(JSON.stringify(res.body), /mutually exclusive/);
  });

  it('opens a port with an NSG allow rule for the source that disappears once the clock passes the end, leaving the request Expired', async () => {
    assert.equal(sim.check('web-01', 22, '10.1.2.3').allowed, false, 'closed before approval');
    const result = await cloud.open(ssh(['web-01'], 60));
    const end = new Date('2026-11-21T13:00:00Z');
    assert.equal(result.endsAt.toISOString(), end.toISOString());
    assert.ok(result.azureRequestId, 'keeps the ARM request id for the audit trail');
    const allow = sim.nsg('web-01').find((r) => r.access === 'Allow');
    assert.ok(allow, 'an allow rule exists');
    assert.equal(allow.sourceAddressPrefix, '10.1.2.3');
    assert.equal(allow.destinationPortRange, '22');
    assert.equal(allow.expiresAt, end.toISOString());
    assert.ok(allow.priority < sim.nsg('web-01').find((r) => r.access === 'Deny')!.priority, 'allow outranks the JIT deny');
    assert.deepEqual(sim.check('web-01', 22, '10.1.2.3'), { allowed: true, until: end.toISOString() });
    assert.equal(sim.check('web-01', 22, '10.1.2.4').allowed, false, 'only for that source');
    assert.equal(sim.check('web-02', 22, '10.1.2.3').allowed, false, 'only on that VM');
    assert.deepEqual((await records('web-01')).map((r) => r.status), ['Initiated']);

    clock.advance(60 * MINUTE);
    assert.equal(sim.nsg('web-01').some((r) => r.access === 'Allow'), false, 'the allow rule is gone');
    assert.equal(sim.check('web-01', 22, '10.1.2.3').allowed, false);
    const [record] = await records('web-01');
    assert.equal(record.status, 'Expired');
    assert.equal(record.source, '10.1.2.3');
    assert.equal(record.justification, 'alice@example.com: INC-4711');
    assert.equal(record.endsAt.toISOString(), end.toISOString());
  });

  it('opens several VMs of one policy in one initiate', async () => {
    await cloud.open(ssh(['web-01', 'web-02'], 30));
    assert.equal(sim.requestLog.filter((e) => e.method === 'POST').length, 1);
    assert.equal(sim.check('web-01', 22, '10.1.2.3').allowed, true);
    assert.equal(sim.check('web-02', 22, '10.1.2.3').allowed, true);
  });

  it('extends with a new initiate for the later end, and Azure marks the older request NewerRequestInitiated', async () => {
    await cloud.open(ssh(['web-01'], 60));
    clock.advance(50 * MINUTE);
    const extended = await cloud.extend({ ...ssh(['web-01'], 120) });
    assert.equal(extended.endsAt.toISOString(), '2026-11-21T14:50:00.000Z');
    assert.deepEqual((await records('web-01')).map((r) => r.status), ['NewerRequestInitiated', 'Initiated']);
    clock.advance(30 * MINUTE);
    assert.deepEqual(sim.check('web-01', 22, '10.1.2.3'), { allowed: true, until: '2026-11-21T14:50:00.000Z' }, 'open past the old end');
  });

  it(`releases by initiating again with an end ${CLOSE_AFTER_MS / MINUTE} minute ahead, so the port is closed a minute later`, async () => {
    await cloud.open(ssh(['web-01'], 120));
    await cloud.close(ssh(['web-01'], 0));
    const history = await records('web-01');
    assert.deepEqual(history.map((r) => r.status), ['NewerRequestInitiated', 'Initiated']);
    assert.equal(history[1].endsAt.getTime(), clock.now().getTime() + CLOSE_AFTER_MS);
    clock.advance(CLOSE_AFTER_MS);
    assert.equal(sim.check('web-01', 22, '10.1.2.3').allowed, false);
    assert.deepEqual((await records('web-01')).map((r) => r.status), ['NewerRequestInitiated', 'Expired']);
  });

  it('release does not reopen a port that has already closed, nor touch a newer grant for another source', async () => {
    await cloud.open(ssh(['web-01'], 30));
    clock.advance(31 * MINUTE);
    await cloud.close(ssh(['web-01'], 0));
    assert.equal(sim.requestLog.filter((e) => e.method === 'POST').length, 1, 'no initiate for an expired grant');

    await cloud.open(ssh(['web-01'], 30, '10.1.2.3'));
    await cloud.open(ssh(['web-01'], 30, '10.7.7.7'));
    await cloud.close(ssh(['web-01'], 0, '10.1.2.3'));
    assert.equal(sim.requestLog.filter((e) => e.method === 'POST').length, 3, "the other person's grant is the current one; nothing to close");
    assert.equal(sim.check('web-01', 22, '10.7.7.7').allowed, true);
  });

  it('release of a VM whose policy is gone succeeds without an initiate', async () => {
    await cloud.open(ssh(['web-01'], 30));
    await arm(sim.url, 'DELETE', `${policyPath('rg-web')}?api-version=2020-01-01`);
    await cloud.close(ssh(['web-01'], 0));
    assert.equal(sim.requestLog.filter((e) => e.method === 'POST').length, 1);
  });

  it('refuses a port the policy does not have with an invalid CloudError naming the port', async () => {
    const err = await rejection(cloud.open({ ...ssh(['web-01'], 60), ports: [{ number: 23, protocol: 'TCP' }] }));
    assert.equal(err.kind, 'invalid');
    assert.equal(err.status, 400);
    assert.match(err.message, /^Azure refused the request: The given access request is not a subset of policy 'default': port 23 is not configured for virtual machine 'web-01' \(configured: 22\)\.$/);
    assertChatReady(err);
  });

  it("refuses an end beyond the port's maximum with the maximum in the message", async () => {
    const err = await rejection(cloud.open(ssh(['web-01'], 181)));
    assert.equal(err.kind, 'invalid');
    assert.match(err.message, /port 22 of virtual machine 'web-01' is beyond the maximum request duration PT3H/);
    assertChatReady(err);
    assert.equal(sim.check('web-01', 22, '10.1.2.3').allowed, false);
  });

  it('refuses a source outside the allowed prefixes with the prefixes in the message', async () => {
    const err = await rejection(cloud.open(ssh(['web-01'], 60, '192.168.1.5')));
    assert.equal(err.kind, 'invalid');
    assert.match(err.message, /source '192\.168\.1\.5' for port 22 of virtual machine 'web-01' is not within the allowed source prefixes \(10\.0\.0\.0\/8\)/);
    assertChatReady(err);
  });

  it('answers an open on a VM without a JIT policy as not_found, pointing at /jit enable', async () => {
    const err = await rejection(cloud.open(ssh(['build-01'], 30)));
    assert.equal(err.kind, 'not_found');
    assert.match(err.message, /JIT policy of build-01/);
    assert.match(err.message, /\/jit enable/);
  });

  it('closes what did open when another policy refuses its part, so a failed open leaves nothing open', async () => {
    const err = await rejection(cloud.open(ssh(['web-01', 'sql-01'], 60)));
    assert.equal(err.kind, 'invalid', 'sql-01 has no port 22');
    assert.match(err.message, /port 22 is not configured for virtual machine 'sql-01'/);
    assert.match(err.message, /The bot made sure none of the ports stays open\.$/);
    assert.equal(sim.check('web-01', 22, '10.1.2.3').until, new Date(clock.now().getTime() + CLOSE_AFTER_MS).toISOString());
    clock.advance(CLOSE_AFTER_MS);
    assert.equal(sim.check('web-01', 22, '10.1.2.3').allowed, false);
  });

  it("ends a call the caller aborts as a timeout CloudError, with the simulator's answer still pending", async () => {
    sim.setFaults({ slowRate: 1, slowMs: 2_000 });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 50);
    const err = await rejection(cloud.listVms({ abortSignal: controller.signal }));
    assert.equal(err.kind, 'timeout');
    assert.match(err.message, /cancelled/);
    assert.ok(Date.now() - started < 1_000);
  });
});

describe('Azure cloud error mapping', () => {
  const clock = new ManualClock(new Date('2026-11-21T12:00:00Z'));
  const web01 = { id: web01Id, name: 'web-01', resourceGroup: 'rg-web', location: 'westeurope', policyName: 'default' };
  const spec: OpenSpec = { vms: [web01], ports: [{ number: 22, protocol: 'TCP' }], sources: ['10.1.2.3'], endsAt: new Date('2026-11-21T13:00:00Z'), justification: 'x' };

  async function failWith(status: number, body: unknown, headers: Record<string, string> = {}): Promise<CloudError> {
    const scripted = await startScriptedArm(() => ({ status, body, headers }));
    try {
      return await rejection(testCloud(scripted, clock, { retry: { maxRetries: 0 } }).open(spec));
    } finally {
      await scripted.close();
    }
  }

  it('maps 403 AuthorizationFailed to forbidden and names the missing permission', async () => {
    const err = await failWith(403, {
      error: {
        code: 'AuthorizationFailed',
        message: `The client 'jitbot' with object id '9f0c' does not have authorization to perform action 'Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action' over scope '${policyPath('rg-web')}'.`,
      },
    });
    assert.equal(err.kind, 'forbidden');
    assert.equal(err.azureCode, 'AuthorizationFailed');
    assert.match(err.message, /^The bot's Azure identity may not open JIT access on web-01 \(AuthorizationFailed\)\./);
    assert.match(err.message, /jitNetworkAccessPolicies\/initiate\/action/);
    assertChatReady(err);
  });

  it('maps 401 to forbidden with a hint about the identity, never echoing the token', async () => {
    const err = await failWith(401, { error: { code: 'InvalidAuthenticationToken', message: 'The access token is invalid: Bearer jitbot-local-simulator' } });
    assert.equal(err.kind, 'forbidden');
    assert.match(err.message, /credentials/);
    assertChatReady(err);
  });

  it('maps 409 MissingSubscriptionRegistration to conflict with the command that fixes it', async () => {
    const err = await failWith(409, { error: { code: 'MissingSubscriptionRegistration', message: "The subscription is not registered to use namespace 'Microsoft.Security'." } });
    assert.equal(err.kind, 'conflict');
    assert.match(err.message, /az provider register --namespace Microsoft\.Security/);
  });

  it('maps 429 to throttled with the Retry-After wait', async () => {
    const err = await failWith(429, { error: { code: 'SubscriptionRequestsThrottled', message: 'Too many requests.' } });
    assert.equal(err.kind, 'throttled');
    assert.equal(err.retryable, true);
    const withWait = await failWith(429, { error: { code: 'SubscriptionRequestsThrottled', message: 'Too many requests.' } }, { 'Retry-After': '60' });
    assert.equal(withWait.kind, 'throttled');
    assert.equal(withWait.retryAfterMs, 60_000);
    assert.match(withWait.message, /try again in 60 seconds/);
  });

  it('maps 503 to unavailable and an empty 500 too', async () => {
    const err = await failWith(503, { error: { code: 'ServiceUnavailable', message: 'Down.' } });
    assert.equal(err.kind, 'unavailable');
    assert.equal(err.status, 503);
    const empty = await failWith(500, undefined);
    assert.equal(empty.kind, 'unavailable');
    assert.equal(empty.retryable, true);
  });

  it('reports a 202 that leaves out a requested port as partial and closes the ports it did open', async () => {
    const scripted = await startScriptedArm((req) => {
      const ports = (req.body.virtualMachines[0].ports as Array<{ number: number; endTimeUtc: string }>).filter((p) => p.number === 22);
      return {
        status: 202,
        body: {
          virtualMachines: [{ id: web01Id, ports: ports.map((p) => ({ ...p, allowedSourceAddressPrefix: '10.1.2.3', status: 'Initiating', statusReason: 'UserRequested' })) }],
          startTimeUtc: clock.now().toISOString(),
          requestor: 'jitbot',
        },
      };
    });
    try {
      const err = await rejection(testCloud(scripted, clock).open({ ...spec, ports: [{ number: 22, protocol: 'TCP' }, { number: 2222, protocol: 'TCP' }] }));
      assert.equal(err.kind, 'partial');
      assert.equal(err.message, 'Azure accepted the request but did not open port 2222 on web-01. The bot made sure none of the ports stays open.');
      const posts = scripted.requests.filter((r) => r.method === 'POST');
      assert.equal(posts.length, 2);
      assert.deepEqual(posts[1].body.virtualMachines[0].ports, [
        { number: 22, endTimeUtc: new Date(clock.now().getTime() + CLOSE_AFTER_MS).toISOString(), allowedSourceAddressPrefix: '10.1.2.3' },
      ]);
    } finally {
      await scripted.close();
    }
  });

  it('sends the bearer token to Azure and a correlation id shared by the requests of one call', async () => {
    const scripted = await startScriptedArm(() => ({ status: 200, body: { value: [] } }));
    try {
      await testCloud(scripted, clock).listVms();
      assert.equal(scripted.requests.length, 2);
      for (const r of scripted.requests) assert.match(String(r.headers.authorization), /^Bearer \S+/);
      assert.equal(scripted.requests[0].headers['x-ms-correlation-request-id'], scripted.requests[1].headers['x-ms-correlation-request-id']);
      assert.equal(scripted.requests[0].headers['x-forwarded-host'], 'management.azure.com');
    } finally {
      await scripted.close();
    }
  });
});

