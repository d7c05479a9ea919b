// Azure's published REST examples (test/vectors/azure-jit) as contract tests, both ways:
// the simulator must answer each example request with its status and body shape, and the client
// must read every example response body.
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/app/clock';
import type { Cloud } from '../../src/app/ports';
import { createAzureCloud } from '../../src/azure';
import { startAzureSim, type AzureSim } from '../../src/azure-sim/server';
import type { SimWorld } from '../../src/azure-sim/world';
import type { VmRef } from '../../src/core/types';
import { arm, loadVectors, missingPaths, startScriptedArm, stopAll, vector, type RecordedRequest, type ScriptedReply } from './helpers';

const VECTOR_SUB = '20ff7fc3-e762-44dd-bd96-b71116dcdc23';
const VM1_ID = `/subscriptions/${VECTOR_SUB}/resourceGroups/myRg1/providers/Microsoft.Compute/virtualMachines/vm1`;
/** Inside the initiate example's window: its end time (09:53:03Z) is within PT3H from here. */
const INITIATE_TIME = new Date('2018-07-12T08:53:03Z');

/** The subscription the examples talk about: vm1 in myRg1, not yet under JIT. */
const vectorWorld: SimWorld = {
  subscriptionId: VECTOR_SUB,
  guard: false,
  vms: [{ name: 'vm1', resourceGroup: 'myRg1', location: 'westeurope', os: 'windows', tags: {}, jit: null }],
};

function pathFor(p: Record<string, string>, suffix = ''): string {
  const scope = p.resourceGroupName ? `/subscriptions/${p.subscriptionId}/resourceGroups/${p.resourceGroupName}` : `/subscriptions/${p.subscriptionId}`;
  const location = p.ascLocation ? `/locations/${p.ascLocation}` : '';
  const name = p.jitNetworkAccessPolicyName ? `/${p.jitNetworkAccessPolicyName}` : '';
  return `${scope}/providers/Microsoft.Security${location}/jitNetworkAccessPolicies${name}${suffix}?api-version=${p['api-version']}`;
}

describe('Azure JIT REST vectors against the simulator', () => {
  let sim: AzureSim;
  let clock: ManualClock;

  beforeEach(async () => {
    clock = new ManualClock(INITIATE_TIME);
    sim = await startAzureSim({ world: vectorWorld, clock });
  });
  afterEach(() => stopAll(sim));

  const create = vector('CreateJitNetworkAccessPolicy');
  const initiate = vector('InitiateJitNetworkAccessPolicy');

  async function putExamplePolicy() {
    const answer = await arm(sim.url, 'PUT', pathFor(create.parameters), create.parameters.body);
    assert.equal(answer.status, 200);
    return answer;
  }

  async function initiateExample() {
    const answer = await arm(sim.url, 'POST', pathFor(initiate.parameters, `/${initiate.parameters.jitNetworkAccessPolicyInitiateType}`), initiate.parameters.body);
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    return answer;
  }

  it('has a vector file for each of the six published examples', () => {
    assert.deepEqual(
      loadVectors().map((v) => v.file),
      [
        'CreateJitNetworkAccessPolicy_example.json',
        'DeleteJitNetworkAccessPolicy_example.json',
        'GetJitNetworkAccessPoliciesResourceGroupLocation_example.json',
        'GetJitNetworkAccessPoliciesSubscription_example.json',
        'GetJitNetworkAccessPolicy_example.json',
        'InitiateJitNetworkAccessPolicy_example.json',
      ],
    );
  });

  it('answers the CreateJitNetworkAccessPolicy example with 200 and the policy shaped as Azure shows it', async () => {
    const { body } = await putExamplePolicy();
    const expected = create.responses['200'].body;
    // The simulator keeps the server's own request history (notes §1.8), so the request record the
    // example's client sent is not echoed; everything else must match in shape.
    const withoutRequests = { ...expected, properties: { ...expected.properties, requests: [] } };
    assert.deepEqual(missingPaths(body, withoutRequests), []);
    assert.equal(body.id, expected.id);
    assert.equal(body.name, expected.name);
    assert.equal(body.type, expected.type);
    assert.equal(body.location, expected.location);
    assert.equal(body.kind, 'Basic');
    assert.equal(body.properties.provisioningState, 'Succeeded');
    assert.deepEqual(body.properties.virtualMachines, expected.properties.virtualMachines);
    assert.deepEqual(body.properties.requests, []);
  });

  it('answers the InitiateJitNetworkAccessPolicy example with 202 and a request shaped as Azure shows it', async () => {
    await putExamplePolicy();
    const { body } = await initiateExample();
    const expected = initiate.responses['202'].body;
    assert.deepEqual(missingPaths(body, expected), []);
    const port = body.virtualMachines[0].ports[0];
    const expectedPort = expected.virtualMachines[0].ports[0];
    assert.equal(port.number, expectedPort.number);
    assert.equal(port.allowedSourceAddressPrefix, expectedPort.allowedSourceAddressPrefix);
    assert.equal(Date.parse(port.endTimeUtc), Date.parse(expectedPort.endTimeUtc));
    assert.equal(port.status, 'Initiating');
    assert.equal(port.statusReason, 'UserRequested');
    assert.equal(body.justification, expected.justification);
    assert.equal(body.startTimeUtc, INITIATE_TIME.toISOString());
  });

  for (const name of ['GetJitNetworkAccessPolicy', 'GetJitNetworkAccessPoliciesResourceGroupLocation', 'GetJitNetworkAccessPoliciesSubscription']) {
    it(`answers the ${name} example with 200 and a body shaped as Azure shows it`, async () => {
      const v = vector(name);
      await putExamplePolicy();
      await initiateExample();
      const answer = await arm(sim.url, 'GET', pathFor(v.parameters));
      assert.equal(answer.status, 200);
      assert.deepEqual(missingPaths(answer.body, v.responses['200'].body), []);
      const policy = answer.body.value ? answer.body.value[0] : answer.body;
      const request = policy.properties.requests[0];
      assert.equal(request.virtualMachines[0].ports[0].status, 'Initiated', 'the stored history says Initiated once the 202 is out');
      assert.equal(request.virtualMachines[0].ports[0].statusReason, 'UserRequested');
    });
  }

  it('answers the DeleteJitNetworkAccessPolicy example with 200, and with 204 when the policy is already gone', async () => {
    const del = vector('DeleteJitNetworkAccessPolicy');
    await putExamplePolicy();
    const first = await arm(sim.url, 'DELETE', pathFor(del.parameters));
    assert.equal(first.status, 200);
    assert.ok('200' in del.responses);
    const second = await arm(sim.url, 'DELETE', pathFor(del.parameters));
    assert.equal(second.status, 204);
    assert.ok('204' in del.responses);
    const gone = await arm(sim.url, 'GET', pathFor(del.parameters));
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.code, 'ResourceNotFound');
  });

  it('accepts the same requests with api-version 2015-06-01-preview', async () => {
    await putExamplePolicy();
    const answer = await arm(sim.url, 'GET', pathFor({ ...create.parameters, 'api-version': '2015-06-01-preview' }));
    assert.equal(answer.status, 200);
    assert.equal(answer.body.name, 'default');
  });
});

describe('Azure JIT REST vectors through the client', () => {
  const vm1: VmRef = { id: VM1_ID, name: 'vm1', resourceGroup: 'myRg1', location: 'westeurope', policyName: 'default' };
  const compute = {
    id: VM1_ID,
    name: 'vm1',
    type: 'Microsoft.Compute/virtualMachines',
    location: 'westeurope',
    tags: { team: 'qa' },
    properties: { storageProfile: { osDisk: { osType: 'Windows' } } },
  };
  let scripted: Awaited<ReturnType<typeof startScriptedArm>>;
  let cloud: Cloud;

  /** Answers each SDK call with the example response for it. */
  function replay(req: RecordedRequest): ScriptedReply {
    const p = req.path.split('?')[0].toLowerCase();
    if (p.endsWith('/providers/microsoft.compute/virtualmachines')) return { status: 200, body: { value: [compute] } };
    if (p.endsWith('/virtualmachines/vm1')) return { status: 200, body: compute };
    if (p.endsWith('/initiate')) return { status: 202, body: vector('InitiateJitNetworkAccessPolicy').responses['202'].body };
    if (req.method === 'PUT') return { status: 200, body: vector('CreateJitNetworkAccessPolicy').responses['200'].body };
    if (p.endsWith('/jitnetworkaccesspolicies/default')) return { status: 200, body: vector('GetJitNetworkAccessPolicy').responses['200'].body };
    if (p.includes('/resourcegroups/') && p.endsWith('/jitnetworkaccesspolicies')) {
      return { status: 200, body: vector('GetJitNetworkAccessPoliciesResourceGroupLocation').responses['200'].body };
    }
    if (p.endsWith('/jitnetworkaccesspolicies')) return { status: 200, body: vector('GetJitNetworkAccessPoliciesSubscription').responses['200'].body };
    return { status: 404, body: { error: { code: 'NotFound', message: `no replay for ${req.method} ${p}` } } };
  }

  beforeEach(async () => {
    scripted = await startScriptedArm(replay);
    cloud = createAzureCloud({ subscriptionId: VECTOR_SUB, redirectTo: scripted.url, clock: new ManualClock(INITIATE_TIME), retry: { maxRetries: 0 } });
  });
  afterEach(() => stopAll(scripted));

  it('reads the subscription list example into a VM with its JIT rules', async () => {
    const vms = await cloud.listVms();
    assert.deepEqual(vms, [
      {
        id: VM1_ID,
        name: 'vm1',
        resourceGroup: 'myRg1',
        location: 'westeurope',
        os: 'windows',
        tags: { team: 'qa' },
        jit: [
          { number: 22, protocol: '*', allowedSourcePrefixes: ['*'], maxDurationMinutes: 180 },
          { number: 3389, protocol: '*', allowedSourcePrefixes: ['*'], maxDurationMinutes: 180 },
        ],
        policyName: 'default',
      },
    ]);
  });

  it('reads the resource-group-and-region list example into access records', async () => {
    const records = await cloud.accessRecords([vm1]);
    assert.deepEqual(records, [
      {
        vmId: VM1_ID,
        port: 3389,
        source: '192.127.0.2',
        sources: ['192.127.0.2'],
        startedAt: new Date('2018-05-17T08:06:45.569Z'),
        endsAt: new Date('2018-05-17T09:06:45.569Z'),
        status: 'Initiated',
        statusReason: 'UserRequested',
        justification: 'testing a new version of the product',
      },
    ]);
  });

  it('reads the initiate example as every requested port accepted, though its answer names another subscription', async () => {
    const result = await cloud.open({
      vms: [vm1],
      ports: [{ number: 3389, protocol: '*' }],
      sources: ['192.127.0.2'],
      endsAt: new Date('2018-07-12T09:53:03.365Z'),
      justification: 'testing a new version of the product',
    });
    assert.equal(result.endsAt.toISOString(), '2018-07-12T09:53:03.365Z');
    const sent = scripted.requests.find((r) => r.method === 'POST');
    assert.deepEqual(sent?.body, {
      virtualMachines: [{ id: VM1_ID, ports: [{ number: 3389, endTimeUtc: '2018-07-12T09:53:03.365Z', allowedSourceAddressPrefix: '192.127.0.2' }] }],
      justification: 'testing a new version of the product',
    });
  });

  it('reads the get and create examples when enabling, and sends the merged policy without the request history', async () => {
    const vm = await cloud.enable(vm1, [{ number: 3389, protocol: '*', allowedSourcePrefixes: ['*'], maxDurationMinutes: 180 }]);
    assert.equal(vm.policyName, 'default');
    assert.deepEqual(vm.jit?.map((r) => r.number), [22, 3389]);
    const put = scripted.requests.find((r) => r.method === 'PUT');
    assert.deepEqual(put?.body, {
      kind: 'Basic',
      properties: {
        virtualMachines: [
          { id: VM1_ID, ports: [{ number: 3389, protocol: '*', allowedSourceAddressPrefix: '*', maxRequestAccessDuration: 'PT3H' }] },
        ],
      },
    });
  });
});
