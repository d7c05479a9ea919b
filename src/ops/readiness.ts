// What /readyz says about the parts the bot stands on. The store is asked on every probe (it is ours
// and cheap); Azure is judged from the calls the bot makes anyway, and only when it has made none
// lately from one cheap, cached read: a load balancer probing every few seconds must not list the
// subscription each time, nor drop every replica over one slow answer.
import type { CallOptions, Cloud, Store } from '../app/ports';
import type { ReadinessCheck, ReadinessResult } from '../server';
import { CloudError } from '../core/errors';

export interface AzureHealthOptions {
  /** A successful call this recent answers for Azure without a probe (default 5 minutes). */
  freshForMs?: number;
  /** A probe's answer is reused this long (default 60 s). */
  probeEveryMs?: number;
  /** Deadline of one probe (default 2.5 s, inside the readiness check's 3 s). */
  probeTimeoutMs?: number;
  now?: () => number;
}

interface Outcome {
  at: number;
  ok: boolean;
  error?: string;
}

/**
 * Failures that say Azure did not answer (or answered "not now"). A 400, 404 or 409 is an answer,
 * and counts as Azure reachable.
 */
function unreachable(err: unknown): boolean {
  if (!(err instanceof CloudError)) return true;
  return err.kind === 'unavailable' || err.kind === 'timeout' || err.kind === 'throttled' || err.kind === 'forbidden' || err.kind === 'unknown';
}

export class AzureHealth {
  private lastSuccess: number | null = null;
  private lastFailure: Outcome | null = null;
  private probeResult: Outcome | null = null;
  private probing: Promise<Outcome> | null = null;
  private readonly freshForMs: number;
  private readonly probeEveryMs: number;
  private readonly probeTimeoutMs: number;
  private readonly now: () => number;

  constructor(
    private readonly cloud: Cloud,
    opts: AzureHealthOptions = {},
  ) {
    this.freshForMs = opts.freshForMs ?? 5 * 60_000;
    this.probeEveryMs = opts.probeEveryMs ?? 60_000;
    this.probeTimeoutMs = opts.probeTimeoutMs ?? 2500;
    this.now = opts.now ?? Date.now;
  }

  /** The Cloud the app uses, recording how each call went. */
  tracked(): Cloud {
    const cloud = this.cloud;
    const record = <T>(p: Promise<T>): Promise<T> =>
      p.then(
        (v) => {
          this.lastSuccess = this.now();
          return v;
        },
        (err: unknown) => {
          if (unreachable(err)) this.lastFailure = { at: this.now(), ok: false, error: err instanceof Error ? err.message : String(err) };
          else this.lastSuccess = this.now();
          throw err;
        },
      );
    return {
      listVms: (o) => record(cloud.listVms(o)),
      open: (s, o) => record(cloud.open(s, o)),
      extend: (s, o) => record(cloud.extend(s, o)),
      close: (s, o) => record(cloud.close(s, o)),
      enable: (v, r, o) => record(cloud.enable(v, r, o)),
      probe: (o) => record(cloud.probe(o)),
      accessRecords: (v, o) => record(cloud.accessRecords(v, o)),
      defenderPlan: (o) => record(cloud.defenderPlan(o)),
    };
  }

  /** Readiness of Azure: from the last call when recent, else from a probe at most every probeEveryMs. */
  async status(): Promise<ReadinessResult> {
    const now = this.now();
    const failedSince = this.lastFailure && (this.lastSuccess === null || this.lastFailure.at > this.lastSuccess) ? this.lastFailure : null;
    if (this.lastSuccess !== null && now - this.lastSuccess <= this.freshForMs && !failedSince) {
      return { ok: true, details: { from: 'last call', lastSuccessAt: new Date(this.lastSuccess).toISOString() } };
    }
    let probe = this.probeResult;
    if (!probe || now - probe.at > this.probeEveryMs) probe = await this.probeOnce();
    return {
      ok: probe.ok,
      details: {
        from: 'probe',
        probedAt: new Date(probe.at).toISOString(),
        ...(this.lastSuccess !== null ? { lastSuccessAt: new Date(this.lastSuccess).toISOString() } : {}),
      },
      ...(probe.ok ? {} : { error: probe.error ?? 'Azure did not answer' }),
    };
  }

  /** One probe at a time, however many readiness requests arrive together. */
  private probeOnce(): Promise<Outcome> {
    this.probing ??= (async () => {
      const opts: CallOptions = { timeoutInMs: this.probeTimeoutMs };
      let outcome: Outcome;
      try {
        await this.tracked().probe(opts);
        outcome = { at: this.now(), ok: true };
      } catch (err) {
        outcome = unreachable(err) ? { at: this.now(), ok: false, error: err instanceof Error ? err.message : String(err) } : { at: this.now(), ok: true };
      }
      this.probeResult = outcome;
      return outcome;
    })().finally(() => {
      this.probing = null;
    });
    return this.probing;
  }
}

/**
 * /readyz's checks: the store answers and holds this build's migrations (required), and Azure
 * (reported, not required: every replica shares the same Azure, so taking replicas out of the load
 * balancer would not route around an outage; it would only silence the bot, which can still tell
 * people what is happening and keep their requests).
 */
export function readinessChecks(store: Store, azure: AzureHealth): ReadinessCheck[] {
  return [
    {
      name: 'store',
      check: async () => {
        const health = await store.ping();
        const migrated = health.schemaVersion >= health.expectedVersion;
        return {
          ok: migrated,
          details: { schemaVersion: health.schemaVersion, expectedVersion: health.expectedVersion },
          ...(migrated ? {} : { error: `the database schema is at version ${health.schemaVersion}; this build needs ${health.expectedVersion}` }),
        };
      },
    },
    { name: 'azure', required: false, check: () => azure.status() },
  ];
}
