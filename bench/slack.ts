// Benchmark 1: `/jit ssh web-01 1h from 10.1.2.3 for b`, signed as Slack signs it, from a known user
// at concurrency 50, against the bot (local mode, Slack on) and a bare Bolt app, alternately.
import { join } from 'node:path';
import { encodeForm, FORM_CONTENT_TYPE, slackSignature, slashCommand } from '../test/clients/slack';
import { APPROVALS_CHANNEL, botEnv, REQUEST_TEXT, SIGNING_SECRET, BOT_TOKEN, type BenchContext } from './lib/context';
import { duel, finishRound, type DuelResult, type RoundResult } from './lib/duel';
import { closedLoop, HttpTarget, type OutgoingRequest } from './lib/load';
import { cpuMsOf, freePort, spawnBot, spawnFloor, waitForLine, type Child } from './lib/procs';

export const CONCURRENCY = 50;

/** A slash command as Slack sends it: form body, exact content type, v0 signature over the raw body. */
export function signedCommand(ctx: BenchContext, userId: string, text: string, responseId: string): OutgoingRequest {
  const body = encodeForm({ ...slashCommand({ user_id: userId, text, response_url: ctx.slack.responseUrl(responseId) }) });
  const ts = Math.floor(Date.now() / 1000);
  return {
    path: '/slack/events',
    headers: { 'content-type': FORM_CONTENT_TYPE, 'x-slack-request-timestamp': String(ts), 'x-slack-signature': slackSignature(SIGNING_SECRET, ts, body) },
    body,
  };
}

/** Posts of new cards (not thread replies, not direct messages) into the approvals channel. */
export function countCards(ctx: BenchContext): { count(): number; lastAt(): number; stop(): void } {
  let n = 0;
  let last = 0;
  const previous = ctx.slack.onCall;
  ctx.slack.onCall = (call) => {
    previous(call);
    if (call.method === 'chat.postMessage' && call.args.channel === APPROVALS_CHANNEL && !call.args.thread_ts) {
      n++;
      last = call.at;
    }
  };
  return { count: () => n, lastAt: () => last, stop: () => void (ctx.slack.onCall = previous) };
}

export async function startSlackBot(ctx: BenchContext, name: string, extraEnv: Record<string, string | undefined> = {}): Promise<Child> {
  const port = await freePort();
  const bot = spawnBot({ name, port, env: botEnv(ctx, join(ctx.outDir, `${name}-data`), extraEnv), logDir: ctx.outDir, nodeFlags: ctx.botNodeFlags });
  await bot.waitReady('/readyz', 180_000, 20);
  return bot;
}

/** `databaseUrl`: the bot on PostgreSQL instead of PGlite (`--slack-postgres`), to see the store's share. */
export async function runSlackBench(ctx: BenchContext, opts: { databaseUrl?: string } = {}): Promise<DuelResult & { concurrency: number; perRound: number; store: string }> {
  const perRound = ctx.quick ? 500 : 2_000;
  const rounds = ctx.quick ? 3 : 5;
  const store = opts.databaseUrl ? 'PostgreSQL' : 'PGlite';
  ctx.log(`Slack command latency (bot on ${store}): ${rounds} rounds × ${perRound} requests each, concurrency ${CONCURRENCY}`);

  const bot = await startSlackBot(ctx, opts.databaseUrl ? 'slack-bot-pg' : 'slack-bot', opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : {});
  const floorPort = await freePort();
  const floor = spawnFloor({
    name: 'slack-floor',
    script: 'bench/floors/slack-floor.ts',
    port: floorPort,
    env: { SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_API_URL: ctx.slack.apiUrl },
    logDir: ctx.outDir,
  });
  await waitForLine(floor, /ready/);
  const targets = { bot: new HttpTarget(bot.url, CONCURRENCY), floor: new HttpTarget(floor.url, CONCURRENCY) };
  let seq = 0;

  const run = async (who: 'bot' | 'floor', n: number): Promise<RoundResult> => {
    const cards = countCards(ctx);
    let ok = 0;
    const startedAt = Date.now();
    const pid = (who === 'bot' ? bot : floor).pid;
    const cpu = { read: () => cpuMsOf(pid), atStart: cpuMsOf(pid) };
    try {
      const load = await closedLoop(targets[who], {
        count: n,
        concurrency: CONCURRENCY,
        make: () => signedCommand(ctx, 'U0ALICE', REQUEST_TEXT, `${who}-${++seq}`),
        onAnswer: (_i, a) => {
          if (a.status === 200 && a.body.includes('Sent for approval')) ok++;
        },
      });
      return await finishRound({ who, n, ok, startedAt, load, cards, log: ctx.log, cpu });
    } finally {
      cards.stop();
    }
  };

  try {
    return { ...(await duel({ rounds, perRound, warmup: ctx.quick ? 200 : 500, run, log: ctx.log })), concurrency: CONCURRENCY, perRound, store };
  } finally {
    targets.bot.close();
    targets.floor.close();
    await Promise.all([bot.stop(), floor.stop()]);
  }
}
