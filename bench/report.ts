// Turns the runner's measurements into bench/results.json and bench/RESULTS.md: the machine, every
// number with its definition, the bot/floor ratios, and each target met or missed.
import { cpus, totalmem } from 'node:os';
import type { ColdCase } from './cold';
import type { DecisionResult } from './decision';
import type { DuelResult } from './lib/duel';
import type { ExpiryRun } from './expiry';

export interface Results {
  machine: { cpus: number; cpuModel: string; memoryGb: number; node: string; platform: string; startedAt: string; quick: boolean; wallSeconds?: number };
  slack?: DuelResult & { concurrency: number; perRound: number };
  teams?: DuelResult & { concurrency: number; perRound: number };
  decision?: DecisionResult;
  expiry?: ExpiryRun[];
  cold?: ColdCase[];
  targets?: Target[];
}

export interface Target {
  name: string;
  target: string;
  measured: string;
  met: boolean;
}

export function machine(quick: boolean): Results['machine'] {
  const c = cpus();
  return {
    cpus: c.length,
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    startedAt: new Date().toISOString(),
    quick,
  };
}

const pct = (r: number) => `${Math.round(r * 100)} %`;
const x = (r: number) => `${r.toFixed(2)}×`;

export function evaluate(r: Results): Target[] {
  const t: Target[] = [];
  for (const [name, d] of [['Slack', r.slack], ['Teams', r.teams]] as const) {
    if (!d) continue;
    t.push({ name: `${name} throughput`, target: '≥ 80 % of the floor', measured: `${d.bot.rps} vs ${d.floor.rps} req/s (${pct(d.ratios.rps)})`, met: d.ratios.rps >= 0.8 });
    t.push({ name: `${name} p99 answer`, target: '≤ 1.5 × the floor', measured: `${d.bot.p99} vs ${d.floor.p99} ms (${x(d.ratios.p99)})`, met: d.ratios.p99 <= 1.5 });
    if (name === 'Slack') t.push({ name: 'Slack p99 ack vs Slack’s 3 s', target: 'far under 3,000 ms', measured: `${d.bot.p99} ms`, met: d.bot.p99 <= 1_000 });
  }
  if (r.decision) t.push({ name: 'Decision to open p99', target: '≤ 50 ms', measured: `${r.decision.decisionToOpenMs.p99} ms`, met: r.decision.decisionToOpenMs.p99 <= 50 && r.decision.failures === 0 });
  for (const e of r.expiry ?? []) {
    const where = `${e.engine === 'pglite' ? 'PGlite' : 'PostgreSQL'}, ${e.processes} process${e.processes > 1 ? 'es' : ''}`;
    t.push({ name: `Expiry notice p99 lateness (${where})`, target: '≤ 1,000 ms', measured: `${e.lateMs.p99} ms`, met: e.lateMs.p99 <= 1_000 && e.missing === 0 });
    t.push({ name: `Expiry duplicates (${where})`, target: '0', measured: `${e.duplicateNotices + e.duplicateCardUpdates}`, met: e.duplicateNotices + e.duplicateCardUpdates === 0 });
    t.push({ name: `Expiry peak RSS (${where})`, target: '≤ 300 MB', measured: `${e.peakRssMb} MB`, met: e.peakRssMb <= 300 });
  }
  for (const c of r.cold ?? []) {
    const limit = c.name.startsWith('PGlite') ? 2_000 : 1_000;
    t.push({ name: `Cold start, ${c.name}`, target: `≤ ${limit.toLocaleString('en')} ms`, measured: `${c.medianMs} ms`, met: c.medianMs <= limit });
  }
  return t;
}

function duelRows(name: string, d: DuelResult & { concurrency: number; perRound: number }): string[] {
  return [
    `| ${name} bot | ${d.bot.rps} | ${d.bot.ackRps} | ${d.bot.p50} | ${d.bot.p99} |`,
    `| ${name} floor | ${d.floor.rps} | ${d.floor.ackRps} | ${d.floor.p50} | ${d.floor.p99} |`,
    `| **${name} bot / floor** | **${d.ratios.rps.toFixed(2)}** | ${d.ratios.ackRps.toFixed(2)} | ${d.ratios.p50.toFixed(2)} | **${d.ratios.p99.toFixed(2)}** |`,
  ];
}

function rounds(name: string, d: DuelResult): string[] {
  const line = (who: string, rs: DuelResult['bot']['rounds']) =>
    `| ${name} ${who} | ${rs.map((r) => `${r.rps.toFixed(0)} / ${r.p99.toFixed(0)}`).join(' · ')} |`;
  return [line('bot', d.bot.rounds), line('floor', d.floor.rounds)];
}

export function markdown(r: Results): string {
  const m = r.machine;
  const out: string[] = [];
  out.push('# Benchmark results', '');
  out.push(`Measured ${m.startedAt.slice(0, 16).replace('T', ' ')} UTC by \`npm run bench${m.quick ? ' -- --quick' : ''}\`${m.wallSeconds ? ` in ${Math.round(m.wallSeconds)} s` : ''}.`);
  out.push(`Machine: **${m.cpus} CPUs** (${m.cpuModel}), ${m.memoryGb} GB, **Node ${m.node}**, ${m.platform}; shared and noisy, so every`);
  out.push('bot/floor comparison alternates rounds and reports medians of rounds and medians of per-pair ratios.', '');

  if (r.targets?.length) {
    out.push('## Targets', '', '| | target | measured | |', '| --- | --- | --- | --- |');
    for (const t of r.targets) out.push(`| ${t.name} | ${t.target} | ${t.measured} | ${t.met ? 'met' : '**missed**'} |`);
    out.push('');
  }

  if (r.slack || r.teams) {
    const c = r.slack ?? r.teams!;
    out.push('## Slack and Teams: the bot against a bare app on the same framework', '');
    out.push(`Closed loop, concurrency ${c.concurrency}, ${c.perRound} requests per round, medians of ${c.bot.rounds.length} rounds per side.`);
    out.push('*req/s* counts a request once it is answered **and** its card is in the channel (the fake chat API saw the post), over the');
    out.push('round\'s wall time; *answers/s* counts HTTP answers only. Latency is the HTTP response time of the slash-command POST (Slack)');
    out.push('or of the activity POST (Teams), from the load generator.', '');
    out.push('| | req/s | answers/s | p50 ms | p99 ms |', '| --- | --- | --- | --- | --- |');
    if (r.slack) out.push(...duelRows('Slack', r.slack));
    if (r.teams) out.push(...duelRows('Teams', r.teams));
    out.push('', 'Per round (req/s / p99 ms), in the order run:', '', '| | rounds |', '| --- | --- |');
    if (r.slack) out.push(...rounds('Slack', r.slack));
    if (r.teams) out.push(...rounds('Teams', r.teams));
    out.push('');
  }

  if (r.decision) {
    const d = r.decision;
    out.push('## Decision to open', '');
    out.push(`${d.requests} approvals clicked in Slack one at a time (the Azure simulator in the runner, no added latency); ${d.failures} failed.`, '');
    out.push('| | p50 ms | p99 ms | max ms |', '| --- | --- | --- | --- |');
    out.push(`| click → Azure initiate accepted | ${d.decisionToInitiateMs.p50} | ${d.decisionToInitiateMs.p99} | ${d.decisionToInitiateMs.max} |`);
    out.push(`| click → "Open until …" thread reply at Slack | **${d.decisionToOpenMs.p50}** | **${d.decisionToOpenMs.p99}** | ${d.decisionToOpenMs.max} |`);
    out.push(`| the click's own HTTP answer | ${d.clickAckMs.p50.toFixed(1)} | ${d.clickAckMs.p99.toFixed(1)} | ${d.clickAckMs.max.toFixed(1)} |`, '');
  }

  if (r.expiry?.length) {
    out.push('## Expiry at scale', '');
    out.push('Grants end evenly over one minute. *Late* = arrival of the "Expired, ports closed" thread reply at the fake Slack API minus the');
    out.push('grant\'s `endsAt`, both on the bot\'s clock (its local-mode clock, moved once so the minute starts a few seconds after the bots are up;');
    out.push('from then on real time passes). Azure closes the ports at `endsAt` on its own; this is the lateness of the notice.', '');
    out.push('| | grants | late p50 ms | late p99 ms | late max ms | card p99 ms | duplicates | peak RSS MB |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const e of r.expiry) {
      out.push(
        `| ${e.engine === 'pglite' ? 'PGlite' : 'PostgreSQL'}, ${e.processes} process${e.processes > 1 ? 'es' : ''} | ${e.grants} | ${e.lateMs.p50} | **${e.lateMs.p99}** | ${e.lateMs.max} | ${e.cardLateMs.p99} | ${e.duplicateNotices + e.duplicateCardUpdates} | ${e.peakRssMb} |`,
      );
    }
    out.push('');
  }

  if (r.cold?.length) {
    out.push('## Cold start', '', 'Spawning `node dist/src/main.js` (as `npm start` runs it) to the first 200 from `/readyz`; local mode, embedded simulator.', '');
    out.push('| | median ms | runs ms | RSS when ready MB |', '| --- | --- | --- | --- |');
    for (const c of r.cold) out.push(`| ${c.name} | **${c.medianMs}** | ${c.runs.join(', ')} | ${c.rssMb} |`);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}
