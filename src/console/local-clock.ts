// The test clock's HTTP control, for local mode only: it lets a person (or a browser test) skip ahead
// to a reminder or an expiry instead of waiting an hour.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Server } from 'restify';
import type { AdjustableClock } from '../app/clock';
import { errorFields, type Logger } from '../app/logger';
import { readJsonBody, sendJson, HttpBodyError } from './http';

/**
 * Local mode keeps how far the clock was moved with the bot's data, as it keeps the simulated Azure:
 * otherwise a restart would move time backwards, and grants the simulator applied "a minute from
 * now" before the restart would not be applied yet after it. Returns a function that stops saving.
 */
export function keepClockOffset(clock: AdjustableClock, file: string, log: Logger): () => void {
  let saved = 0;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { offsetMs?: unknown };
    if (typeof parsed.offsetMs === 'number' && Number.isFinite(parsed.offsetMs) && parsed.offsetMs > 0) saved = parsed.offsetMs;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn(errorFields(err), `${file}: the saved clock could not be read; starting at real time`);
  }
  if (saved > clock.offsetInMs) clock.advance(saved - clock.offsetInMs);
  return clock.onAdvance(() => {
    try {
      // Written whole and renamed, so a crash never leaves half a file.
      writeFileSync(`${file}.tmp`, JSON.stringify({ offsetMs: clock.offsetInMs }));
      renameSync(`${file}.tmp`, file);
    } catch (err) {
      log.warn(errorFields(err), `${file}: could not save the clock`);
    }
  });
}

/** The longest single jump: far enough for any grant (24 h max) and pending timeout, short enough to catch typos. */
const MAX_ADVANCE_MS = 31 * 24 * 60 * 60 * 1000;

const ISO_DURATION = /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i;
const SHORT_DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/i;

/**
 * `PT55M`, `P1DT2H`, `PT1.5H`, and the chat grammar's short forms (`55m`, `1h30m`, `2d`) → milliseconds;
 * null when the text is none of these. Years and months are refused: their length depends on the date.
 */
export function parseIsoDurationMs(text: string): number | null {
  const t = text.trim();
  const iso = ISO_DURATION.exec(t);
  if (iso && !t.toUpperCase().endsWith('T') && iso.slice(1).some((g) => g !== undefined)) {
    const [w, d, h, m, s] = iso.slice(1).map((g) => (g === undefined ? 0 : Number(g)));
    return Math.round((((w * 7 + d) * 24 + h) * 60 + m) * 60_000 + s * 1000);
  }
  const short = SHORT_DURATION.exec(t);
  if (short && short.slice(1).some((g) => g !== undefined)) {
    const [d, h, m, s] = short.slice(1).map((g) => (g === undefined ? 0 : Number(g)));
    return (((d * 24 + h) * 60 + m) * 60 + s) * 1000;
  }
  return null;
}

/**
 * `POST /_local/clock/advance {"by":"PT55M"}` moves the clock and answers `{ now }` once `onAdvanced`
 * has finished, so a caller that waits for the answer sees every reminder and expiry that fell due.
 * `beforeAdvance` runs first: work already due (a redraw still waiting its turn) happens at its own
 * time, not after the jump. `GET /_local/clock` answers `{ now }`.
 */
/** What went wrong, in words, whatever was thrown (a `null` included). */
function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function mountLocalClock(
  server: Server,
  clock: AdjustableClock,
  onAdvanced?: (now: Date) => Promise<void> | void,
  logger?: Logger,
  opts: { beforeAdvance?: () => Promise<void> } = {},
): void {
  server.get('/_local/clock', async (_req, res) => {
    sendJson(res, 200, { now: clock.now().toISOString() });
  });

  server.post('/_local/clock/advance', async (req, res) => {
    let by: unknown;
    try {
      by = ((await readJsonBody(req)) as { by?: unknown } | null)?.by;
    } catch (err) {
      if (err instanceof HttpBodyError) return sendJson(res, err.status, { error: err.message });
      throw err;
    }
    const ms = typeof by === 'string' ? parseIsoDurationMs(by) : null;
    if (ms === null || ms <= 0) {
      return sendJson(res, 400, { error: '"by" must be a positive ISO 8601 duration such as PT55M or P1DT2H' });
    }
    if (ms > MAX_ADVANCE_MS) {
      return sendJson(res, 400, { error: '"by" must be at most 31 days (P31D)' });
    }
    try {
      await opts.beforeAdvance?.();
    } catch (err) {
      logger?.error({ ...errorFields(err) }, 'local clock: due work failed before advancing');
      return sendJson(res, 500, { error: `Running what was due failed, so the clock did not move: ${reasonOf(err)}` });
    }
    const now = clock.advance(ms);
    try {
      if (onAdvanced) await onAdvanced(now);
    } catch (err) {
      logger?.error({ ...errorFields(err) }, 'local clock: due work failed after advancing');
      return sendJson(res, 500, { error: `The clock moved, but running what became due failed: ${reasonOf(err)}` });
    }
    sendJson(res, 200, { now: clock.now().toISOString(), advancedByMs: ms });
  });
}
