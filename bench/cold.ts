// Benchmark 5: cold start, from spawning `node dist/src/main.js` (what `npm start` runs after its
// build) to the first 200 from /readyz (store answers, Azure, here its embedded simulator, answers).
// Local mode as a new user runs it (no Slack or Teams settings), first on an empty data directory
// (the build's initialized template is copied, or initdb runs when there is none, and the migrations
// run) and then on the one that start left (a restart); then
// PostgreSQL, on a fresh schema (migrations) and again on it. Each start is then left alone for a few
// seconds and its resident memory read again: what a bot waiting for its next command costs.
import { join } from 'node:path';
import { Pool } from 'pg';
import type { BenchContext } from './lib/context';
import { freePort, sleep, spawnBot } from './lib/procs';
import { median, round } from './lib/stats';
import { PG_URL } from './expiry';

export interface ColdCase {
  name: string;
  /** Each start, ms. */
  runs: number[];
  medianMs: number;
  /** RSS of the process right after it answered ready. */
  rssMb: number;
  /** RSS after IDLE_MS with no traffic (median). */
  idleRssMb?: number;
  /** The process's peak RSS (VmHWM) by then (median). */
  peakRssMb?: number;
}

// Long enough for start-up's garbage to be collected and the maintenance ANALYZE to have run.
const IDLE_MS = 5_000;

interface Sample {
  ms: number;
  rssMb: number;
  idleRssMb: number;
  peakRssMb: number;
}

async function startOnce(ctx: BenchContext, name: string, env: Record<string, string>): Promise<Sample> {
  const port = await freePort();
  const simPort = await freePort();
  const bot = spawnBot({ name, port, env: { JITBOT_CONFIG: ctx.configPath, JITBOT_SIM_PORT: String(simPort), ...env }, logDir: ctx.outDir });
  try {
    // Generous: a first start on a busy machine can take a minute, and a timeout would lose the whole run.
    const ms = await bot.waitReady('/readyz', 180_000, 5);
    const rssMb = bot.memory().rss;
    await sleep(IDLE_MS);
    const idle = bot.memory();
    return { ms, rssMb, idleRssMb: idle.rss, peakRssMb: idle.peakRss };
  } finally {
    await bot.stop();
  }
}

export async function runColdBench(ctx: BenchContext): Promise<ColdCase[]> {
  const repeats = ctx.quick ? 2 : 3;
  ctx.log(`Cold start: ${repeats} starts per case`);
  const cases: ColdCase[] = [];
  const record = (name: string, samples: Sample[]) => {
    const mb = (pick: (s: Sample) => number) => round(median(samples.map(pick)), 0);
    const c = {
      name,
      runs: samples.map((s) => round(s.ms, 0)),
      medianMs: round(median(samples.map((s) => s.ms)), 0),
      rssMb: mb((s) => s.rssMb),
      idleRssMb: mb((s) => s.idleRssMb),
      peakRssMb: mb((s) => s.peakRssMb),
    };
    ctx.log(`    ${name.padEnd(34)} ${c.medianMs} ms (runs ${c.runs.join(', ')}), RSS ${c.rssMb} MB, idle ${c.idleRssMb} MB, peak ${c.peakRssMb} MB`);
    cases.push(c);
  };

  const fresh: Sample[] = [];
  const again: Sample[] = [];
  for (let i = 0; i < repeats; i++) {
    const dataDir = join(ctx.outDir, `cold-pglite-${i}`);
    fresh.push(await startOnce(ctx, `cold-pglite-first-${i}`, { JITBOT_DATA_DIR: dataDir }));
    again.push(await startOnce(ctx, `cold-pglite-restart-${i}`, { JITBOT_DATA_DIR: dataDir }));
  }
  record('PGlite, first start (new data directory)', fresh);
  record('PGlite, restart', again);

  const pgFresh: Sample[] = [];
  const pgAgain: Sample[] = [];
  for (let i = 0; i < repeats; i++) {
    const schema = `jitbench_cold_${Date.now().toString(36)}_${i}`;
    const pool = new Pool({ connectionString: PG_URL, max: 1 });
    await pool.query(`CREATE SCHEMA ${schema}`);
    const url = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    try {
      const env = { JITBOT_DATA_DIR: join(ctx.outDir, `cold-pg-${i}`), DATABASE_URL: url };
      pgFresh.push(await startOnce(ctx, `cold-pg-first-${i}`, env));
      pgAgain.push(await startOnce(ctx, `cold-pg-restart-${i}`, env));
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await pool.end();
    }
  }
  record('PostgreSQL, fresh schema', pgFresh);
  record('PostgreSQL, restart', pgAgain);
  return cases;
}
