// `npm run bench:ab -- <buildA> <buildB> [--teams] [--pairs=6] [--a-flags="…"] [--b-flags="…"]`
//
// What one change buys, measured side by side: two builds of the bot, each a copy of dist/ beside it
// in the repository (so both find node_modules and the repository's files, as dist/ does), e.g.
//   git checkout <before> && npm run build && cp -r dist dist-before
//   git checkout <after>  && npm run build && cp -r dist dist-after
//   npm run bench:ab -- dist-before dist-after
// Both are started as `npm start` starts the bot (its node flags, then any --a-flags/--b-flags, which
// win), in local mode against the runner's fakes, and get the same Slack command (or, with --teams,
// the same Teams message, Slack off) in rounds of 1,000 at concurrency 50, alternating which goes
// first. Each round ends when every card is in the channel. Prints each pair, then the medians of
// B/A for requests per second and CPU per request: ratios from one run, as the machine drifts.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { installationUpdateAdd, personalMessage, users } from '../test/clients/teams';
import { botEnv, REQUEST_TEXT, startRunnerFakes, type BenchContext } from './lib/context';
import { closedLoop, HttpTarget } from './lib/load';
import { cpuMsOf, freePort, REPO, spawnNode, startFlags, type Child } from './lib/procs';
import { countCards, CONCURRENCY, signedCommand } from './slack';
import { activityRequest, countChannelCards } from './teams';

const PER_ROUND = 1_000;

function option(args: string[], name: string): string | undefined {
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const [buildA, buildB] = args.filter((a) => !a.startsWith('--'));
  if (!buildA || !buildB) throw new Error('usage: npm run bench:ab -- <buildA> <buildB> [--teams] [--pairs=6] [--a-flags="…"] [--b-flags="…"]');
  const teams = args.includes('--teams');
  const pairs = Number(option(args, 'pairs') ?? 6);
  const outDir = join(REPO, 'bench', 'out', `ab-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(outDir, { recursive: true });

  const fakes = await startRunnerFakes();
  const ctx: BenchContext = { quick: true, outDir, ...fakes, botNodeFlags: [], log: (line) => process.stdout.write(`${line}\n`) };
  const place = { serviceUrl: fakes.connector.url };

  const start = async (name: 'a' | 'b', build: string, flags: string): Promise<Child> => {
    const port = await freePort();
    const env = botEnv(ctx, join(outDir, `${name}-data`), teams ? { SLACK_BOT_TOKEN: undefined, SLACK_SIGNING_SECRET: undefined, SLACK_API_URL: undefined } : {});
    const bot = spawnNode({ name, port, args: [...startFlags(), ...flags.split(' ').filter(Boolean), join(build, 'src', 'main.js')], env: { HOST: '127.0.0.1', PORT: String(port), ...env }, logDir: outDir });
    await bot.waitReady('/readyz', 180_000, 20);
    return bot;
  };
  const bots = { a: await start('a', buildA, option(args, 'a-flags') ?? ''), b: await start('b', buildB, option(args, 'b-flags') ?? '') };
  const targets = { a: new HttpTarget(bots.a.url, CONCURRENCY), b: new HttpTarget(bots.b.url, CONCURRENCY) };
  if (teams) for (const t of Object.values(targets)) await t.send(activityRequest(installationUpdateAdd(place)));

  let seq = 0;
  const round = async (who: 'a' | 'b', n: number): Promise<{ rps: number; cpu: number }> => {
    const cards = teams ? countChannelCards(ctx) : countCards(ctx);
    const cpuAtStart = cpuMsOf(bots[who].pid);
    const startedAt = Date.now();
    try {
      await closedLoop(targets[who], {
        count: n,
        concurrency: CONCURRENCY,
        make: () => (teams ? activityRequest(personalMessage(place, users.alice, `jit ${REQUEST_TEXT}`)) : signedCommand(ctx, 'U0ALICE', REQUEST_TEXT, `${who}-${++seq}`)),
        onAnswer: () => {},
      });
      const deadline = Date.now() + 60_000;
      while (cards.count() < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      if (cards.count() < n) throw new Error(`${who}: ${cards.count()} of ${n} cards within a minute; see ${bots[who].logPath}`);
      return { rps: (n * 1000) / (Date.now() - startedAt), cpu: (cpuMsOf(bots[who].pid) - cpuAtStart) / n };
    } finally {
      cards.stop();
    }
  };

  try {
    // Warm-up, then pairs in alternating order.
    await round('a', 300);
    await round('b', 300);
    const ratios: Array<{ rps: number; cpu: number }> = [];
    for (let i = 0; i < pairs; i++) {
      const order: Array<'a' | 'b'> = i % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
      const got: Partial<Record<'a' | 'b', { rps: number; cpu: number }>> = {};
      for (const who of order) got[who] = await round(who, PER_ROUND);
      const { a, b } = got as Record<'a' | 'b', { rps: number; cpu: number }>;
      ratios.push({ rps: b.rps / a.rps, cpu: b.cpu / a.cpu });
      ctx.log(`pair ${i + 1}: A ${a.rps.toFixed(0)} req/s, ${a.cpu.toFixed(2)} ms CPU/req · B ${b.rps.toFixed(0)} req/s, ${b.cpu.toFixed(2)} ms CPU/req · B/A ${(b.rps / a.rps).toFixed(2)} and ${(b.cpu / a.cpu).toFixed(2)}`);
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    ctx.log(`B/A (${teams ? 'Teams' : 'Slack'}, medians of ${pairs} pairs): requests per second ${median(ratios.map((r) => r.rps)).toFixed(2)}, CPU per request ${median(ratios.map((r) => r.cpu)).toFixed(2)}`);
  } finally {
    targets.a.close();
    targets.b.close();
    await Promise.all([bots.a.stop(), bots.b.stop()]);
    await fakes.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:ab failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
