// Runs due jobs (expiry, reminders, deliveries) from the store. Several processes may run one each:
// a job is leased before it runs, so each runs in one place; a lease left by a dead process lapses
// and another process takes the job over. Handlers must therefore tolerate a second run of work
// whose completion was never recorded (they re-read the request and compare-and-set).
import { isJitError } from '../core/errors';
import { runWithLogContext } from './logger';
import type { Clock, Job, JobKind, JobLease, Store } from './ports';

export type JobHandler = (job: Job, signal: AbortSignal) => Promise<void>;

export interface SchedulerLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface SchedulerOptions {
  store: Store;
  clock: Clock;
  /** Names this process's leases; unique per process. */
  owner: string;
  handlers: Partial<Record<JobKind, JobHandler>>;
  pollIntervalMs?: number;
  leaseMs?: number;
  /** Jobs claimed per round, at most. */
  batchSize?: number;
  /** Handlers running at once. */
  concurrency?: number;
  /** Runs of one job before it is given up (the first run counts). */
  maxAttempts?: number;
  /** Wait before the next try, given the number of the try that just failed (1 for the first). */
  backoffMs?: (attempt: number) => number;
  /**
   * Kinds that wait to start while jobs of other kinds this process holds are unfinished, for at
   * most `deferMaxMs`: work whose lateness nobody notices (redrawing a message already on screen)
   * yields to work somebody waits for (the Azure call behind an approval, the reply saying it is open).
   */
  deferKinds?: readonly JobKind[];
  deferMaxMs?: number;
  logger?: SchedulerLogger;
}

export interface SchedulerStats {
  /** Claim rounds run. */
  rounds: number;
  /** Jobs leased (by rounds and by runJob). */
  claimed: number;
  succeeded: number;
  retried: number;
  failed: number;
  /** Handlers running now. */
  running: number;
  /** How late the most recently started job ran: clock time at start minus its due time. */
  lastLagMs: number | null;
}

const DEFAULTS = {
  pollIntervalMs: 500,
  leaseMs: 30_000,
  batchSize: 100,
  // Handlers mostly wait (on the chat APIs, Azure, the store), so more of them than cores pays off:
  // with 16 the 10,000 expiries of a busy minute fell half a minute behind on PGlite, whose one
  // connection sat idle between them, and the store had too few concurrent reads to coalesce
  // (src/store/coalesce.ts). Outbound rate limits are answered by retries with Retry-After.
  concurrency: 64,
  maxAttempts: 8,
};
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
const DEFAULT_DEFER_MAX_MS = 100;
/** The poll's shortest sleep: jobs falling due closer together than this are claimed together. */
const MIN_POLL_GAP_MS = 20;
const COMPLETE_ATTEMPTS = 4;
const COMPLETE_RETRY_MS = 200;
// After the stop deadline aborts the handlers, how long they get to notice before leases are dropped.
const ABORT_GRACE_MS = 1_000;
const MAX_ERROR_CHARS = 2_000;
const LAG_BUCKET_MS = 5_000;
const MAX_LAG_BUCKETS = 64;

/** 1 s, 2 s, 4 s … capped at 5 minutes, plus up to 20 % so retries after an outage spread out. */
export function defaultBackoffMs(attempt: number): number {
  const base = Math.min(1_000 * 2 ** Math.max(0, attempt - 1), 300_000);
  return Math.round(base * (1 + Math.random() * 0.2));
}

interface Round {
  claimed: number;
  /** Settles when the round's jobs have finished. */
  finished: Promise<void>;
}

const EMPTY_ROUND: Round = { claimed: 0, finished: Promise.resolve() };

const silent: SchedulerLogger = { warn() {}, error() {} };

export class Scheduler {
  readonly stats: SchedulerStats = { rounds: 0, claimed: 0, succeeded: 0, retried: 0, failed: 0, running: 0, lastLagMs: null };

  private readonly store: Store;
  private readonly clock: Clock;
  private readonly owner: string;
  private readonly handlers: Partial<Record<JobKind, JobHandler>>;
  private readonly pollIntervalMs: number;
  private readonly leaseMs: number;
  private readonly batchSize: number;
  private readonly concurrency: number;
  /** Claim again only when no more than this many claimed jobs are unfinished. */
  private readonly refillBelow: number;
  private readonly maxAttempts: number;
  private readonly backoffMs: (attempt: number) => number;
  private readonly deferKinds: ReadonlySet<JobKind>;
  private readonly deferMaxMs: number;
  private readonly log: SchedulerLogger;

  private readonly aborter = new AbortController();
  /** Worst lag per LAG_BUCKET_MS of real time, oldest first. */
  private readonly lagBuckets = new Map<number, number>();
  /** Every claimed job until it has finished, whether running or waiting for a handler slot. */
  private readonly inFlight = new Set<Promise<void>>();
  private currentRound: Promise<Round> | null = null;
  private nextRound: Promise<Round> | null = null;
  /** Handler slots taken, and the jobs waiting for one, first come first served. */
  private slotsTaken = 0;
  private readonly slotQueue: Array<() => void> = [];
  /** Jobs claimed by rounds that have not finished. */
  private pending = 0;
  /**
   * The jobs this process has claimed and not finished, by id, with the latest lease it holds on
   * each: a claim that takes one of them again (its lease looked lapsed after the local clock moved)
   * renews that lease for this process, so the job, still waiting here, runs under the new one.
   */
  private readonly holding = new Map<string, number>();
  /** Claimed jobs not of a deferred kind, unfinished; and the deferred jobs waiting for them. */
  private urgent = 0;
  private readonly deferred = new Set<() => void>();
  /** More may be due than the last claim took (it filled its room, or was put off): claim again once enough jobs finish. */
  private backlogged = false;
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  private stopping = false;

  constructor(opts: SchedulerOptions) {
    this.store = opts.store;
    this.clock = opts.clock;
    this.owner = opts.owner;
    this.handlers = opts.handlers;
    this.pollIntervalMs = opts.pollIntervalMs ?? DEFAULTS.pollIntervalMs;
    this.leaseMs = opts.leaseMs ?? DEFAULTS.leaseMs;
    this.batchSize = opts.batchSize ?? DEFAULTS.batchSize;
    this.concurrency = Math.max(1, opts.concurrency ?? DEFAULTS.concurrency);
    this.refillBelow = Math.max(1, Math.floor(this.concurrency / 4));
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? DEFAULTS.maxAttempts);
    this.backoffMs = opts.backoffMs ?? defaultBackoffMs;
    this.deferKinds = new Set(opts.deferKinds ?? []);
    this.deferMaxMs = opts.deferMaxMs ?? DEFAULT_DEFER_MAX_MS;
    this.log = opts.logger ?? silent;
  }

  /** Poll for due jobs every `pollIntervalMs` until stop(). */
  start(): void {
    if (this.stopping) throw new Error('a stopped scheduler cannot start again');
    if (this.started) return;
    this.started = true;
    this.schedulePoll(0);
  }

  /**
   * Claim due jobs now. Kicks while a claim runs share one follow-up claim, which takes what became
   * due meanwhile; while many claimed jobs are unfinished, the claim is left to the moment enough of
   * them finish. The promise resolves when the jobs this kick's round claimed have finished.
   */
  async kick(): Promise<void> {
    await (await this.requestRound()).finished;
  }

  /**
   * Claim one job by id and run it now ("right after the commit"). False when it is not due, already
   * done, or leased by someone else (who will run it).
   */
  async runJob(id: string): Promise<boolean> {
    if (this.stopping) return false;
    const now = this.clock.now();
    if (this.holding.has(id)) return false;
    const job = await this.store.claimJob(id, this.owner, now, this.leaseMs);
    if (!job || this.holding.has(id)) return false;
    this.stats.claimed++;
    this.holding.set(id, now.getTime() + this.leaseMs);
    await this.track(this.launch(job, () => this.execute(job, now.getTime() + this.leaseMs))).finally(() => this.holding.delete(id));
    return true;
  }

  /**
   * A lease for the jobs a commit is about to write, so they run here as soon as it lands, without
   * a claim: a claim statement per commit, and on the path of an approval two claims between the
   * click and the reply that the ports are open. None while this scheduler is not running, or while
   * it holds as many jobs as a claim would let it; then the jobs wait for a claim like any other.
   */
  leaseForNewJobs(): JobLease | undefined {
    if (!this.started || this.stopping || this.pending >= 2 * this.concurrency) return undefined;
    const now = this.clock.now();
    const until = new Date(now.getTime() + this.leaseMs);
    return { owner: this.owner, now, until, adopt: (jobs) => this.adopt(jobs, until.getTime()) };
  }

  /** Runs jobs a commit wrote leased to this process (leaseForNewJobs), as a claim's would run. */
  private adopt(jobs: readonly Job[], leaseUntil: number): void {
    const mine = jobs.filter((job) => !this.holding.has(job.id));
    this.stats.claimed += mine.length;
    this.pending += mine.length;
    for (const job of mine) {
      this.holding.set(job.id, leaseUntil);
      void this.track(this.launch(job, () => this.inSlot(() => this.execute(job, leaseUntil))).finally(() => this.jobFinished(job.id)));
    }
  }

  /** Tests and local mode: run rounds until a round finds nothing due at the clock's now. */
  async drain(opts: { maxRounds?: number } = {}): Promise<void> {
    const maxRounds = opts.maxRounds ?? 1_000;
    for (let round = 0; round < maxRounds; round++) {
      const r = await this.requestRound();
      await r.finished;
      if (r.claimed > 0) continue;
      // Jobs of earlier rounds and of runJob, and rounds others asked for, may still schedule more:
      // drained means they have finished and a round after them found nothing. Joining them rather
      // than asking for more rounds keeps two drains from keeping each other going.
      if (this.inFlight.size === 0 && !this.currentRound && !this.nextRound) return;
      await Promise.allSettled([...this.inFlight, this.currentRound, this.nextRound]);
    }
    throw new Error(`jobs were still due after ${maxRounds} rounds`);
  }

  /**
   * Stop claiming, let running handlers finish until `timeoutMs`, then abort them through their
   * signal, and give back every lease this process holds so another process runs those jobs now
   * instead of when the leases lapse.
   */
  async stop(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // A round that was claiming when the stop began adds its jobs (which will not start) afterwards.
    const busy = async () => {
      for (;;) {
        const work = [this.currentRound, this.nextRound, ...this.inFlight].filter((w) => w !== null);
        if (work.length === 0) return;
        await Promise.allSettled(work);
      }
    };
    const finished = await settlesWithin(busy(), opts.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS);
    if (!finished) {
      this.aborter.abort(new Error('the scheduler is stopping'));
      await settlesWithin(busy(), ABORT_GRACE_MS);
    }
    try {
      await this.store.releaseLeases(this.owner);
    } catch (err) {
      this.log.error({ err: describeError(err) }, 'could not release job leases; they will lapse');
    }
  }

  // A round that starts at or after the call: the one starting now when idle, else the follow-up.
  // A round is over once it has claimed; its jobs then run while the next round claims, so a job
  // committed now never waits behind a slow job of an earlier round (a thread reply behind a redraw).
  private requestRound(): Promise<Round> {
    if (!this.currentRound) {
      this.currentRound = this.round().finally(() => {
        this.currentRound = null;
      });
      return this.currentRound;
    }
    this.nextRound ??= this.currentRound
      .catch(() => undefined)
      .then(() => {
        this.nextRound = null;
        return this.requestRound();
      });
    return this.nextRound;
  }

  private async round(): Promise<Round> {
    if (this.stopping) return EMPTY_ROUND;
    // A claim walks the due index, and on PGlite it holds the one connection while it does: claiming
    // after every commit of a burst left no time for the work itself (10,000 expiries a minute fell
    // 30 s behind). So while many claimed jobs are still unfinished, the claim waits until they are
    // down to a quarter of the slots, and then takes a batch.
    if (this.pending > this.refillBelow) {
      this.backlogged = true;
      return EMPTY_ROUND;
    }
    // Claimed jobs wait for a slot with their lease running, so claim no more than the handlers
    // can start soon: twice the slots, less what is claimed and not yet finished.
    const room = Math.min(this.batchSize, 2 * this.concurrency - this.pending);
    const now = this.clock.now();
    // A job of ours whose lease looks lapsed while it still runs (the local clock moved past it) is
    // claimed again; it is still ours and still running, so it must not run a second time here.
    const claimed = await this.store.claimJobs(this.owner, now, this.leaseMs, room);
    const leaseUntil = now.getTime() + this.leaseMs;
    for (const job of claimed) if (this.holding.has(job.id)) this.holding.set(job.id, leaseUntil);
    const jobs = claimed.filter((job) => !this.holding.has(job.id));
    this.stats.rounds++;
    this.stats.claimed += jobs.length;
    // A full claim means more are probably due: the next claim follows as soon as enough of these
    // have finished, not at the next poll (which left the handlers idle most of each poll interval
    // once a burst of commands had queued its deliveries: ~100 cards a second instead of ~400).
    if (claimed.length === room) this.backlogged = true;
    this.pending += jobs.length;
    for (const job of jobs) this.holding.set(job.id, leaseUntil);
    const finished = Promise.all(jobs.map((job) => this.track(this.launch(job, () => this.inSlot(() => this.execute(job, leaseUntil))).finally(() => this.jobFinished(job.id)))));
    return { claimed: jobs.length, finished: finished.then(() => undefined) };
  }

  private jobFinished(id: string): void {
    this.holding.delete(id);
    this.pending--;
    if (!this.backlogged || this.stopping || this.pending > this.refillBelow) return;
    this.backlogged = false;
    this.requestRound().catch((err: unknown) => this.log.error({ err: describeError(err) }, 'scheduler round failed'));
  }

  /**
   * Runs `work` for a claimed job: at once, or, for a deferred kind, once no other job is unfinished
   * here or `deferMaxMs` has passed. The wait is bounded, so a steady stream of other work delays
   * redraws by that much and never starves them.
   */
  private async launch(job: Job, work: () => Promise<void>): Promise<void> {
    if (!this.deferKinds.has(job.kind)) {
      this.urgent++;
      try {
        return await work();
      } finally {
        if (--this.urgent === 0) for (const wake of [...this.deferred]) wake();
      }
    }
    if (this.urgent > 0) {
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.deferred.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, this.deferMaxMs);
        this.deferred.add(wake);
      });
    }
    return work();
  }

  /** Runs `work` once one of `concurrency` handler slots is free; a freed slot goes to the longest waiter. */
  private async inSlot(work: () => Promise<void>): Promise<void> {
    if (this.slotsTaken < this.concurrency) this.slotsTaken++;
    else await new Promise<void>((resolve) => this.slotQueue.push(resolve));
    try {
      await work();
    } finally {
      const next = this.slotQueue.shift();
      if (next) next();
      else this.slotsTaken--;
    }
  }

  private track(run: Promise<void>): Promise<void> {
    this.inFlight.add(run);
    return run.finally(() => this.inFlight.delete(run));
  }

  /**
   * The worst lag (clock time at start minus due time) of the jobs started in the last `windowMs` of
   * real time; 0 when none started. A gauge of the last job's lag alone would hide a late job behind
   * the deliveries it schedules, which start at once.
   */
  recentMaxLagMs(windowMs = 60_000): number {
    const since = Math.floor((Date.now() - windowMs) / LAG_BUCKET_MS);
    let max = 0;
    for (const [bucket, lag] of this.lagBuckets) {
      if (bucket < since) this.lagBuckets.delete(bucket);
      else max = Math.max(max, lag);
    }
    return max;
  }

  private noteLag(lagMs: number): void {
    this.stats.lastLagMs = lagMs;
    const bucket = Math.floor(Date.now() / LAG_BUCKET_MS);
    this.lagBuckets.set(bucket, Math.max(lagMs, this.lagBuckets.get(bucket) ?? 0));
    // Read now and then by metrics; without reads, keep a bounded number of buckets.
    if (this.lagBuckets.size > MAX_LAG_BUCKETS) this.lagBuckets.delete(this.lagBuckets.keys().next().value as number);
  }

  /** Every log line about a job, its handler's included, names the job and its request. */
  private execute(job: Job, leaseUntil: number): Promise<void> {
    return runWithLogContext({ jobId: job.id, job: job.kind, ...(job.requestId ? { requestId: job.requestId } : {}) }, () => this.runClaimed(job, leaseUntil));
  }

  /** Never throws: one job's trouble must not stop the others of its round. */
  private async runClaimed(job: Job, leaseUntil: number): Promise<void> {
    // Jobs still queued when stop() began are left to the lease release.
    if (this.stopping) return;
    const startedAt = this.clock.now().getTime();
    if (startedAt > Math.max(leaseUntil, this.holding.get(job.id) ?? 0)) {
      // Waited in the queue past its lease (the store's own test: lease_until < now): another
      // process may own it by now.
      this.log.warn({ jobId: job.id, kind: job.kind }, 'job lease lapsed before it started; leaving it to the next claim');
      return;
    }
    this.noteLag(startedAt - job.dueAt.getTime());
    const handler = this.handlers[job.kind];
    const signal = this.aborter.signal;
    let failure: { err: unknown } | null = null;
    this.stats.running++;
    try {
      if (!handler) throw new Error(`no handler for job kind "${job.kind}"`);
      await handler(job, signal);
    } catch (err) {
      failure = { err };
    } finally {
      this.stats.running--;
    }
    if (failure) {
      // Aborted by stop(): the lease release hands the job to another process.
      if (!signal.aborted) await this.settleFailure(job, failure.err);
      return;
    }
    // A job whose completion is not recorded runs again once its lease lapses: a second notice in
    // the thread. The store's trouble is usually brief (a deadlock PostgreSQL broke, a connection
    // replaced), so the record is tried a few times before that is left to happen.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.store.completeJob(job.id, this.owner);
        this.stats.succeeded++;
        return;
      } catch (err) {
        if (attempt >= COMPLETE_ATTEMPTS || this.stopping) {
          this.log.error({ jobId: job.id, kind: job.kind, err: describeError(err) }, 'could not record a finished job; it will run again');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, COMPLETE_RETRY_MS * attempt));
      }
    }
  }

  private async settleFailure(job: Job, err: unknown): Promise<void> {
    const error = describeError(err);
    const fields = { jobId: job.id, kind: job.kind, requestId: job.requestId, attempt: job.attempts, err: error };
    try {
      if (!isRetryable(err) || job.attempts >= this.maxAttempts) {
        await this.store.failJob(job.id, this.owner, error);
        this.stats.failed++;
        this.log.error(fields, 'job failed for good');
        return;
      }
      const retryAfterMs = (err as { retryAfterMs?: unknown }).retryAfterMs;
      const waitMs = Math.max(this.backoffMs(job.attempts), typeof retryAfterMs === 'number' ? retryAfterMs : 0);
      await this.store.retryJob(job.id, this.owner, new Date(this.clock.now().getTime() + waitMs), error);
      this.stats.retried++;
      this.log.warn({ ...fields, retryInMs: waitMs }, 'job failed; will retry');
    } catch (storeErr) {
      this.log.error(
        { ...fields, storeErr: describeError(storeErr) },
        'could not record a failed job; it will run again when its lease lapses',
      );
    }
  }

  private schedulePoll(delayMs: number): void {
    this.timer = setTimeout(() => void this.poll(), delayMs);
    // The HTTP server keeps the process alive; the poll timer alone should not.
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    let delayMs = this.pollIntervalMs;
    try {
      // A full claim brings the next one itself, as its jobs finish (see round), so the poll only
      // has to find what became due while nothing was running.
      await this.requestRound();
      // Commits run the jobs they schedule themselves (leaseForNewJobs) and claim nothing, so a
      // reminder or an expiry falling due is found by the poll alone: it wakes when the next one
      // is due rather than up to a whole interval later (10,000 expiries a minute were notified
      // 250 ms late at the median, against 80 ms while every commit still claimed).
      // A job that fell due since the claim counts too (it is due now: the shortest sleep).
      const next = this.stopping ? null : await this.store.nextDueAt(this.clock.now());
      if (next) delayMs = Math.max(MIN_POLL_GAP_MS, Math.min(delayMs, next.getTime() - this.clock.now().getTime()));
    } catch (err) {
      this.log.error({ err: describeError(err) }, 'scheduler round failed');
    }
    if (!this.stopping) this.schedulePoll(delayMs);
  }
}

/**
 * Retry what may pass (throttling, outages, timeouts: errors that say `retryable: true`) and what we
 * do not know; give up on our own typed errors that say the work cannot succeed.
 */
export function isRetryable(err: unknown): boolean {
  const flag = (err as { retryable?: unknown } | null)?.retryable;
  if (typeof flag === 'boolean') return flag;
  return !isJitError(err);
}

function describeError(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}…` : text;
}

async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
