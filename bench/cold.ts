// Benchmark 5: cold start, from spawning `node dist/src/main.js` (what `npm start` runs after its
// build) to the first 200 from /readyz (store answers, Azure, here its embedded simulator, answers).
// Local mode as a new user runs it (no Slack or Teams settings), first on an empty data directory
// (PGlite's initdb and the migrations run) and then on the one that start left (a restart); then
// PostgreSQL, on a fresh schema (migrations) and again on it.
import { join } from 'node:path';
import { Pool } from 'pg';
import type { BenchContext } from './lib/context';
import { freePort, spawnBot } from './lib/procs';
import { median, round } from './lib/stats';
import { PG_URL } from './expiry';

export interface ColdCase {
  name: string;
  /** Each start, ms. */
  runs: number[];
  medianMs: number;
  /** RSS of the process right after it answered ready. */
  rssMb: number;
}

async function startOnce(ctx: BenchContext, name: string, env: Record<string, string>): Promise<{ ms: number; rssMb: number }> {
  const port = await freePort();
  const simPort = await freePort();
  const bot = spawnBot({ name, port, env: { JITBOT_CONFIG: ctx.configPath, JITBOT_SIM_PORT: String(simPort), ...env }, logDir: ctx.outDir });
  try {
    const ms = await bot.waitReady('/readyz', 60_000, 5);
    return { ms, rssMb: bot.memory().rss };
  } finally {
    await bot.stop();
  }
}

export async function runColdBench(ctx: BenchContext): Promise<ColdCase[]> {
  const repeats = ctx.quick ? 2 : 3;
  ctx.log(`Cold start: ${repeats} starts per case`);
  const cases: ColdCase[] = [];
  const record = (name: string, samples: Array<{ ms: number; rssMb: number }>) => {
    const c = { name, runs: samples.map((s) => round(s.ms, 0)), medianMs: round(median(samples.map((s) => s.ms)), 0), rssMb: round(median(samples.map((s) => s.rssMb)), 0) };
    ctx.log(`    ${name.padEnd(34)} ${c.medianMs} ms (runs ${c.runs.join(', ')}), RSS ${c.rssMb} MB`);
    cases.push(c);
  };

  const fresh: Array<{ ms: number; rssMb: number }> = [];
  const again: Array<{ ms: number; rssMb: number }> = [];
  for (let i = 0; i < repeats; i++) {
    const dataDir = join(ctx.outDir, `cold-pglite-${i}`);
    fresh.push(await startOnce(ctx, `cold-pglite-first-${i}`, { JITBOT_DATA_DIR: dataDir }));
    again.push(await startOnce(ctx, `cold-pglite-restart-${i}`, { JITBOT_DATA_DIR: dataDir }));
  }
  record('PGlite, first start (initdb)', fresh);
  record('PGlite, restart', again);

  const pgFresh: Array<{ ms: number; rssMb: number }> = [];
  const pgAgain: Array<{ ms: number; rssMb: number }> = [];
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
