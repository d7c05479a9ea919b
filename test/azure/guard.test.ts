// `guard: true`: real TCP listeners stand in for the VMs' protected ports and let a connection in
// only while the simulated NSG allows its declared source.
import assert from 'node:assert/strict';
import net from 'node:net';
import { ManualClock } from '../../src/app/clock';
import type { Cloud } from '../../src/app/ports';
import { startAzureSim, type AzureSim } from '../../src/azure-sim/server';
import type { Vm } from '../../src/core/types';
import { MINUTE, localWorld, stopAll, testCloud } from './helpers';

interface Attempt {
  accepted: boolean;
  greeting?: string;
  socket?: net.Socket;
}

/** Connects, declares the source, and waits for the guard's greeting or for the connection to drop. */
function connect(port: number, firstLine: string): Promise<Attempt> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let settled = false;
    const done = (attempt: Attempt) => {
      if (settled) return;
      settled = true;
      resolve(attempt);
    };
    socket.once('data', (data: Buffer) => done({ accepted: true, greeting: data.toString('utf8').trim(), socket }));
    socket.once('error', () => done({ accepted: false }));
    socket.once('close', () => done({ accepted: false }));
    socket.once('connect', () => socket.write(firstLine));
  });
}

function echo(socket: net.Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once('data', (data: Buffer) => resolve(data.toString('utf8')));
    socket.once('error', reject);
    socket.write(text);
  });
}

describe('Azure simulator port guard', () => {
  let clock: ManualClock;
  let sim: AzureSim;
  let cloud: Cloud;
  let vms: Map<string, Vm>;
  const open: net.Socket[] = [];

  beforeEach(async () => {
    clock = new ManualClock(new Date('2026-11-21T12:00:00Z'));
    sim = await startAzureSim({ world: localWorld({ guard: true }), clock });
    cloud = testCloud(sim, clock);
    vms = new Map((await cloud.listVms()).map((vm) => [vm.name, vm]));
  });
  afterEach(async () => {
    for (const s of open.splice(0)) s.destroy();
    await stopAll(sim);
  });

  it('listens on a loopback port for every protected VM port and none for a VM without JIT', () => {
    assert.deepEqual(sim.guards().map((g) => `${g.vmName}:${g.port}`).sort(), ['sql-01:3389', 'sql-01:5986', 'web-01:22', 'web-02:22', 'web-fw-01:22']);
    assert.equal(sim.guardPort('build-01', 22), undefined);
  });

  it("refuses web-01's port 22 before approval, accepts it after initiate, refuses again after expiry, while an open connection survives", async () => {
    const port = sim.guardPort('web-01', 22);
    assert.ok(port);
    assert.equal((await connect(port, 'SOURCE 10.1.2.3\n')).accepted, false, 'refused before approval');

    await cloud.open({
      vms: [vms.get('web-01')!],
      ports: [{ number: 22, protocol: 'TCP' }],
      sources: ['10.1.2.3'],
      endsAt: new Date(clock.now().getTime() + 60 * MINUTE),
      justification: 'guard drill',
    });
    const during = await connect(port, 'SOURCE 10.1.2.3\n');
    assert.equal(during.accepted, true, 'accepted during the window');
    assert.equal(during.greeting, 'OK web-01:22 until 2026-11-21T13:00:00.000Z');
    open.push(during.socket!);
    assert.equal((await connect(port, 'SOURCE 10.9.9.9\n')).accepted, false, 'another source stays out');

    clock.advance(60 * MINUTE);
    assert.equal((await connect(port, 'SOURCE 10.1.2.3\n')).accepted, false, 'refused after expiry');
    assert.equal(await echo(during.socket!, 'still here\n'), 'still here\n', 'the connection opened during the window survives');
  });

  it('refuses a client that does not declare its source', async () => {
    await cloud.open({
      vms: [vms.get('web-01')!],
      ports: [{ number: 22, protocol: 'TCP' }],
      sources: ['10.1.2.3'],
      endsAt: new Date(clock.now().getTime() + 30 * MINUTE),
      justification: 'guard drill',
    });
    assert.equal((await connect(sim.guardPort('web-01', 22)!, 'SSH-2.0-OpenSSH_9.6\r\n')).accepted, false);
  });

  it('opens a listener for a port that a new policy protects', async () => {
    await cloud.enable(vms.get('build-01')!, [{ number: 22, protocol: 'TCP', allowedSourcePrefixes: ['*'], maxDurationMinutes: 60 }]);
    const port = sim.guardPort('build-01', 22);
    assert.ok(port, 'listening right after the PUT answered');
    assert.equal((await connect(port, 'SOURCE 203.0.113.7\n')).accepted, false);
  });
});
