// Azure misbehaving: throttling, errors and slow answers injected by the simulator. Every call must
// end, in a result or a typed CloudError, within a bounded time.
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/app/clock';
import type { Cloud, OpenSpec } from '../../src/app/ports';
import { startAzureSim, type AzureSim } from '../../src/azure-sim/server';
import { CloudError } from '../../src/core/errors';
import type { Vm } from '../../src/core/types';
import { MINUTE, localWorld, stopAll, testCloud } from './helpers';

async function timed<T>(work: () => Promise<T>): Promise<{ ok: boolean; error?: unknown; ms: number }> {
  const started = Date.now();
  try {
    await work();
    return { ok: true, ms: Date.now() - started };
  } catch (error) {
    return { ok: false, error, ms: Date.now() - started };
  }
}

describe('Azure cloud under injected faults', () => {
  let clock: ManualClock;
  let sim: AzureSim;
  let vms: Map<string, Vm>;

  beforeEach(async () => {
    clock = new ManualClock(new Date('2026-11-21T12:00:00Z'));
    sim = await startAzureSim({ world: localWorld(), clock });
    vms = new Map((await testCloud(sim, clock).listVms()).map((vm) => [vm.name, vm]));
  });
  afterEach(() => stopAll(sim));

  function ssh(name: string, minutes: number): OpenSpec {
    return {
      vms: [vms.get(name)!],
      ports: [{ number: 22, protocol: 'TCP' }],
      sources: ['10.1.2.3'],
      endsAt: new Date(clock.now().getTime() + minutes * MINUTE),
      justification: 'fault drill',
    };
  }

  it('with 30% of answers throttled, failed or slow, 50 calls each end in a result or a typed CloudError, and none hangs', async () => {
    const timeoutInMs = 300;
    sim.setFaults({ throttleRate: 0.1, errorRate: 0.1, slowRate: 0.1, slowMs: 600, retryAfterSeconds: 0, seed: 4711 });
    const cloud: Cloud = testCloud(sim, clock, { timeoutInMs, retry: { maxRetries: 2, retryDelayInMs: 5, maxRetryDelayInMs: 20 } });
    const web02 = vms.get('web-02')!;
    const calls: Array<() => Promise<unknown>> = [
      () => cloud.listVms(),
      () => cloud.open(ssh('web-01', 60)),
      () => cloud.extend(ssh('web-01', 90)),
      () => cloud.close(ssh('web-01', 0)),
      () => cloud.accessRecords([vms.get('web-01')!]),
      () => cloud.enable(web02, web02.jit!),
    ];
    const started = Date.now();
    const outcomes = await Promise.all(Array.from({ length: 50 }, (_, i) => timed(calls[i % calls.length])));
    const totalMs = Date.now() - started;

    for (const o of outcomes) {
      if (!o.ok) assert.ok(o.error instanceof CloudError, `a typed error, not ${String(o.error)}`);
      // A failed open also closes what may have opened: at most two timeouts back to back.
      assert.ok(o.ms < 2 * timeoutInMs + 400, `one call took ${o.ms} ms`);
    }
    assert.ok(totalMs < 3_000, `50 calls took ${totalMs} ms`);
    const faults = sim.requestLog.filter((e) => e.fault);
    assert.ok(faults.some((e) => e.fault === 'throttle') && faults.some((e) => e.fault === 'error') && faults.some((e) => e.fault === 'slow'), 'every fault kind was injected');
    assert.ok(outcomes.filter((o) => o.ok).length >= 10, 'retries carry most calls through');
    const kinds = new Set(outcomes.filter((o) => !o.ok).map((o) => (o.error as CloudError).kind));
    for (const kind of kinds) assert.ok(['timeout', 'throttled', 'unavailable', 'invalid', 'conflict'].includes(kind), `unexpected kind ${kind}`);
  });

  it('ends at once as throttled when Azure asks to wait longer than the call may take', async () => {
    sim.setFaults({ throttleRate: 1, retryAfterSeconds: 30 });
    const cloud = testCloud(sim, clock, { timeoutInMs: 2_000 });
    const o = await timed(() => cloud.listVms());
    assert.ok(o.error instanceof CloudError);
    assert.equal(o.error.kind, 'throttled');
    assert.equal(o.error.retryAfterMs, 30_000);
    assert.equal(o.error.message, "Azure is throttling the bot's requests right now; try again in 30 seconds.");
    assert.ok(o.ms < 1_000, `took ${o.ms} ms`);
  });

  it('retries throttled answers Azure says may be retried now, and ends throttled when they do not stop', async () => {
    sim.setFaults({ throttleRate: 1, retryAfterSeconds: 0 });
    const o = await timed(() => testCloud(sim, clock, { retry: { maxRetries: 2, retryDelayInMs: 5, maxRetryDelayInMs: 20 } }).open(ssh('web-01', 60)));
    assert.ok(o.error instanceof CloudError);
    assert.equal(o.error.kind, 'throttled');
    assert.equal(sim.requestLog.filter((e) => e.method === 'POST').length, 3, 'one try and two retries');
    assert.equal(sim.check('web-01', 22, '10.1.2.3').allowed, false);
  });

  it('ends persistent 500s as unavailable after the retries', async () => {
    sim.setFaults({ errorRate: 1 });
    const o = await timed(() => testCloud(sim, clock).accessRecords([vms.get('web-01')!]));
    assert.ok(o.error instanceof CloudError);
    assert.equal(o.error.kind, 'unavailable');
    assert.equal(o.error.status, 500);
    assert.equal(o.error.retryable, true);
    assert.equal(sim.requestLog.filter((e) => e.fault === 'error').length, 3);
  });

  it('ends a slow Azure as timeout after the timeout, saying how long it waited', async () => {
    sim.setFaults({ slowRate: 1, slowMs: 5_000 });
    const o = await timed(() => testCloud(sim, clock, { timeoutInMs: 200 }).listVms());
    assert.ok(o.error instanceof CloudError);
    assert.equal(o.error.kind, 'timeout');
    assert.equal(o.error.message, 'Azure did not answer within 1 second; try again in a minute.');
    assert.ok(o.ms >= 190 && o.ms < 700, `took ${o.ms} ms`);
  });

  it('honours a per-call timeout shorter than the client default', async () => {
    sim.setFaults({ slowRate: 1, slowMs: 5_000 });
    const o = await timed(() => testCloud(sim, clock, { timeoutInMs: 10_000 }).listVms({ timeoutInMs: 100 }));
    assert.ok(o.error instanceof CloudError);
    assert.equal(o.error.kind, 'timeout');
    assert.ok(o.ms < 600, `took ${o.ms} ms`);
  });

  it('closes an open whose answer never came, because Azure may have opened the port anyway', async () => {
    sim.setFaults({ slowRate: 1, slowMs: 400 });
    const cloud = testCloud(sim, clock, { timeoutInMs: 150 });
    const o = await timed(() => cloud.open(ssh('web-01', 60)));
    assert.ok(o.error instanceof CloudError);
    assert.equal(o.error.kind, 'timeout');
    sim.setFaults({});
    await new Promise((resolve) => setTimeout(resolve, 500));
    const history = await testCloud(sim, clock).accessRecords([vms.get('web-01')!]);
    assert.deepEqual(history.map((r) => [r.status, r.justification?.startsWith('closing after a failed open')]), [
      ['NewerRequestInitiated', false],
      ['Initiated', true],
    ]);
    clock.advance(MINUTE);
    assert.equal(sim.check('web-01', 22, '10.1.2.3').allowed, false);
  });
});
