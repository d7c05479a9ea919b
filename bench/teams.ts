// Benchmark 2: the same request sent to the bot in Teams (a 1:1 message, no-auth as local mode runs
// it) against a bare botbuilder bot, alternately. Both answer in the turn and post one Adaptive Card
// into the approvals channel; the bot is installed in the team first, as it is in production.
import { join } from 'node:path';
import { CHANNEL_ID, installationUpdateAdd, personalMessage, TENANT_ID, users } from '../test/clients/teams';
import { botEnv, REQUEST_TEXT, type BenchContext } from './lib/context';
import { duel, finishRound, type DuelResult, type RoundResult } from './lib/duel';
import { closedLoop, HttpTarget, type OutgoingRequest } from './lib/load';
import { cpuMsOf, freePort, sleep, spawnBot, spawnFloor, waitForLine } from './lib/procs';

const CONCURRENCY = 50;

export function activityRequest(activity: object): OutgoingRequest {
  return { path: '/api/messages', headers: { 'content-type': 'application/json' }, body: JSON.stringify(activity) };
}

/** New threads in the approvals channel: the cards. */
export function countChannelCards(ctx: BenchContext): { count(): number; lastAt(): number; stop(): void } {
  let n = 0;
  let last = 0;
  const previous = ctx.connector.onCall;
  ctx.connector.onCall = (call) => {
    previous(call);
    if (call.method === 'POST' && call.path === '/v3/conversations') {
      n++;
      last = call.at;
    }
  };
  return { count: () => n, lastAt: () => last, stop: () => void (ctx.connector.onCall = previous) };
}

export async function runTeamsBench(ctx: BenchContext): Promise<DuelResult & { concurrency: number; perRound: number }> {
  const perRound = ctx.quick ? 500 : 2_000;
  const rounds = ctx.quick ? 3 : 5;
  ctx.log(`Teams message latency: ${rounds} rounds × ${perRound} messages each, concurrency ${CONCURRENCY}`);
  const place = { serviceUrl: ctx.connector.url };

  // Slack off: a Teams-only deployment, so the bot's visible work is the Teams answer and card alone.
  const botPort = await freePort();
  const bot = spawnBot({
    name: 'teams-bot',
    port: botPort,
    env: botEnv(ctx, join(ctx.outDir, 'teams-bot-data'), { SLACK_BOT_TOKEN: undefined, SLACK_SIGNING_SECRET: undefined, SLACK_API_URL: undefined }),
    logDir: ctx.outDir,
    nodeFlags: ctx.botNodeFlags,
  });
  const floorPort = await freePort();
  const floor = spawnFloor({ name: 'teams-floor', script: 'bench/floors/teams-floor.ts', port: floorPort, env: { TEAMS_CHANNEL_ID: CHANNEL_ID, TEAMS_TENANT_ID: TENANT_ID }, logDir: ctx.outDir });
  await Promise.all([bot.waitReady('/readyz', 60_000, 20), waitForLine(floor, /ready/)]);
  const targets = { bot: new HttpTarget(bot.url, CONCURRENCY), floor: new HttpTarget(floor.url, CONCURRENCY) };

  // Installed in the team with the approvals channel picked: where the bot's cards go.
  const install = await targets.bot.send(activityRequest(installationUpdateAdd(place)));
  if (install.status !== 200) throw new Error(`installing the bot answered ${install.status}`);
  await sleep(500);

  const run = async (who: 'bot' | 'floor', n: number): Promise<RoundResult> => {
    const cards = countChannelCards(ctx);
    let ok = 0;
    const startedAt = Date.now();
    const pid = (who === 'bot' ? bot : floor).pid;
    const cpu = { read: () => cpuMsOf(pid), atStart: cpuMsOf(pid) };
    try {
      const load = await closedLoop(targets[who], {
        count: n,
        concurrency: CONCURRENCY,
        make: () => activityRequest(personalMessage(place, users.alice, `jit ${REQUEST_TEXT}`)),
        onAnswer: (_i, a) => {
          if (a.status === 200) ok++;
        },
      });
      return await finishRound({ who, n, ok, startedAt, load, cards, log: ctx.log, cpu });
    } finally {
      cards.stop();
    }
  };

  try {
    return { ...(await duel({ rounds, perRound, warmup: ctx.quick ? 200 : 500, run, log: ctx.log })), concurrency: CONCURRENCY, perRound };
  } finally {
    targets.bot.close();
    targets.floor.close();
    await Promise.all([bot.stop(), floor.stop()]);
  }
}
