// The Defender for Servers plan through the real Azure client against the simulator, and how the bot
// reports it: the probe's verdict, and /readyz details that say plainly when JIT is unavailable.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../src/app/clock';
import { DefenderProbe } from '../../src/app/defender';
import { silentLogger } from '../../src/app/logger';
import type { Cloud } from '../../src/app/ports';
import { startAzureSim, type AzureSim } from '../../src/azure-sim/server';
import { jitAvailability } from '../../src/core/azure-limits';
import { createHttpServer, type HttpServer } from '../../src/server';
import { localWorld, stopAll, testCloud } from './helpers';

describe('Defender for Servers plan', () => {
  let sim: AzureSim;
  let cloud: Cloud;
  let http: HttpServer | undefined;

  beforeEach(async () => {
    const clock = new ManualClock(new Date('2026-11-21T12:00:00Z'));
    sim = await startAzureSim({ world: localWorld({ defender: { pricingTier: 'Free' } }), clock });
    cloud = testCloud(sim, clock);
  });
  afterEach(() => stopAll(sim, http));

  it('reads the pricing through the SDK at subscription scope', async () => {
    assert.deepEqual(await cloud.defenderPlan(), { pricingTier: 'Free' });
    assert.ok(sim.requestLog.some((e) => e.method === 'GET' && /\/providers\/Microsoft\.Security\/pricings\/VirtualMachines\?api-version=2022-03-01$/.test(e.path)));
    sim.setDefender({ pricingTier: 'Standard', subPlan: 'P2' });
    assert.deepEqual(await cloud.defenderPlan(), { pricingTier: 'Standard', subPlan: 'P2' });
  });

  it('judges only Standard with Plan 2 (or the older Standard without a sub-plan) as JIT-capable', () => {
    assert.equal(jitAvailability({ pricingTier: 'Standard', subPlan: 'P2' }).available, true);
    assert.equal(jitAvailability({ pricingTier: 'Standard' }).available, true);
    assert.equal(jitAvailability({ pricingTier: 'Standard', subPlan: 'P1' }).available, false);
    assert.equal(
      jitAvailability({ pricingTier: 'Free' }).message,
      'JIT VM access is unavailable: the subscription has Free (Defender for Servers off), and JIT needs Defender for Servers Plan 2. Ask an Azure admin to enable it.',
    );
  });

  it('reports the plan in /readyz details without failing readiness, and says when Azure cannot be asked', async () => {
    const probe = new DefenderProbe(cloud);
    http = createHttpServer({ logger: silentLogger, mounts: [], readiness: [], readinessDetails: [{ name: 'defender', read: () => probe.detail({ fresh: true }) }] });
    await http.listen(0);
    const url = `http://127.0.0.1:${(http.server.address() as AddressInfo).port}/readyz`;
    const free = await fetch(url);
    assert.equal(free.status, 200, 'the bot itself is ready');
    const body = (await free.json()) as { details: { defender: { available: boolean; message: string } } };
    assert.equal(body.details.defender.available, false);
    assert.match(body.details.defender.message, /^JIT VM access is unavailable: the subscription has Free/);

    sim.setFaults({ errorRate: 1 });
    const down = (await (await fetch(url)).json()) as { details: { defender: { available: null; message: string } } };
    assert.equal(down.details.defender.available, null);
    assert.match(down.details.defender.message, /^Could not read the Defender for Servers plan: /);
    assert.equal(await probe.availability(), null, 'unknown never refuses anyone');
  });
});
