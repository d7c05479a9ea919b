// A loopback Azure Resource Manager for the JIT and Compute calls the bot makes. The real
// `@azure/arm-security` and `@azure/arm-compute` clients talk to it unchanged (see src/azure's
// `redirectTo`), so local mode and the tests exercise the same code that runs against Azure.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Clock } from '../app/ports';
import { PortGuards, type GuardListener } from './guard';
import { ArmServer, type SimFaults, type SimRequestLogEntry } from './arm-server';
import { SimState, type AccessCheck, type NsgRule } from './state';
import type { SimWorld } from './world';

export type { AccessCheck, NsgRule } from './state';
export type { SimFaults, SimFault, SimRequestLogEntry } from './arm-server';
export type { GuardListener } from './guard';
export type { SimDefender, SimFirewall, SimVm, SimWorld } from './world';
import type { SimDefender } from './world';

export interface AzureSimOptions {
  world: SimWorld;
  /** Request statuses and NSG rules follow this clock; advancing it is enough to expire access. */
  clock: Clock;
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: '127.0.0.1';
  faults?: SimFaults;
  /** Items per list page before a `nextLink` (default 100). */
  pageSize?: number;
  /** Recorded as `requestor` on initiated requests (Azure records the caller's identity). */
  requestor?: string;
  /**
   * Local mode: a JSON file the policies and their request history are kept in, read at start and
   * rewritten (atomically) after every change, so a restarted bot finds the NSG as it left it.
   */
  stateFile?: string;
  /**
   * How long after answering an initiate with 202 the NSG rules are written (ports say `Initiating`
   * until then). Default 0; local mode sets a few seconds so the gap is visible.
   */
  applyDelayMs?: number;
}

export interface AzureSim {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  close(): Promise<void>;
  setFaults(faults: SimFaults): void;
  /** The VM's simulated inbound NSG rules, in priority order. */
  nsg(vmName: string): NsgRule[];
  /** Whether `source` may reach `port` of the VM now, and until when. */
  check(vmName: string, port: number, source: string): AccessCheck;
  /** With `world.guard`: the loopback port that stands for the VM's port. */
  guardPort(vmName: string, port: number): number | undefined;
  guards(): GuardListener[];
  /** Recent ARM calls, oldest first (at most 1000). */
  readonly requestLog: readonly SimRequestLogEntry[];
  /** For initiates from now on (also `POST /_sim/control {"applyDelayMs": …}`). */
  setApplyDelay(ms: number): void;
  /** Later initiates for the VM fail when Azure writes the NSG rule; null ends that. */
  setApplyFailure(vmName: string, message: string | null): void;
  /** The Defender for Servers plan the pricing API reports. */
  setDefender(defender: SimDefender): void;
}

export async function startAzureSim(opts: AzureSimOptions): Promise<AzureSim> {
  const host = opts.host ?? '127.0.0.1';
  const state = new SimState(opts.world, opts.clock, opts.requestor ?? 'jitbot@sim.local', { applyDelayMs: opts.applyDelayMs ?? 0 });
  if (opts.stateFile) keepStateIn(state, opts.stateFile);
  const guards = opts.world.guard ? new PortGuards({ host, check: (vm, port, source) => state.check(vm, port, source) }) : null;
  const syncGuards = async () => {
    if (guards) await guards.ensure(state.protectedPorts());
  };
  let url = '';
  const arm = new ArmServer({
    state,
    baseUrl: () => url,
    pageSize: opts.pageSize ?? 100,
    faults: opts.faults ?? {},
    afterPolicyWrite: syncGuards,
    guards: () => guards?.list() ?? [],
  });
  const server = http.createServer((req, res) => arm.handle(req, res));
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  url = `http://${host}:${typeof address === 'object' && address ? address.port : 0}`;
  try {
    await syncGuards();
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw err;
  }

  let closing: Promise<void> | undefined;
  return {
    url,
    close() {
      closing ??= (async () => {
        arm.cancelPending();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await Promise.all([closed, guards?.close()]);
      })();
      return closing;
    },
    setFaults: (faults) => arm.setFaults(faults),
    nsg: (vmName) => state.nsg(vmName),
    check: (vmName, port, source) => state.check(vmName, port, source),
    guardPort: (vmName, port) => guards?.portOf(vmName, port),
    guards: () => guards?.list() ?? [],
    get requestLog() {
      return arm.requestLog;
    },
    setApplyDelay: (ms) => state.setApplyDelay(ms),
    setApplyFailure: (vmName, message) => state.setApplyFailure(vmName, message),
    setDefender: (defender) => state.setDefender(defender),
  };
}

/**
 * Restore the state saved in `file` (when there is one this subscription wrote) and save it after
 * every write: to a temporary file first, then renamed over the old one, so a crash mid-write leaves
 * the previous state whole.
 */
function keepStateIn(state: SimState, file: string): void {
  if (existsSync(file)) {
    let saved: unknown;
    try {
      saved = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`${file}: the saved simulator state is not JSON (${err instanceof Error ? err.message : String(err)}); move it away to start afresh`);
    }
    if (!state.restore(saved)) throw new Error(`${file}: the saved simulator state belongs to another subscription or version; move it away to start afresh`);
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const save = () => {
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(state.snapshot()));
    renameSync(tmp, file);
  };
  state.onWrite(save);
  save();
}
