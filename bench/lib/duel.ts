// Side-by-side rounds of the bot against its floor. The machine is shared and noisy, so the two run
// alternately (A B, B A, A B, …: neither always goes first, when caches or a neighbour's load
// favour one slot), each ratio is taken within one pair of rounds, and the report gives medians of
// rounds and of ratios rather than one long run that a burst of noise could tilt.
import { performance } from 'node:perf_hooks';
import type { LoadResult } from './load';
import { sleep } from './procs';
import { max, median, percentile, ratio, round } from './stats';

export interface RoundResult {
  n: number;
  /** Answers that were the expected ones (200 and the right body). */
  ok: number;
  /** Completed requests per second: answered and the card posted, over the round's wall time. */
  rps: number;
  /** Answers per second, over the time the answers took (background work may still run). */
  ackRps: number;
  p50: number;
  p99: number;
  max: number;
  statuses: Record<string, number>;
  errors: number;
  /**
   * CPU time the process used per request over the round (answer, card and all background work): a
   * figure the machine's other load moves far less than rates and latencies.
   */
  cpuMsPerRequest?: number;
}

export interface DuelSide {
  rounds: RoundResult[];
  rps: number;
  ackRps: number;
  p50: number;
  p99: number;
  cpuMsPerRequest?: number;
}

export interface DuelResult {
  bot: DuelSide;
  floor: DuelSide;
  /** Medians of the per-pair ratios bot/floor. */
  ratios: { rps: number; ackRps: number; p50: number; p99: number; cpuMsPerRequest?: number };
}

function side(rounds: RoundResult[]): DuelSide {
  return {
    rounds,
    rps: round(median(rounds.map((r) => r.rps)), 1),
    ackRps: round(median(rounds.map((r) => r.ackRps)), 1),
    p50: round(median(rounds.map((r) => r.p50))),
    p99: round(median(rounds.map((r) => r.p99))),
    ...(rounds.every((r) => r.cpuMsPerRequest !== undefined) ? { cpuMsPerRequest: round(median(rounds.map((r) => r.cpuMsPerRequest!)), 3) } : {}),
  };
}

export async function duel(opts: {
  rounds: number;
  perRound: number;
  warmup: number;
  run: (who: 'bot' | 'floor', n: number) => Promise<RoundResult>;
  log: (line: string) => void;
}): Promise<DuelResult> {
  // Warm both (JIT, connection pools, the bot's user cache and VM list) before anything counts.
  await opts.run('bot', opts.warmup);
  await opts.run('floor', opts.warmup);
  const bot: RoundResult[] = [];
  const floor: RoundResult[] = [];
  for (let i = 0; i < opts.rounds; i++) {
    const order: Array<'bot' | 'floor'> = i % 2 === 0 ? ['bot', 'floor'] : ['floor', 'bot'];
    for (const who of order) {
      const r = await opts.run(who, opts.perRound);
      (who === 'bot' ? bot : floor).push(r);
      opts.log(`    round ${i + 1} ${who.padEnd(5)} ${r.rps.toFixed(0).padStart(5)} req/s (acks ${r.ackRps.toFixed(0)}/s)  p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms  ok ${r.ok}/${r.n}${r.cpuMsPerRequest !== undefined ? `  cpu ${r.cpuMsPerRequest.toFixed(2)} ms/req` : ''}`);
    }
  }
  const pairs = bot.map((b, i) => [b, floor[i]] as const);
  return {
    bot: side(bot),
    floor: side(floor),
    ratios: {
      rps: round(median(pairs.map(([b, f]) => ratio(b.rps, f.rps))), 3),
      ackRps: round(median(pairs.map(([b, f]) => ratio(b.ackRps, f.ackRps))), 3),
      p50: round(median(pairs.map(([b, f]) => ratio(b.p50, f.p50))), 3),
      p99: round(median(pairs.map(([b, f]) => ratio(b.p99, f.p99))), 3),
      ...(pairs.every(([b, f]) => b.cpuMsPerRequest !== undefined && f.cpuMsPerRequest !== undefined)
        ? { cpuMsPerRequest: round(median(pairs.map(([b, f]) => ratio(b.cpuMsPerRequest!, f.cpuMsPerRequest!))), 3) }
        : {}),
    },
  };
}

export async function waitUntil(check: () => boolean, timeoutMs: number, pollMs = 5): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await sleep(pollMs);
  }
  return true;
}

/** Cards the fake chat API saw posted in the approvals channel during a round. */
export interface CardCounter {
  count(): number;
  /** Date.now() of the last one. */
  lastAt(): number;
}

/**
 * A round is done when every card is in the channel too, so background work never spills into the
 * other side's round; req/s counts a request once it is answered and its card is posted.
 */
export async function finishRound(opts: {
  who: string;
  n: number;
  ok: number;
  startedAt: number;
  load: LoadResult;
  cards: CardCounter;
  log: (line: string) => void;
  /** The process's CPU ms so far (cpuMsOf) and its reading when the round began. */
  cpu?: { read: () => number; atStart: number };
}): Promise<RoundResult> {
  const { who, n, ok, startedAt, load, cards } = opts;
  const allPosted = await waitUntil(() => cards.count() >= n, 120_000);
  if (!allPosted) opts.log(`    ${who}: only ${cards.count()} of ${n} cards were posted`);
  // Both clocks agree to the millisecond; the fake stamps arrivals with Date.now().
  const e2eMs = Math.max(cards.lastAt() - startedAt, load.wallMs);
  await sleep(200);
  const cpuMs = opts.cpu ? opts.cpu.read() - opts.cpu.atStart : undefined;
  return {
    n,
    ok,
    rps: (cards.count() / e2eMs) * 1000,
    ackRps: (n / load.wallMs) * 1000,
    p50: percentile(load.latenciesMs, 50),
    p99: percentile(load.latenciesMs, 99),
    max: max(load.latenciesMs),
    statuses: load.statuses,
    errors: load.errors,
    ...(cpuMs !== undefined ? { cpuMsPerRequest: cpuMs / n } : {}),
  };
}
