// Group commit for point statements. Under load the scheduler runs many jobs at once, and each
// reads its request, reads its card references and records its completion; every command claims
// its idempotency key and commits its request: one statement (or transaction) apiece. On PGlite
// every statement pays a fixed cost in the single WASM connection (protocol, parse of results,
// planning, a WAL flush per commit), far more than the lookup or insert itself, so those statements,
// not the work, bounded how many commands and expiries a second the bot could do.
//
// A Coalescer (reads) or Batcher (writes) waits for the end of the event loop's current turn, then
// sends everything asked for during it as one statement (`WHERE id = ANY($1)`, one multi-row insert,
// one transaction), and gathers what is asked while that runs into the next. Waiting for the turn's
// end matters: the statements themselves are quick, so without it nearly every batch held one call
// (measured: 1,651 commit transactions for 1,700 commands at concurrency 50; ~14 per batch with it).
// An idle bot pays one turn of the loop (well under a millisecond).
//
// Freshness is unchanged: a call is answered by a statement that starts after the call was made, so
// it sees every write committed before it, as its own statement would have. A write's promise
// settles once the transaction it rode in has committed, so nothing is acknowledged before it is durable.

// Taken once, so a test's fake timers never hold the store's statements back.
const nextTurn: (run: () => void) => unknown = setImmediate;

export interface BatcherOptions<I> {
  /** Items per statement. */
  maxBatch?: number;
  /**
   * Keys an item must not share with another item of its batch (two compare-and-sets of one row):
   * such an item waits for a later batch, so each statement's outcome is one per item.
   */
  keysOf?: (item: I) => readonly string[];
  /**
   * Whether a failed batch of several may be tried again one item at a time, so that one item the
   * database refuses fails alone. Only for errors that certainly undid the whole batch.
   */
  retryAlone?: (err: unknown) => boolean;
}

/**
 * Group commit for writes: like Coalescer, the first call runs at once and the calls made while it
 * runs go together in the next batch, but every item is its own write with its own answer (in the
 * order given). A caller's promise settles only once the batch it rode in has been committed.
 */
export class Batcher<I, O> {
  private queue: Array<{ item: I; resolve: (value: O) => void; reject: (err: unknown) => void }> = [];
  private running = false;
  private readonly maxBatch: number;
  private readonly keysOf?: (item: I) => readonly string[];
  private readonly retryAlone: (err: unknown) => boolean;

  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    opts: BatcherOptions<I> = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 200;
    this.keysOf = opts.keysOf;
    this.retryAlone = opts.retryAlone ?? (() => false);
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) {
        this.running = true;
        nextTurn(() => void this.drain());
      }
    });
  }

  private take(): typeof this.queue {
    if (!this.keysOf) return this.queue.splice(0, this.maxBatch);
    const batch: typeof this.queue = [];
    const rest: typeof this.queue = [];
    const taken = new Set<string>();
    for (const waiter of this.queue) {
      const keys = batch.length < this.maxBatch ? this.keysOf(waiter.item) : null;
      if (keys && !keys.some((k) => taken.has(k))) {
        for (const k of keys) taken.add(k);
        batch.push(waiter);
      } else {
        // Stays queued, and keeps its place before later calls for the same keys.
        rest.push(waiter);
        if (keys) for (const k of keys) taken.add(k);
      }
    }
    this.queue = rest;
    return batch;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.take();
        try {
          const out = await this.run(batch.map((w) => w.item));
          batch.forEach((w, i) => w.resolve(out[i]));
        } catch (err) {
          if (batch.length === 1 || !this.retryAlone(err)) {
            for (const w of batch) w.reject(err);
            continue;
          }
          for (const w of batch) {
            try {
              w.resolve((await this.run([w.item]))[0]);
            } catch (alone) {
              w.reject(alone);
            }
          }
        }
      }
    } finally {
      this.running = false;
    }
  }
}

export interface CoalescerOptions {
  /** Keys per statement (PostgreSQL takes up to 65535 parameters; an array parameter counts once). */
  maxBatch?: number;
}

/** One caller's answer, or the error only that caller gets. */
type Answered<V> = { ok: true; value: V } | { ok: false; err: unknown };

/** Reads batched by key: a Batcher whose statement runs once per distinct key and answers every caller. */
export class Coalescer<K, R, V> {
  private readonly batcher: Batcher<K, Answered<V>>;

  /**
   * @param run one statement for these distinct keys; the rows by key (absent: none).
   * @param answer what one caller gets for its key's rows; called once per caller, so each can own
   *   (and mutate) what it got, as it could a row of its own statement.
   */
  constructor(
    run: (keys: K[]) => Promise<Map<K, R>>,
    answer: (rows: R | undefined, firstForKey: boolean) => V,
    opts: CoalescerOptions = {},
  ) {
    this.batcher = new Batcher(
      async (keys) => {
        const rows = await run([...new Set(keys)]);
        const answered = new Set<K>();
        return keys.map((key): Answered<V> => {
          try {
            const value = answer(rows.get(key), !answered.has(key));
            answered.add(key);
            return { ok: true, value };
          } catch (err) {
            return { ok: false, err };
          }
        });
      },
      { maxBatch: opts.maxBatch ?? 500 },
    );
  }

  async load(key: K): Promise<V> {
    const answered = await this.batcher.submit(key);
    if (!answered.ok) throw answered.err;
    return answered.value;
  }
}
