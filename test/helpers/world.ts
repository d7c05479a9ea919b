// One running jitbot world for a test: config from examples/local.yaml, a manual clock, the real
// store (PGlite, or PostgreSQL when asked and TEST_DATABASE_URL is set), the Azure simulator behind
// the real Azure SDK client, and the real use cases with their scheduler.
import { ManualClock } from '../../src/app/clock';
import { JitApp, type JitAppOptions } from '../../src/app/jit-app';
import type { ChatPort, Cloud, Store } from '../../src/app/ports';
import { createAzureCloud } from '../../src/azure';
import { startAzureSim, type AzureSim } from '../../src/azure-sim/server';
import { loadConfigFile, type LoadedConfig } from '../../src/config/file';
import type { Actor, Platform } from '../../src/core/types';
import { openTestStore } from '../../src/store';

export { LOCAL_CONFIG } from './paths';
import { LOCAL_CONFIG } from './paths';

export type Engine = 'pglite' | 'postgres';

/** Engines to run a suite on: PGlite always, PostgreSQL when TEST_DATABASE_URL is set. */
export function engines(): Engine[] {
  return process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

export interface WorldOptions {
  engine?: Engine;
  config?: LoadedConfig;
  faults?: Parameters<AzureSim['setFaults']>[0];
  app?: Partial<JitAppOptions>;
  start?: Date;
}

export interface TestWorld {
  config: LoadedConfig;
  clock: ManualClock;
  store: Store;
  sim: AzureSim;
  cloud: Cloud;
  app: JitApp;
  addChat(chat: ChatPort): void;
  /** Move the clock and run everything that became due. */
  advance(ms: number): Promise<void>;
  /** Run due jobs until nothing is due (deliveries, openings). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** The example world plus `extra` web VMs (`web-101`…), copies of web-01, so `web-*` is a big glob. */
export function bigWorldConfig(extra = 200): LoadedConfig {
  const config = loadConfigFile(LOCAL_CONFIG);
  const world = config.world!;
  const web = world.vms.find((vm) => vm.name === 'web-01')!;
  const more = Array.from({ length: extra }, (_, i) => ({ ...structuredClone(web), name: `web-${String(i + 101).padStart(3, '0')}` }));
  return { ...config, world: { ...world, vms: [...world.vms, ...more] } };
}

export async function startWorld(opts: WorldOptions = {}): Promise<TestWorld> {
  const config = opts.config ?? loadConfigFile(LOCAL_CONFIG);
  if (!config.world) throw new Error('the test config needs an azure: section');
  const clock = new ManualClock(opts.start);
  const store = await openTestStore(opts.engine ?? 'pglite');
  const sim = await startAzureSim({ world: config.world, clock, port: 0, ...(opts.faults ? { faults: opts.faults } : {}) });
  const cloud = createAzureCloud({
    subscriptionId: config.world.subscriptionId,
    redirectTo: sim.url,
    clock,
    retry: { maxRetries: 2, retryDelayInMs: 5, maxRetryDelayInMs: 20 },
    timeoutInMs: 5000,
  });
  const app = new JitApp({
    policy: config.policy,
    store,
    cloud,
    clock,
    vmCacheTtlMs: 0,
    scheduler: { pollIntervalMs: 60_000, leaseMs: 30_000 },
    ...opts.app,
  });
  const settle = () => app.scheduler.drain();
  return {
    config,
    clock,
    store,
    sim,
    cloud,
    app,
    addChat: (chat) => app.addChat(chat),
    settle,
    advance: async (ms) => {
      clock.advance(ms);
      await settle();
    },
    close: async () => {
      await app.stop({ timeoutMs: 2000 });
      await sim.close();
      await store.close();
    },
  };
}

/** The people of examples/local.yaml as they would arrive from a platform. */
export function person(name: 'alice' | 'bob' | 'carol' | 'dave' | 'mallory', platform: Platform = 'console'): Actor {
  const email = `${name}@example.com`;
  const display = name[0].toUpperCase() + name.slice(1);
  return { platform, userId: platform === 'console' ? email : `U_${name.toUpperCase()}`, email, name: display };
}

export const MINUTE = 60_000;
