// Group commit for point statements. Under load the scheduler runs many jobs at once, and each
// reads its request, reads its card references and records its completion: one statement apiece.
// On PGlite every statement pays a fixed cost in the single WASM connection (parse, plan, protocol:
// about 0.3 ms, far more than the lookup itself), so those statements, not the work, bounded how
// many expiries and deliveries a minute the bot could do. A Coalescer sends the first call at once
// and gathers every call made while that statement runs into the next one (`WHERE id = ANY($1)`),
// so an idle bot pays nothing extra and a busy one pays one statement per batch.
//
// Freshness is unchanged: a call is answered by a statement that starts after the call was made, so
// it sees every write committed before it, as its own statement would have.

export interface CoalescerOptions {
  /** Keys per statement (PostgreSQL takes up to 65535 parameters; an array parameter counts once). */
  maxBatch?: number;
}

interface Waiter<K, V> {
  key: K;
  resolve: (value: V) => void;
  reject: (err: unknown) => void;
}

export class Coalescer<K, R, V> {
  private queue: Array<Waiter<K, V>> = [];
  private running = false;
  private readonly maxBatch: number;

  /**
   * @param run one statement for these distinct keys; the rows by key (absent: none).
   * @param answer what one caller gets for its key's rows; called once per caller, so each can own
   *   (and mutate) what it got, as it could a row of its own statement.
   */
  constructor(
    private readonly run: (keys: K[]) => Promise<Map<K, R>>,
    private readonly answer: (rows: R | undefined, firstForKey: boolean) => V,
    opts: CoalescerOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 500;
  }

  load(key: K): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      this.queue.push({ key, resolve, reject });
      if (!this.running) {
        this.running = true;
        // Calls made in the same tick (Promise.all) share the first statement too.
        queueMicrotask(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        let rows: Map<K, R>;
        try {
          rows = await this.run([...new Set(batch.map((w) => w.key))]);
        } catch (err) {
          for (const w of batch) w.reject(err);
          continue;
        }
        const answered = new Set<K>();
        for (const w of batch) {
          try {
            w.resolve(this.answer(rows.get(w.key), !answered.has(w.key)));
            answered.add(w.key);
          } catch (err) {
            w.reject(err);
          }
        }
      }
    } finally {
      this.running = false;
    }
  }
}
