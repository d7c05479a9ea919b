// Benchmark 4: expiry at scale. 10,000 real `active` grants whose end times fall within one minute,
// expired by the bot (one process on PGlite; two on PostgreSQL sharing a fresh schema).
//
// The grants are made by the core's own lifecycle (createRequest → approve → opened) and committed
// through Store.commit with the job specs the app itself makes for a grant (Jobs.grantJobs), plus
// the card references a posted card leaves. They last 5 minutes, under the 10-minute reminder lead,
// so, as in the app, they carry an expiry job and no reminder.
//
// Time: the grants end two hours ahead of the real clock; once the bots are up, their clocks
// (local mode's adjustable clock) are moved forward so the minute of end times starts a few seconds
// later, and from then on real time passes. "Late" is measured on the bot's clock: when the thread
// reply "Expired, ports closed" reached Slack, minus the grant's endsAt. (Azure closes the ports at
// endsAt on its own; the lateness is that of the notice and the card.)
import { People } from '../src/app/people';
import { join } from 'node:path';
import { Pool } from 'pg';
import { AdjustableClock } from '../src/app/clock';
import { Jobs } from '../src/app/jobs';
import { silentLogger } from '../src/app/logger';
import { nullObserver } from '../src/app/observer';
import type { JobSpec, MessageRef, Store } from '../src/app/ports';
import type { UseCaseContext } from '../src/app/use-case';
import { createAzureCloud } from '../src/azure';
import { loadConfigFile } from '../src/config/file';
import { evaluateRequest, findPerson } from '../src/core/access';
import { parseCommand } from '../src/core/grammar';
import { createRequest, transition } from '../src/core/lifecycle';
import type { AccessRequest, Actor, AuditEvent } from '../src/core/types';
import { slackMessageRef } from '../src/slack/chat-port';
import { openStore } from '../src/store';
import { APPROVALS_CHANNEL, type BenchContext } from './lib/context';
import { getStatus, postJson, sleep, type Child } from './lib/procs';
import { round, summarize, type Summary } from './lib/stats';
import { waitUntil } from './lib/duel';
import { startSlackBot } from './slack';

export const PG_URL = process.env.JITBOT_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ID_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const WINDOW_MS = 60_000;
/** Real time between moving the clocks and the first measured end time. */
const LEAD_MS = 15_000;
/**
 * Before the measured minute, a smaller batch of grants expires (not counted): a bot in service has
 * been running, and a freshly started one would otherwise pay its JIT warm-up inside the minute.
 * They end 13 to 8 seconds before the minute, at 100 a second, and are done well before it starts.
 */
const WARMUP_FROM_MS = 13_000;
const WARMUP_SPAN_MS = 5_000;
const GRANT_MINUTES = 5;
/**
 * At start the bot compares the open grants it has on record with what Azure shows, newest 1,000
 * first (src/app/jobs.ts, settleVanished), and ends the ones Azure does not show. Azure (and the
 * simulator) keeps one live request per VM and port, a newer one superseding the older, so it cannot
 * show 10,000 live grants on one VM: the newest 1,000 seeded grants would be ended at start as
 * vanished and never expire. So 1,000 more grants, ending well after the minute (and so the newest),
 * take that check; the measured ones are left to expire. They are not counted.
 */
const SETTLED_AT_START = 1_000;
const SETTLED_AFTER_MS = 10 * 60_000;

export interface ExpiryRun {
  engine: 'pglite' | 'postgres';
  processes: number;
  grants: number;
  seedSeconds: number;
  /** Thread reply "Expired, ports closed" received − endsAt, on the bot's clock. */
  lateMs: Summary;
  /** The card redraw (chat.update) received − endsAt. */
  cardLateMs: Summary;
  expiredNotices: number;
  duplicateNotices: number;
  duplicateCardUpdates: number;
  /** Expiry direct messages to the requester (the warm-up grants' included). */
  directMessages: number;
  /** Largest peak RSS among the bot processes. */
  peakRssMb: number;
  /** Per bot at the end: V8 heap used and total, and memory outside it (WASM, buffers). */
  heapMb: Array<{ heapUsed: number; heapTotal: number; external: number; rss: number }>;
  /** Grants whose notice never came within the wait. */
  missing: number;
}

/** Request ids as the app makes them (R + 5 of its alphabet), here sequential so 10,000 never collide. */
function requestId(i: number): string {
  let id = '';
  for (let k = 0, v = i; k < 5; k++, v = Math.floor(v / ID_ALPHABET.length)) id = ID_ALPHABET[v % ID_ALPHABET.length] + id;
  return `R${id}`;
}

function cardTs(i: number): string {
  return `1800000000.${String(i).padStart(6, '0')}`;
}

/** Every grant, committed as the app would have left it after opening: `active`, with its jobs. */
/** When grant i ends: the measured ones over the minute, the warm-up ones just before it, then those the start-up check takes. */
function endOf(i: number, n: number, warmup: number, windowStart: number): number {
  if (i < n) return windowStart + Math.floor((i * WINDOW_MS) / n);
  if (i < n + warmup) return windowStart - WARMUP_FROM_MS + Math.floor(((i - n) * WARMUP_SPAN_MS) / Math.max(1, warmup));
  return windowStart + SETTLED_AFTER_MS + (i - n - warmup);
}

export async function seed(ctx: BenchContext, store: Store, n: number, windowStart: number, warmup = 0, settled = 0): Promise<void> {
  const config = loadConfigFile(ctx.configPath);
  const cloud = createAzureCloud({ subscriptionId: config.world!.subscriptionId, redirectTo: ctx.sim.url });
  const vms = await cloud.listVms();
  const alice: Actor = { platform: 'slack', userId: 'U0ALICE', email: 'alice@example.com', name: 'Alice' };
  const bob: Actor = { platform: 'slack', userId: 'U0BOB', email: 'bob@example.com', name: 'Bob' };
  const parsed = parseCommand(`ssh web-01 ${GRANT_MINUTES}m from 10.1.2.3 for b`);
  if (!parsed.ok || parsed.command.kind !== 'request') throw new Error('the seed command does not parse');
  const evaluated = evaluateRequest({ policy: config.policy, person: findPerson(config.policy, alice.email), command: parsed.command, vms });
  if (!evaluated.ok) throw new Error(`the seed request is refused: ${evaluated.error.message}`);

  // The app's own grant jobs, from the use-case module that schedules them when Azure accepted.
  let now = windowStart;
  const clock = new AdjustableClock(() => now);
  const useCaseContext: UseCaseContext = {
    policy: config.policy,
    store,
    cloud,
    clock,
    log: silentLogger,
    observer: nullObserver,
    settings: {},
    chats: new Map(),
    vmCache: { current: null },
    people: new People({ policy: config.policy, clock, log: silentLogger }),
    kick: async () => {},
  };
  const jobs = new Jobs(useCaseContext) as unknown as { grantJobs?: (r: AccessRequest) => JobSpec[] };
  if (typeof jobs.grantJobs !== 'function') throw new Error('Jobs.grantJobs moved: the seed must use the app’s own grant jobs');
  const grantJobs = jobs.grantJobs.bind(jobs);

  const none = (platform: 'teams' | 'console'): MessageRef => ({ platform, v: 1, data: { none: true } });
  const one = async (i: number): Promise<void> => {
    const endsAt = new Date(endOf(i, n, warmup, windowStart));
    const openedAt = new Date(endsAt.getTime() - GRANT_MINUTES * 60_000);
    const createdAt = new Date(openedAt.getTime() - 20_000);
    const created = createRequest({ id: requestId(i), draft: evaluated.draft, requester: alice, now: createdAt });
    const approved = transition(created.request, { type: 'approve', by: bob, at: new Date(openedAt.getTime() - 1_000) });
    if (!approved.ok) throw approved.error;
    const active = transition(approved.next, { type: 'opened', at: openedAt, endsAt });
    if (!active.ok) throw active.error;
    const audit: AuditEvent[] = [...created.audit, ...approved.audit, ...active.audit];
    now = openedAt.getTime();
    const schedule = grantJobs(active.next);
    if (!(await store.commit({ request: active.next, expectedVersion: null, audit, schedule }))) throw new Error(`seed: ${active.next.id} exists`);
    await store.saveMessageRef({ requestId: active.next.id, kind: 'card', ref: slackMessageRef({ channel: APPROVALS_CHANNEL, ts: cardTs(i) }) });
    await store.saveMessageRef({ requestId: active.next.id, kind: 'card', ref: none('teams') });
    await store.saveMessageRef({ requestId: active.next.id, kind: 'card', ref: none('console') });
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < n + warmup + settled) await one(next++);
    }),
  );
}

async function heapOf(url: string): Promise<{ heapUsed: number; heapTotal: number; external: number; rss: number }> {
  const text = (await getStatus(`${url}/metrics`)).body;
  const metric = (name: string) => round(Number(new RegExp(`^${name} ([0-9.e+]+)$`, 'm').exec(text)?.[1] ?? Number.NaN) / 2 ** 20, 0);
  return {
    heapUsed: metric('jitbot_nodejs_heap_size_used_bytes'),
    heapTotal: metric('jitbot_nodejs_heap_size_total_bytes'),
    external: metric('jitbot_nodejs_external_memory_bytes'),
    rss: metric('jitbot_process_resident_memory_bytes'),
  };
}

export async function freshSchema(): Promise<{ url: string; drop(): Promise<void> }> {
  const schema = `jitbench_${Date.now().toString(36)}`;
  const pool = new Pool({ connectionString: PG_URL, max: 1 });
  await pool.query(`CREATE SCHEMA ${schema}`);
  await pool.end();
  const sep = PG_URL.includes('?') ? '&' : '?';
  return {
    url: `${PG_URL}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    drop: async () => {
      const p = new Pool({ connectionString: PG_URL, max: 1 });
      await p.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await p.end();
    },
  };
}

export async function runExpiryBench(ctx: BenchContext, engine: 'pglite' | 'postgres'): Promise<ExpiryRun> {
  const n = Number(process.env.JITBOT_BENCH_GRANTS ?? (ctx.quick ? 2_000 : 10_000));
  const warmup = Math.round(WARMUP_SPAN_MS / 10); // 100 a second
  const processes = engine === 'postgres' ? 2 : 1;
  ctx.log(`Expiry at scale: ${n} grants ending within one minute (after ${warmup} to warm up), ${processes} process${processes > 1 ? 'es' : ''} on ${engine === 'postgres' ? 'PostgreSQL' : 'PGlite'}`);
  const dataDir = join(ctx.outDir, `expiry-${engine}-data`);
  const schema = engine === 'postgres' ? await freshSchema() : null;
  const bots: Child[] = [];
  const previous = ctx.slack.onCall;
  try {
    // End times two hours ahead of the real clock: seeding may take its time.
    const windowStart = Date.now() + 2 * 60 * 60_000;
    const seedStarted = Date.now();
    const store = await openStore({ dataDir, ...(schema ? { databaseUrl: schema.url } : {}) });
    try {
      await seed(ctx, store, n, windowStart, warmup, SETTLED_AT_START * processes);
    } finally {
      await store.close();
    }
    if (schema) {
      // PostgreSQL's autovacuum would analyze tables this size within its first minute; a bulk load
      // right before the run gives it no chance, so do what it would. (PGlite has no autovacuum: the
      // bot analyzes when it opens the database, see src/store/pglite.ts.)
      const pool = new Pool({ connectionString: schema.url, max: 1 });
      await pool.query('ANALYZE');
      await pool.end();
    }
    const seedSeconds = (Date.now() - seedStarted) / 1000;
    ctx.log(`    seeded ${n + warmup + SETTLED_AT_START * processes} grants in ${seedSeconds.toFixed(1)} s`);

    const endsAtByTs = new Map<string, number>();
    for (let i = 0; i < n; i++) endsAtByTs.set(cardTs(i), windowStart + Math.floor((i * WINDOW_MS) / n));
    const noticeAt = new Map<string, number>();
    const noticeCount = new Map<string, number>();
    const updateAt = new Map<string, number>();
    const updateCount = new Map<string, number>();
    let dms = 0;
    let settledAtStart = 0;
    ctx.slack.onCall = (call) => {
      previous(call);
      if (call.method === 'chat.update' && call.args.ts && endsAtByTs.has(call.args.ts)) {
        updateCount.set(call.args.ts, (updateCount.get(call.args.ts) ?? 0) + 1);
        if (!updateAt.has(call.args.ts)) updateAt.set(call.args.ts, call.at);
      } else if (call.method === 'chat.postMessage' && call.args.thread_ts && (call.args.text ?? '').includes('Azure no longer shows this access')) {
        settledAtStart++;
      } else if (call.method === 'chat.postMessage' && (call.args.text ?? '').includes('Expired, ports closed')) {
        const ts = call.args.thread_ts;
        if (!ts) {
          dms++;
          return;
        }
        // A warm-up grant's notice: not measured.
        if (!endsAtByTs.has(ts)) return;
        noticeCount.set(ts, (noticeCount.get(ts) ?? 0) + 1);
        if (!noticeAt.has(ts)) noticeAt.set(ts, call.at);
      }
    };

    for (let p = 0; p < processes; p++) {
      bots.push(await startSlackBot(ctx, `expiry-${engine}-${p + 1}`, { JITBOT_DATA_DIR: dataDir, ...(schema ? { DATABASE_URL: schema.url } : {}) }));
    }
    // The grants the start-up check ends (SETTLED_AT_START) are announced before the minute begins, so
    // that work never counts against the measured expiries.
    // Each process checks on its own start (two processes may end up to twice as many): wait for the
    // first thousand, then for the announcements to stop.
    if (!(await waitUntil(() => settledAtStart >= SETTLED_AT_START, 180_000, 50))) {
      ctx.log(`    only ${settledAtStart} of ${SETTLED_AT_START} grants were settled at start`);
    }
    for (let seen = -1; seen !== settledAtStart; ) {
      seen = settledAtStart;
      await sleep(3_000);
    }
    // Every bot's clock moves by the same amount, so they agree with each other and with endsAt.
    const offsetMs = windowStart - LEAD_MS - Date.now();
    for (const bot of bots) {
      const moved = await postJson(`${bot.url}/_local/clock/advance`, { by: `PT${(offsetMs / 1000).toFixed(3)}S` });
      // The advance also runs what became due, until a round finds nothing; once the warm-up grants
      // start ending (2 s later) there is always something, and a quick bot reaches its round limit.
      // The clock has moved all the same, and the scheduler goes on by itself.
      if (moved.status === 500 && moved.body.includes('The clock moved')) {
        ctx.log(`    ${bot.name}: clock moved; the work that became due was still running (${moved.body})`);
        continue;
      }
      if (moved.status !== 200) throw new Error(`moving ${bot.name}'s clock answered ${moved.status}: ${moved.body}`);
    }
    // With JITBOT_BENCH_VERBOSE, how progress and memory go, every 5 s.
    const progress = process.env.JITBOT_BENCH_VERBOSE
      ? setInterval(() => ctx.log(`      ${noticeAt.size} notices; RSS ${bots.map((b) => Math.round(b.memory().rss)).join(' + ')} MB`), 5_000)
      : undefined;
    const done = await waitUntil(() => noticeAt.size >= n, LEAD_MS + WINDOW_MS + 180_000, 50);
    clearInterval(progress);
    // Anything sent twice would come right behind the first; give it time to show.
    await sleep(3_000);
    if (!done) ctx.log(`    only ${noticeAt.size} of ${n} expiry notices arrived`);
    const peakRssMb = Math.max(...bots.map((b) => b.memory().peakRss));
    // What the RSS is made of, from the bot's own Prometheus metrics (prom-client's default set).
    const heap = await Promise.all(bots.map((b) => heapOf(b.url)));

    const late: number[] = [];
    // p99 lateness per 10 s of end times: whether the tail sits at the start, the end, or all along.
    const bySlice = new Map<number, number[]>();
    for (const [ts, at] of noticeAt) {
      const ms = at + offsetMs - endsAtByTs.get(ts)!;
      late.push(ms);
      const slice = Math.floor((endsAtByTs.get(ts)! - windowStart) / 10_000);
      bySlice.set(slice, [...(bySlice.get(slice) ?? []), ms]);
    }
    if (process.env.JITBOT_BENCH_VERBOSE) {
      ctx.log(`      p99 late by 10 s of end times: ${[...bySlice].sort((a, b) => a[0] - b[0]).map(([, v]) => summarize(v).p99).join(', ')} ms`);
    }
    const cardLate: number[] = [];
    for (const [ts, at] of updateAt) cardLate.push(at + offsetMs - endsAtByTs.get(ts)!);
    const dup = (m: Map<string, number>) => [...m.values()].reduce((a, c) => a + Math.max(0, c - 1), 0);
    return {
      engine,
      processes,
      grants: n,
      seedSeconds: round(seedSeconds, 1),
      lateMs: summarize(late),
      cardLateMs: summarize(cardLate),
      expiredNotices: noticeAt.size,
      duplicateNotices: dup(noticeCount),
      duplicateCardUpdates: dup(updateCount),
      directMessages: dms,
      peakRssMb: round(peakRssMb, 0),
      heapMb: heap,
      missing: n - noticeAt.size,
    };
  } finally {
    ctx.slack.onCall = previous;
    await Promise.all(bots.map((b) => b.stop()));
    await schema?.drop();
  }
}
