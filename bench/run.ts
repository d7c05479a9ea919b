// `npm run bench [-- --quick] [-- --only=slack,teams,decision,expiry,cold] [-- --slack-postgres] [-- --profile] [-- --no-build]`
// `npm run bench -- --report-only` rewrites bench/RESULTS.md from bench/results.json.
// The runner is the third process: it hosts the load generator, the fake Slack Web API, the fake Bot
// Connector and the Azure simulator; the bot and each floor run in processes of their own.
// `expiry` runs both engines; `expiry-pglite` or `expiry-postgres` runs one. `--slack-postgres` adds the
// Slack comparison with the bot on PostgreSQL (not part of the default run: it shows the store's share).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runColdBench } from './cold';
import { runDecisionBench } from './decision';
import { freshSchema, runExpiryBench, type ExpiryRun } from './expiry';
import { startRunnerFakes, type BenchContext } from './lib/context';
import { REPO } from './lib/procs';
import { evaluate, machine, markdown, type Results } from './report';
import { runSlackBench } from './slack';
import { runTeamsBench } from './teams';

const BENCHES = ['slack', 'teams', 'decision', 'expiry-pglite', 'expiry-postgres', 'cold'] as const;
type Bench = (typeof BENCHES)[number];

async function main(): Promise<void> {
  const started = performance.now();
  const args = process.argv.slice(2);
  if (args.includes('--report-only')) {
    // Rewrite bench/RESULTS.md from bench/results.json (after editing the report's notes), measuring nothing.
    const results = JSON.parse(readFileSync(join(REPO, 'bench', 'results.json'), 'utf8')) as Results;
    results.targets = evaluate(results);
    writeFileSync(join(REPO, 'bench', 'RESULTS.md'), markdown(results));
    process.stdout.write('rewrote bench/RESULTS.md from bench/results.json\n');
    return;
  }
  const quick = args.includes('--quick');
  const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
  const selected = BENCHES.filter((b: Bench) => !only || only.includes(b) || (b.startsWith('expiry') && only.includes('expiry')));
  const outDir = join(REPO, 'bench', 'out', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(outDir, { recursive: true });
  const log = (line: string) => process.stdout.write(`${line}\n`);
  log(`jitbot benchmarks${quick ? ' (quick)' : ''}: ${selected.join(', ')}; logs in ${outDir}`);

  if (!args.includes('--no-build')) {
    log('building dist/ (the bot runs as npm start runs it)…');
    execFileSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: REPO, stdio: 'inherit' });
  }

  const fakes = await startRunnerFakes();
  const { configPath, sim, slack, connector } = fakes;
  const ctx: BenchContext = {
    quick,
    outDir,
    configPath,
    slack,
    connector,
    sim,
    // --profile: a CPU profile of every bot process; JITBOT_BENCH_BOT_FLAGS: any other node flags
    // (`--heap-prof`…), written into bench/out/<run>/profiles.
    botNodeFlags: [
      ...(args.includes('--profile') ? ['--cpu-prof', `--cpu-prof-dir=${join(outDir, 'profiles')}`] : []),
      ...(process.env.JITBOT_BENCH_BOT_FLAGS ?? '').split(' ').filter(Boolean).map((f) => f.replace('{out}', join(outDir, 'profiles'))),
    ],
    log,
  };
  const results: Results = { machine: machine(quick) };
  try {
    if (selected.includes('slack')) results.slack = await runSlackBench(ctx);
    if (args.includes('--slack-postgres')) {
      const schema = await freshSchema();
      try {
        results.slackPostgres = await runSlackBench(ctx, { databaseUrl: schema.url });
      } finally {
        await schema.drop();
      }
    }
    if (selected.includes('teams')) results.teams = await runTeamsBench(ctx);
    if (selected.includes('decision')) results.decision = await runDecisionBench(ctx);
    const expiry: ExpiryRun[] = [];
    if (selected.includes('expiry-pglite')) expiry.push(await runExpiryBench(ctx, 'pglite'));
    if (selected.includes('expiry-postgres')) expiry.push(await runExpiryBench(ctx, 'postgres'));
    if (expiry.length) results.expiry = expiry;
    if (selected.includes('cold')) results.cold = await runColdBench(ctx);
  } finally {
    await fakes.close();
  }
  results.machine.wallSeconds = (performance.now() - started) / 1000;
  results.targets = evaluate(results);
  const md = markdown(results);
  writeFileSync(join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(outDir, 'RESULTS.md'), md);
  // A partial run (--only, --quick) stays in bench/out; only a full run replaces the published results.
  if (!only && !quick) {
    writeFileSync(join(REPO, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(REPO, 'bench', 'RESULTS.md'), md);
    log('wrote bench/RESULTS.md and bench/results.json');
  }
  log('');
  log(md);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
