// Clocks. Local mode and tests move time forward by hand; everything that reads the time (use
// cases, scheduler, Azure simulator) reads one Clock so they agree.
import type { Clock } from './ports';

type Listener = (now: Date) => void;

/** Real time plus an offset that only grows: local mode's "advance the clock" button. */
export class AdjustableClock implements Clock {
  private offsetMs = 0;
  private readonly listeners = new Set<Listener>();
  constructor(private readonly base: () => number = Date.now) {}

  now(): Date {
    return new Date(this.base() + this.offsetMs);
  }

  /** How far ahead of real time the clock was moved (kept across restarts in local mode). */
  get offsetInMs(): number {
    return this.offsetMs;
  }

  /** Move time forward and tell listeners (the scheduler runs what became due). */
  advance(ms: number): Date {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('the clock only moves forward');
    this.offsetMs += ms;
    const now = this.now();
    for (const l of this.listeners) l(now);
    return now;
  }

  onAdvance(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** A clock that stands still until told: deterministic tests. */
export class ManualClock extends AdjustableClock {
  private t: number;
  constructor(start: Date = new Date('2026-11-21T12:00:00Z')) {
    let self: ManualClock | undefined;
    super(() => self!.t);
    self = this;
    this.t = start.getTime();
  }
}
