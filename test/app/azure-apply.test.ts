// Azure answers an initiate with 202 and writes the NSG rules seconds later, where it can still fail;
// it needs Defender for Servers Plan 2, limits policy + VM names to 56 characters, and behind Azure
// Firewall people connect to a mapped port. These flows run through the use cases, the real store,
// the real Azure client and the simulator, with the simulator's apply delay as the point.
import assert from 'node:assert/strict';
import { JitApp } from '../../src/app/jit-app';
import { loadConfigFile } from '../../src/config/file';
import type { Reply } from '../../src/core/views';
import { RecordingChat } from '../fakes/recording-chat';
import { LOCAL_CONFIG, MINUTE, person, startWorld, type TestWorld } from '../helpers/world';

const SECOND = 1_000;

function submittedId(reply: Reply): string {
  assert.equal(reply.kind, 'submitted', `expected a submitted request, got ${JSON.stringify(reply)}`);
  return (reply as Extract<Reply, { kind: 'submitted' }>).request.id;
}

function errorOf(reply: Reply): string {
  assert.equal(reply.kind, 'error', JSON.stringify(reply));
  return (reply as Extract<Reply, { kind: 'error' }>).message;
}

describe('waiting for Azure to apply what it accepted', function () {
  this.timeout(120_000);
  let world: TestWorld;
  let chat: RecordingChat;

  async function open(text: string): Promise<string> {
    const id = submittedId(await world.app.command(person('alice'), text));
    const approved = await world.app.act(person('bob'), 'approve', id);
    assert.equal(approved.ok, true, approved.message);
    await world.settle();
    return id;
  }

  const state = async (id: string) => (await world.store.getRequest(id))!.state;

  afterEach(async () => world?.close());

  describe('with the local world', () => {
    beforeEach(async () => {
      world = await startWorld();
      chat = new RecordingChat();
      world.addChat(chat);
    });

    it('says opening on approval and "open" only once Azure shows the port Initiated', async () => {
      world.sim.setApplyDelay(10 * SECOND);
      const id = await open('ssh web-01 1h from 10.1.2.3 for INC-1');
      assert.equal(await state(id), 'opening');
      assert.ok(chat.threadOf(id).some((t) => t === 'Approved by Bob; opening 22/TCP on web-01…'), chat.threadOf(id).join('\n'));
      assert.match(chat.lastView(id)!.headline, /opening… \(waiting for Azure/);
      assert.ok(!chat.threadOf(id).some((t) => t.startsWith('Open until')), 'nothing claims open while Azure is applying');
      assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, false);

      await world.advance(5 * SECOND);
      assert.equal(await state(id), 'opening', 'still Initiating after 5 s');
      await world.advance(8 * SECOND);
      assert.equal(await state(id), 'active');
      assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, true);
      assert.equal(chat.threadOf(id).filter((t) => t.startsWith('Open until')).length, 1);
      assert.ok(chat.recorded.dms.some((d) => d.notice.kind === 'opened' && d.to.email === 'alice@example.com'));
      const types = (await world.store.listAudit({ requestId: id })).map((e) => e.type);
      assert.ok(types.indexOf('azure.initiate') < types.indexOf('azure.applied') && types.includes('request.opened'), types.join(', '));
    });

    it('ends failed with Azure’s words when writing the NSG rule fails, and never says open', async () => {
      world.sim.setApplyDelay(3 * SECOND);
      world.sim.setApplyFailure('web-01', 'The network security group nsg-web-01 is locked by a policy.');
      const id = await open('ssh web-01 1h from 10.1.2.3 for INC-2');
      assert.equal(await state(id), 'opening');
      await world.advance(4 * SECOND);
      const r = (await world.store.getRequest(id))!;
      assert.equal(r.state, 'failed');
      assert.match(r.failure ?? '', /Azure could not apply port 22 on web-01: The network security group nsg-web-01 is locked by a policy/);
      assert.ok(chat.threadOf(id).some((t) => /^Could not open 22\/TCP on web-01: Azure could not apply .* locked by a policy\. Nothing was opened\.$/.test(t)), chat.threadOf(id).join('\n'));
      assert.ok(!chat.threadOf(id).some((t) => t.startsWith('Open until')));
      assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, false);
      await world.advance(2 * 60 * MINUTE);
      assert.equal(chat.recorded.thread.filter((t) => t.notice.kind === 'expired' || t.notice.kind === 'reminder').length, 0);
    });

    it('gives up at the deadline with what Azure still had not applied, and leaves nothing open after', async () => {
      world.sim.setApplyDelay(10 * MINUTE);
      const id = await open('ssh web-01 1h from 10.1.2.3 for INC-3');
      for (let i = 0; i < 12; i++) await world.advance(10 * SECOND);
      const r = (await world.store.getRequest(id))!;
      assert.equal(r.state, 'failed');
      assert.match(r.failure ?? '', /had not applied port 22 on web-01 after 120 s/);
      await world.advance(10 * MINUTE);
      assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, false, 'the late apply was closed again');
    });

    it('keeps waiting across a restart: a new process finishes the confirmation from the stored job', async () => {
      world.sim.setApplyDelay(20 * SECOND);
      const id = await open('ssh web-01 1h from 10.1.2.3 for INC-4');
      assert.equal(await state(id), 'opening');
      await world.app.stop({ timeoutMs: 2000 });
      const initiates = () => world.sim.requestLog.filter((e) => e.method === 'POST' && /initiate/i.test(e.path)).length;
      const before = initiates();
      const second = new JitApp({ policy: world.config.policy, store: world.store, cloud: world.cloud, clock: world.clock, vmCacheTtlMs: 0, scheduler: { pollIntervalMs: 60_000 } });
      const chat2 = new RecordingChat();
      second.addChat(chat2);
      try {
        await second.reconcile();
        world.clock.advance(25 * SECOND);
        await second.scheduler.drain();
        world.clock.advance(15 * SECOND);
        await second.scheduler.drain();
        assert.equal(await state(id), 'active');
        assert.equal(initiates(), before, 'no second initiate');
        assert.ok(chat2.threadOf(id).some((t) => t.startsWith('Open until')), chat2.threadOf(id).join('\n'));
      } finally {
        await second.stop({ timeoutMs: 2000 });
      }
    });

    it('sends an open again when Azure has lost every trace of the initiate it accepted', async () => {
      world.sim.setApplyDelay(30 * SECOND);
      const id = await open('ssh web-01 1h from 10.1.2.3 for INC-13');
      assert.equal(await state(id), 'opening');
      // Deleting and re-creating the policy drops its request history, as a lost initiate would.
      const path = `/subscriptions/${world.config.world!.subscriptionId}/resourceGroups/rg-web/providers/Microsoft.Security/locations/westeurope/jitNetworkAccessPolicies/default?api-version=2020-01-01`;
      const auth = { authorization: 'Bearer test', 'content-type': 'application/json' };
      const saved = (await (await fetch(`${world.sim.url}${path}`, { headers: auth })).json()) as { properties: { virtualMachines: unknown[] } };
      assert.equal((await fetch(`${world.sim.url}${path}`, { method: 'DELETE', headers: auth })).status, 200);
      const put = await fetch(`${world.sim.url}${path}`, { method: 'PUT', headers: auth, body: JSON.stringify({ properties: { virtualMachines: saved.properties.virtualMachines } }) });
      assert.equal(put.status, 200);
      world.sim.setApplyDelay(0);
      const initiates = () => world.sim.requestLog.filter((e) => e.method === 'POST' && /initiate/i.test(e.path)).length;
      assert.equal(initiates(), 1);
      for (let i = 0; i < 5 && (await state(id)) === 'opening'; i++) await world.advance(8 * SECOND);
      assert.equal(await state(id), 'active');
      assert.equal(initiates(), 2, 'sent once more, not more');
      assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, true);
    });

    it('says extending until Azure applies the later end, then moves it', async () => {
      const id = await open('ssh web-01 1h from 10.1.2.3 for INC-5');
      const before = (await world.store.getRequest(id))!.endsAt!;
      world.sim.setApplyDelay(5 * SECOND);
      assert.equal((await world.app.command(person('alice'), `extend ${id} 30m`)).kind, 'text');
      await world.app.act(person('bob'), 'approve', id);
      await world.settle();
      const waiting = (await world.store.getRequest(id))!;
      assert.equal(waiting.endsAt!.getTime(), before.getTime(), 'the end moves only once Azure applied it');
      assert.match(chat.lastView(id)!.extension ?? '', /extending…/);
      await world.advance(6 * SECOND);
      const after = (await world.store.getRequest(id))!;
      assert.equal(after.endsAt!.getTime(), before.getTime() + 30 * MINUTE);
      assert.equal(after.extension, undefined);
      assert.ok(chat.threadOf(id).some((t) => t.startsWith('Extended: open until')));
    });

    it('says released only once Azure has applied the close, and reports a close Azure failed to apply', async () => {
      const id = await open('ssh web-01 1h from 10.1.2.3 for INC-6');
      world.sim.setApplyDelay(4 * SECOND);
      const releasing = await world.app.act(person('alice'), 'release', id);
      assert.equal(releasing.ok, true, releasing.message);
      assert.match(releasing.message, /^Releasing R\w+: Azure accepted the close and is applying it/);
      assert.equal(await state(id), 'active');
      assert.ok(!chat.threadOf(id).some((t) => t.startsWith('Released')));
      await world.advance(5 * SECOND);
      assert.equal(await state(id), 'released');
      assert.ok(chat.threadOf(id).some((t) => t.startsWith('Released by Alice; Azure closes 22/TCP on web-01 within a minute')));
      await world.advance(2 * MINUTE);
      assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, false);

      world.sim.setApplyDelay(0);
      const other = await open('ssh web-02 1h from 10.1.2.4 for INC-7');
      world.sim.setApplyFailure('web-02', 'NSG nsg-web-02 is locked.');
      const refused = await world.app.act(person('alice'), 'release', other);
      assert.equal(refused.ok, false);
      assert.match(refused.message, /Azure did not apply the release/);
      await world.settle();
      assert.equal(await state(other), 'active', 'still open, and said so');
      assert.ok(chat.threadOf(other).some((t) => /^Could not release R\w+: Azure could not apply port 22 on web-02: NSG nsg-web-02 is locked\. The ports stay open until/.test(t)), chat.threadOf(other).join('\n'));
      assert.equal(world.sim.check('web-02', 22, '10.1.2.4').allowed, true);
    });

    it('names the firewall address and mapped port to connect to for a VM behind Azure Firewall', async () => {
      const id = await open('ssh web-fw-01 1h from 10.1.2.3 for INC-8');
      assert.equal(await state(id), 'active');
      const opened = chat.threadOf(id).find((t) => t.startsWith('Open until'))!;
      assert.match(opened, /Connect through Azure Firewall: 22 on web-fw-01 at 203\.0\.113\.50:50022\.$/);
      assert.match(chat.lastView(id)!.headline, /connect to 22 on web-fw-01 at 203\.0\.113\.50:50022/);
      assert.deepEqual(chat.lastView(id)!.connect, ['22 on web-fw-01 at 203.0.113.50:50022']);
      const web01 = await open('ssh web-01 1h from 10.1.2.3 for INC-9');
      assert.ok(!chat.threadOf(web01).some((t) => t.includes('Firewall')), 'a VM without a firewall gets no connection line');
    });

    it('refuses a request in one plain line when the subscription lacks Defender for Servers Plan 2', async () => {
      world.sim.setDefender({ pricingTier: 'Standard', subPlan: 'P1' });
      const message = errorOf(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for INC-10'));
      assert.equal(message, 'JIT VM access is unavailable: the subscription has Defender for Servers Plan 1, and JIT needs Defender for Servers Plan 2. Ask an Azure admin to enable it.');
      assert.equal((await world.store.listRequests({})).length, 0, 'nothing is stored');
      assert.ok((await world.store.listAudit({})).some((e) => e.type === 'command.refused'), 'the refusal is audited');
      const detail = await world.app.defender.detail();
      assert.deepEqual([detail.available, detail.plan], [false, 'Defender for Servers Plan 1']);
    });
  });

  describe('with VMs whose policy and VM names exceed 56 characters', () => {
    // `default` (7) + 50 = 57.
    const LONG = 'web-analytics-reporting-pipeline-worker-eu-west-01';

    beforeEach(async () => {
      const config = loadConfigFile(LOCAL_CONFIG);
      config.world!.vms.push(
        { name: LONG, resourceGroup: 'rg-web', location: 'westeurope', os: 'linux', tags: {}, jit: [{ number: 22, protocol: 'TCP', allowedSourcePrefixes: ['10.0.0.0/8'], maxDurationMinutes: 180 }] },
        { name: `${LONG.slice(0, -2)}02`, resourceGroup: 'rg-ci', location: 'westeurope', os: 'linux', tags: {}, jit: null },
      );
      world = await startWorld({ config });
      chat = new RecordingChat();
      world.addChat(chat);
    });

    it('flags such a VM in /jit vms and refuses a request for it before anything reaches Azure', async () => {
      assert.equal(LONG.length + 'default'.length, 57);
      const vms = await world.app.command(person('alice'), 'vms');
      assert.equal(vms.kind, 'vms');
      const listed = (vms as Extract<Reply, { kind: 'vms' }>).vms;
      assert.match(listed.find((v) => v.name === LONG)!.warning ?? '', /together are 57 characters, over Azure's limit of 56/);
      assert.equal(listed.find((v) => v.name === 'web-01')!.warning, undefined);
      const initiates = world.sim.requestLog.filter((e) => e.method === 'POST').length;
      const message = errorOf(await world.app.command(person('alice'), `ssh ${LONG} 1h from 10.1.2.3 for x`));
      assert.match(message, /^Azure cannot open web-analytics-.*over Azure's limit of 56\.$/);
      assert.equal(world.sim.requestLog.filter((e) => e.method === 'POST').length, initiates);
    });

    it('/jit enable refuses such a VM with the reason, and changes nothing in Azure', async () => {
      const name = `${LONG.slice(0, -2)}02`;
      const message = errorOf(await world.app.command(person('carol'), `enable ${name} ssh`));
      assert.match(message, /the JIT policy name "default" and the VM name together are 57 characters, over Azure's limit of 56; rename the VM/);
      assert.equal(world.sim.requestLog.filter((e) => e.method === 'PUT').length, 0, 'no policy write');
    });
  });
});
