// Whether JIT can work at all on the subscription: Defender for Servers Plan 2, read from Azure's
// pricing API at start, for /readyz, and before a request is taken. Cached, because the plan
// changes rarely and every request would otherwise cost an ARM read.
import { jitAvailability, type JitAvailability } from '../core/azure-limits';
import { CloudError } from '../core/errors';
import type { Cloud } from './ports';

export interface DefenderDetail {
  /** null when Azure could not be asked. */
  available: boolean | null;
  plan?: string;
  message: string;
  checkedAt: string;
}

const DEFAULT_TTL_MS = 5 * 60_000;
/** After a failed read, ask again soon rather than keep a stale "unknown". */
const FAILURE_TTL_MS = 30_000;

export class DefenderProbe {
  private cached: { at: number; detail: DefenderDetail; availability: JitAvailability | null } | null = null;
  private inflight: Promise<DefenderDetail> | null = null;

  constructor(
    private readonly cloud: Pick<Cloud, 'defenderPlan'>,
    private readonly opts: { ttlMs?: number; timeoutInMs?: number } = {},
  ) {}

  /** The plan's verdict, or null when unknown (Azure unreachable): unknown never refuses anyone. */
  async availability(opts: { fresh?: boolean } = {}): Promise<JitAvailability | null> {
    await this.detail(opts);
    return this.cached?.availability ?? null;
  }

  /** For /readyz and the start banner: never throws. */
  async detail(opts: { fresh?: boolean } = {}): Promise<DefenderDetail> {
    const c = this.cached;
    if (!opts.fresh && c && Date.now() - c.at < (c.availability ? (this.opts.ttlMs ?? DEFAULT_TTL_MS) : FAILURE_TTL_MS)) return c.detail;
    this.inflight ??= this.read().finally(() => (this.inflight = null));
    return this.inflight;
  }

  private async read(): Promise<DefenderDetail> {
    const checkedAt = new Date().toISOString();
    try {
      const availability = jitAvailability(await this.cloud.defenderPlan({ timeoutInMs: this.opts.timeoutInMs ?? 10_000 }));
      const detail = { available: availability.available, plan: availability.plan, message: availability.message, checkedAt };
      this.cached = { at: Date.now(), detail, availability };
      return detail;
    } catch (err) {
      const why = err instanceof CloudError ? err.message : 'Azure could not be reached';
      const detail = { available: null, message: `Could not read the Defender for Servers plan: ${why}`, checkedAt };
      this.cached = { at: Date.now(), detail, availability: null };
      return detail;
    }
  }
}
