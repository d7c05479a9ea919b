// The simulator's ARM behaviour over raw HTTP, as az rest or a hand-written client would see it.
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/app/clock';
import { startAzureSim, type AzureSim } from '../../src/azure-sim/server';
import { HOUR, MINUTE, SUB, arm, localWorld, policyPath, stopAll, vmResourceId } from './helpers';

const V = '?api-version=2020-01-01';

describe('Azure simulator over HTTP', () => {
  let clock: ManualClock;
  let sim: AzureSim;

  beforeEach(async () => {
    clock = new ManualClock(new Date('2026-11-21T12:00:00Z'));
    sim = await startAzureSim({ world: localWorld(), clock, pageSize: 2 });
  });
  afterEach(() => stopAll(sim));

  function initiateBody(vm: string, rg: string, port: number, endsInMs: number, source?: string) {
    return {
      virtualMachines: [
        {
          id: vmResourceId(rg, vm),
          ports: [{ number: port, endTimeUtc: new Date(clock.now().getTime() + endsInMs).toISOString(), ...(source ? { allowedSourceAddressPrefix: source } : {}) }],
        },
      ],
      justification: 'test',
    };
  }

  it('requires a bearer token and answers 401 with WWW-Authenticate without one', async () => {
    const res = await fetch(`${sim.url}${policyPath('rg-web')}${V}`);
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'AuthenticationFailed');
  });

  it('requires a supported api-version', async () => {
    const missing = await arm(sim.url, 'GET', policyPath('rg-web'));
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.code, 'MissingApiVersionParameter');
    const wrong = await arm(sim.url, 'GET', `${policyPath('rg-web')}?api-version=2023-01-01`);
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error.code, 'InvalidApiVersionParameter');
    assert.match(wrong.body.error.message, /2020-01-01/);
  });

  it('matches path segments case-insensitively, as ARM does', async () => {
    const answer = await arm(sim.url, 'GET', `${policyPath('RG-WEB').replace('/providers/Microsoft.Security/', '/PROVIDERS/microsoft.security/').replace('jitNetworkAccessPolicies', 'JITNETWORKACCESSPOLICIES')}${V}`);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.name, 'default');
  });

  it('sends the usual ARM headers, echoing the client and correlation ids', async () => {
    const answer = await arm(sim.url, 'GET', `${policyPath('rg-web')}${V}`, undefined, { 'x-ms-client-request-id': 'c-1', 'x-ms-correlation-request-id': 'k-1' });
    assert.equal(answer.headers.get('x-ms-client-request-id'), 'c-1');
    assert.equal(answer.headers.get('x-ms-correlation-request-id'), 'k-1');
    assert.ok(answer.headers.get('x-ms-request-id'));
    assert.match(answer.headers.get('x-ms-ratelimit-remaining-subscription-reads') ?? '', /^\d+$/);
    assert.equal(answer.headers.get('content-type'), 'application/json; charset=utf-8');
  });

  it('pages lists with absolute nextLinks on its own base, or on the host a proxy names', async () => {
    const listPath = `/subscriptions/${SUB}/providers/Microsoft.Compute/virtualMachines?api-version=2024-07-01`;
    const first = await arm(sim.url, 'GET', listPath);
    assert.equal(first.body.value.length, 2);
    assert.ok(first.body.nextLink.startsWith(`${sim.url}/subscriptions/`));
    const second = await arm(sim.url, 'GET', first.body.nextLink.slice(sim.url.length));
    assert.equal(second.body.value.length, 2);
    const third = await arm(sim.url, 'GET', second.body.nextLink.slice(sim.url.length));
    assert.equal(third.body.value.length, 1);
    assert.equal(third.body.nextLink, undefined);
    assert.deepEqual(
      [...first.body.value, ...second.body.value, ...third.body.value].map((v: { name: string }) => v.name).sort(),
      ['build-01', 'sql-01', 'web-01', 'web-02', 'web-fw-01'],
    );
    const proxied = await arm(sim.url, 'GET', listPath, undefined, { 'x-forwarded-host': 'management.azure.com', 'x-forwarded-proto': 'https' });
    assert.ok(proxied.body.nextLink.startsWith('https://management.azure.com/subscriptions/'));
    assert.match(proxied.body.nextLink, /api-version=2024-07-01/);
  });

  it('serves Compute VMs in the shape the compute client reads: OS type under properties.storageProfile.osDisk', async () => {
    const vm = await arm(sim.url, 'GET', `${vmResourceId('rg-data', 'sql-01')}?api-version=2024-07-01`);
    assert.equal(vm.status, 200);
    assert.equal(vm.body.type, 'Microsoft.Compute/virtualMachines');
    assert.equal(vm.body.properties.storageProfile.osDisk.osType, 'Windows');
    const missing = await arm(sim.url, 'GET', `${vmResourceId('rg-data', 'nope')}?api-version=2024-07-01`);
    assert.equal(missing.status, 404);
  });

  it('answers a policy PUT with 200 and server-filled fields, replacing the VM list', async () => {
    const answer = await arm(sim.url, 'PUT', `${policyPath('rg-web')}${V}`, {
      properties: {
        virtualMachines: [{ id: vmResourceId('rg-web', 'web-02'), ports: [{ number: 22, protocol: 'tcp', allowedSourceAddressPrefix: '*', maxRequestAccessDuration: 'PT1H' }] }],
      },
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.kind, 'Basic');
    assert.equal(answer.body.location, 'westeurope');
    assert.equal(answer.body.properties.provisioningState, 'Succeeded');
    assert.equal(answer.body.properties.virtualMachines[0].ports[0].protocol, 'TCP');
    assert.equal(answer.body.properties.virtualMachines.length, 1, 'PUT replaces the list: web-01 is no longer protected');
    assert.equal(sim.nsg('web-01').some((r) => r.name.startsWith('SecurityCenter-JITRule_')), false);
  });

  const badPolicies: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an unknown protocol', { protocol: 'ICMP' }, /protocol 'ICMP'/],
    ['both source fields', { allowedSourceAddressPrefixes: ['10.0.0.0/8'] }, /both allowedSourceAddressPrefix and allowedSourceAddressPrefixes/],
    ['a maximum over a day', { maxRequestAccessDuration: 'PT25H' }, /PT5M to PT24H/],
    ['a maximum under five minutes', { maxRequestAccessDuration: 'PT4M' }, /PT5M to PT24H/],
    ['a port over 65535', { number: 70000 }, /0 to 65535/],
    ['a source that is not an address', { allowedSourceAddressPrefix: 'Internet-ish' }, /not '\*', an IP address or a CIDR/],
  ];
  for (const [what, patch, message] of badPolicies) {
    it(`refuses a policy with ${what} as 400`, async () => {
      const port = { number: 22, protocol: 'TCP', allowedSourceAddressPrefix: '*', maxRequestAccessDuration: 'PT3H', ...patch };
      const answer = await arm(sim.url, 'PUT', `${policyPath('rg-web')}${V}`, { properties: { virtualMachines: [{ id: vmResourceId('rg-web', 'web-01'), ports: [port] }] } });
      assert.equal(answer.status, 400);
      assert.match(answer.body.error.message, message);
    });
  }

  it('refuses a policy naming a VM that does not exist, or one in another resource group', async () => {
    const unknown = await arm(sim.url, 'PUT', `${policyPath('rg-web')}${V}`, {
      properties: { virtualMachines: [{ id: vmResourceId('rg-web', 'ghost'), ports: [{ number: 22, protocol: '*', maxRequestAccessDuration: 'PT1H' }] }] },
    });
    assert.equal(unknown.status, 400);
    const elsewhere = await arm(sim.url, 'PUT', `${policyPath('rg-web')}${V}`, {
      properties: { virtualMachines: [{ id: vmResourceId('rg-ci', 'build-01'), ports: [{ number: 22, protocol: '*', maxRequestAccessDuration: 'PT1H' }] }] },
    });
    assert.equal(elsewhere.status, 400);
    assert.match(elsewhere.body.error.message, /resource group 'rg-ci'/);
  });

  it('refuses with 409 to put a VM into a second policy', async () => {
    const answer = await arm(sim.url, 'PUT', `${policyPath('rg-web', 'other')}${V}`, {
      properties: { virtualMachines: [{ id: vmResourceId('rg-web', 'web-01'), ports: [{ number: 22, protocol: '*', maxRequestAccessDuration: 'PT1H' }] }] },
    });
    assert.equal(answer.status, 409);
    assert.match(answer.body.error.message, /already protected by policy 'default'/);
  });

  it("answers 404 ResourceGroupNotFound for a resource group it does not have", async () => {
    const answer = await arm(sim.url, 'GET', `${policyPath('rg-nope')}${V}`);
    assert.equal(answer.status, 404);
    assert.equal(answer.body.error.code, 'ResourceGroupNotFound');
  });

  it('answers initiate with 202 Initiating, keeps the request Initiated, then Expired once the clock passes its end', async () => {
    const answer = await arm(sim.url, 'POST', `${policyPath('rg-web')}/initiate${V}`, initiateBody('web-01', 'rg-web', 22, HOUR, '10.1.2.3'));
    assert.equal(answer.status, 202);
    assert.equal(answer.body.virtualMachines[0].ports[0].status, 'Initiating');
    assert.equal(answer.body.requestor, 'jitbot@sim.local');
    const status = async () => (await arm(sim.url, 'GET', `${policyPath('rg-web')}${V}`)).body.properties.requests[0].virtualMachines[0].ports[0];
    assert.deepEqual([(await status()).status, (await status()).statusReason], ['Initiated', 'UserRequested']);
    clock.advance(HOUR - 1);
    assert.equal((await status()).status, 'Initiated');
    clock.advance(1);
    assert.deepEqual([(await status()).status, (await status()).statusReason], ['Revoked', 'Expired']);
  });

  describe('applying an initiate later, as Azure does', () => {
    const status = async (index = 0) => (await arm(sim.url, 'GET', `${policyPath('rg-web')}${V}`)).body.properties.requests[index].virtualMachines[0].ports[0];

    it('keeps the ports Initiating and the NSG closed until the apply delay has passed, then Initiated and open', async () => {
      sim.setApplyDelay(5_000);
      const answer = await arm(sim.url, 'POST', `${policyPath('rg-web')}/initiate${V}`, initiateBody('web-01', 'rg-web', 22, HOUR, '10.1.2.3'));
      assert.equal(answer.status, 202);
      assert.equal((await status()).status, 'Initiating');
      assert.equal(sim.check('web-01', 22, '10.1.2.3').allowed, false, 'no allow rule before Azure applied it');
      clock.advance(4_999);
      assert.equal((await status()).status, 'Initiating');
      clock.advance(1);
      assert.deepEqual([(await status()).status, (await status()).statusReason], ['Initiated', 'UserRequested']);
      assert.equal(sim.check('web-01', 22, '10.1.2.3').allowed, true);
    });

    it('leaves an older grant open until the newer request on the same port is applied', async () => {
      await arm(sim.url, 'POST', `${policyPath('rg-web')}/initiate${V}`, initiateBody('web-01', 'rg-web', 22, HOUR, '10.1.2.3'));
      sim.setApplyDelay(3_000);
      await arm(sim.url, 'POST', `${policyPath('rg-web')}/initiate${V}`, initiateBody('web-01', 'rg-web', 22, HOUR, '10.1.2.4'));
      assert.equal((await status(0)).status, 'Initiated', 'the newer one is not written yet');
      assert.equal(sim.check('web-01', 22, '10.1.2.3').allowed, true);
      clock.advance(3_000);
      assert.equal((await status(0)).statusReason, 'NewerRequestInitiated');
      assert.equal(sim.check('web-01', 22, '10.1.2.4').allowed, true);
    });

    it('fails a VM told to fail at apply time: 202 first, then Failed with the reason, and nothing opens', async () => {
      sim.setApplyDelay(2_000);
      sim.setApplyFailure('web-01', 'The network security group nsg-web could not be updated.');
      const answer = await arm(sim.url, 'POST', `${policyPath('rg-web')}/initiate${V}`, initiateBody('web-01', 'rg-web', 22, HOUR, '10.1.2.3'));
      assert.equal(answer.status, 202, 'Azure accepts the request before it finds out');
      assert.equal((await status()).status, 'Initiating');
      clock.advance(2_000);
      assert.deepEqual([(await status()).status, (await status()).statusReason], ['Failed', 'The network security group nsg-web could not be updated.']);
      assert.equal(sim.check('web-01', 22, '10.1.2.3').allowed, false);
      sim.setApplyFailure('web-01', null);
      await arm(sim.url, 'POST', `${policyPath('rg-web')}/initiate${V}`, initiateBody('web-01', 'rg-web', 22, HOUR, '10.1.2.3'));
      clock.advance(2_000);
      assert.equal((await status(1)).status, 'Initiated', 'a later request succeeds again');
      assert.equal((await status(0)).status, 'Failed', 'the failed one stays failed');
    });

    it('takes the same controls over POST /_sim/control, and refuses a malformed one', async () => {
      const control = await arm(sim.url, 'POST', '/_sim/control', { applyDelayMs: 1_000, applyFailure: { vm: 'web-01', message: 'NSG is locked.' } });
      assert.equal(control.status, 204);
      await arm(sim.url, 'POST', `${policyPath('rg-web')}/initiate${V}`, initiateBody('web-01', 'rg-web', 22, HOUR, '10.1.2.3'));
      assert.equal((await status()).status, 'Initiating');
      clock.advance(1_000);
      assert.equal((await status()).statusReason, 'NSG is locked.');
      const bad = await arm(sim.url, 'POST', '/_sim/control', { applyDelayMs: -1 });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /applyDelayMs/);
    });

    it('accepts a policy whose name and VM name exceed 56 characters, and fails it when the NSG rule is written', async () => {
      const name = 'jit-policy-for-the-build-agents-of-the-ci-pipeline'; // 50 characters; with build-01, 58
      const put = await arm(sim.url, 'PUT', `${policyPath('rg-ci', name)}${V}`, {
        properties: { virtualMachines: [{ id: vmResourceId('rg-ci', 'build-01'), ports: [{ number: 22, protocol: 'TCP', maxRequestAccessDuration: 'PT1H' }] }] },
      });
      assert.equal(put.status, 200, 'Azure saves the policy');
      const initiate = await arm(sim.url, 'POST', `${policyPath('rg-ci', name)}/initiate${V}`, initiateBody('build-01', 'rg-ci', 22, HOUR, '10.1.2.3'));
      assert.equal(initiate.status, 202);
      const port = (await arm(sim.url, 'GET', `${policyPath('rg-ci', name)}${V}`)).body.properties.requests[0].virtualMachines[0].ports[0];
      assert.equal(port.status, 'Failed');
      assert.match(port.statusReason, /together with the virtual machine name 'build-01' exceeds 56 characters/);
      assert.equal(sim.check('build-01', 22, '10.1.2.3').allowed, false);
    });
  });

  it('gives a VM behind Azure Firewall its public address on the policy and a mapped port on each request', async () => {
    const policy = await arm(sim.url, 'GET', `${policyPath('rg-web')}${V}`);
    const fw = policy.body.properties.virtualMachines.find((v: { id: string }) => v.id.endsWith('/web-fw-01'));
    assert.equal(fw.publicIpAddress, '203.0.113.50');
    const answer = await arm(sim.url, 'POST', `${policyPath('rg-web')}/initiate${V}`, initiateBody('web-fw-01', 'rg-web', 22, HOUR, '10.1.2.3'));
    assert.equal(answer.body.virtualMachines[0].ports[0].mappedPort, 50022);
    const stored = (await arm(sim.url, 'GET', `${policyPath('rg-web')}${V}`)).body.properties.requests[0].virtualMachines[0].ports[0];
    assert.equal(stored.mappedPort, 50022);
  });

  it('serves the Defender for Servers pricing at subscription scope, as the world says', async () => {
    const path = `/subscriptions/${SUB}/providers/Microsoft.Security/pricings/VirtualMachines?api-version=2022-03-01`;
    const plan = await arm(sim.url, 'GET', path);
    assert.equal(plan.status, 200);
    assert.equal(plan.body.type, 'Microsoft.Security/pricings');
    assert.deepEqual([plan.body.properties.pricingTier, plan.body.properties.subPlan], ['Standard', 'P2']);
    sim.setDefender({ pricingTier: 'Free' });
    const free = await arm(sim.url, 'GET', path);
    assert.equal(free.body.properties.pricingTier, 'Free');
    assert.equal(free.body.properties.subPlan, undefined);
    const badVersion = await arm(sim.url, 'GET', path.replace('2022-03-01', '2020-01-01'));
    assert.equal(badVersion.status, 400);
  });

  it('marks an open request NewerRequestInitiated when a newer one for the same VM and port arrives, and leaves other ports alone', async () => {
    await arm(sim.url, 'POST', `${policyPath('rg-data')}/initiate${V}`, {
      virtualMachines: [
        {
          id: vmResourceId('rg-data', 'sql-01'),
          ports: [
            { number: 3389, endTimeUtc: new Date(clock.now().getTime() + HOUR).toISOString(), allowedSourceAddressPrefix: '203.0.113.7' },
            { number: 5986, endTimeUtc: new Date(clock.now().getTime() + HOUR).toISOString(), allowedSourceAddressPrefix: '203.0.113.7' },
          ],
        },
      ],
    });
    await arm(sim.url, 'POST', `${policyPath('rg-data')}/initiate${V}`, initiateBody('sql-01', 'rg-data', 3389, 2 * HOUR, '203.0.113.7'));
    const requests = (await arm(sim.url, 'GET', `${policyPath('rg-data')}${V}`)).body.properties.requests;
    assert.deepEqual(
      requests.map((r: { virtualMachines: Array<{ ports: Array<{ number: number; statusReason: string }> }> }) => r.virtualMachines[0].ports.map((p) => `${p.number}:${p.statusReason}`)),
      [['3389:NewerRequestInitiated', '5986:UserRequested'], ['3389:UserRequested']],
    );
  });

  it('takes the caller address as source when initiate names none, and refuses it when the policy does not allow it', async () => {
    const refused = await arm(sim.url, 'POST', `${policyPath('rg-web')}/initiate${V}`, initiateBody('web-01', 'rg-web', 22, HOUR));
    assert.equal(refused.status, 400);
    assert.match(refused.body.error.message, /source '127\.0\.0\.1'/);
    const accepted = await arm(sim.url, 'POST', `${policyPath('rg-data')}/initiate${V}`, initiateBody('sql-01', 'rg-data', 3389, HOUR));
    assert.equal(accepted.status, 202);
    assert.equal(accepted.body.virtualMachines[0].ports[0].allowedSourceAddressPrefix, '127.0.0.1');
  });

  it('contains a requested CIDR in an allowed prefix, and refuses one that is wider', async () => {
    const inside = await arm(sim.url, 'POST', `${policyPath('rg-web')}/initiate${V}`, initiateBody('web-01', 'rg-web', 22, HOUR, '10.4.0.0/16'));
    assert.equal(inside.status, 202);
    assert.equal(sim.check('web-01', 22, '10.4.200.1').allowed, true);
    const wider = await arm(sim.url, 'POST', `${policyPath('rg-web')}/initiate${V}`, initiateBody('web-01', 'rg-web', 22, HOUR, '10.0.0.0/7'));
    assert.equal(wider.status, 400);
  });

  it('refuses an end time in the past, and accepts the duration field scripts send instead', async () => {
    const past = await arm(sim.url, 'POST', `${policyPath('rg-web')}/initiate${V}`, initiateBody('web-01', 'rg-web', 22, -MINUTE, '10.1.2.3'));
    assert.equal(past.status, 400);
    assert.match(past.body.error.message, /not in the future/);
    const byDuration = await arm(sim.url, 'POST', `${policyPath('rg-web')}/initiate${V}`, {
      virtualMachines: [{ id: vmResourceId('rg-web', 'web-01'), ports: [{ number: 22, duration: 'PT30M', allowedSourceAddressPrefix: '10.1.2.3' }] }],
    });
    assert.equal(byDuration.status, 202);
    assert.equal(byDuration.body.virtualMachines[0].ports[0].endTimeUtc, new Date(clock.now().getTime() + 30 * MINUTE).toISOString());
  });

  it('refuses an initiate for a VM that is not in the policy', async () => {
    const answer = await arm(sim.url, 'POST', `${policyPath('rg-web')}/initiate${V}`, initiateBody('build-01', 'rg-ci', 22, HOUR, '10.1.2.3'));
    assert.equal(answer.status, 400);
    assert.match(answer.body.error.message, /virtual machine 'build-01' is not in the policy/);
  });

  it('removes the deny rules and the request history with the policy', async () => {
    await arm(sim.url, 'POST', `${policyPath('rg-web')}/initiate${V}`, initiateBody('web-01', 'rg-web', 22, HOUR, '10.1.2.3'));
    assert.equal(sim.check('web-01', 22, '10.1.2.3').allowed, true);
    assert.equal((await arm(sim.url, 'DELETE', `${policyPath('rg-web')}${V}`)).status, 200);
    assert.deepEqual(sim.nsg('web-01').map((r) => r.name), ['DenyAllInBound']);
  });

  it('answers the inspection routes: the NSG of a VM and whether a source may reach a port', async () => {
    await arm(sim.url, 'POST', `${policyPath('rg-web')}/initiate${V}`, initiateBody('web-01', 'rg-web', 22, HOUR, '10.1.2.3'));
    const check = await fetch(`${sim.url}/_sim/check?vm=web-01&port=22&source=10.1.2.3`);
    assert.deepEqual(await check.json(), { allowed: true, until: '2026-11-21T13:00:00.000Z' });
    const nsg = (await (await fetch(`${sim.url}/_sim/nsg/web-01`)).json()) as { rules: Array<{ name: string; access: string; priority: number }> };
    assert.deepEqual(nsg.rules.map((r) => [r.access, r.priority]), [['Allow', 100], ['Deny', 1000], ['Deny', 65500]]);
    assert.match(nsg.rules[0].name, /^SecurityCenter-JITRule-\d+-[0-9a-f]{32}$/);
    assert.match(nsg.rules[1].name, /^SecurityCenter-JITRule_-?\d+_[0-9a-f]{32}$/);
    assert.equal((await fetch(`${sim.url}/_sim/check?vm=web-01&port=22`)).status, 400);
    assert.equal((await fetch(`${sim.url}/_sim/nsg/ghost`)).status, 404);
  });

  it('injects 429 with Retry-After and 500 in the CloudError envelope, and leaves the inspection routes alone', async () => {
    sim.setFaults({ throttleRate: 1, retryAfterSeconds: 7 });
    const throttled = await arm(sim.url, 'GET', `${policyPath('rg-web')}${V}`);
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers.get('retry-after'), '7');
    assert.equal(throttled.body.error.code, 'SubscriptionRequestsThrottled');
    assert.equal((await fetch(`${sim.url}/_sim/nsg/web-01`)).status, 200);
    sim.setFaults({ errorRate: 1 });
    const failed = await arm(sim.url, 'POST', `${policyPath('rg-web')}/initiate${V}`, initiateBody('web-01', 'rg-web', 22, HOUR, '10.1.2.3'));
    assert.equal(failed.status, 500);
    assert.equal(failed.body.error.code, 'InternalServerError');
    assert.equal(sim.check('web-01', 22, '10.1.2.3').allowed, false, 'a failed call changed nothing');
    assert.deepEqual(sim.requestLog.map((e) => e.fault), ['throttle', 'error']);
  });
});
