// Benchmark 3: decision to open. An approver clicks Approve on the Slack card; the bot commits the
// decision, its scheduler calls Azure's JIT `initiate` (the runner's simulator, no added latency),
// commits `active`, and replies in the card's thread that the ports are open. Measured from the
// runner, on one clock: click sent → initiate accepted by the simulator → thread reply received
// by the fake Slack API. One click at a time, so each number is the path itself, not a queue.
import { blockActions, FORM_CONTENT_TYPE, slackSignature } from '../test/clients/slack';
import { APPROVALS_CHANNEL, REQUEST_TEXT, SIGNING_SECRET, type BenchContext } from './lib/context';
import { closedLoop, HttpTarget, type OutgoingRequest } from './lib/load';
import { sleep } from './lib/procs';
import { summarize, type Summary } from './lib/stats';
import { waitUntil } from './lib/duel';
import { signedCommand, startSlackBot } from './slack';

export interface DecisionResult {
  requests: number;
  /** Click sent → the thread reply "Open until …" arrived at Slack. */
  decisionToOpenMs: Summary;
  /** Click sent → the simulator answered the initiate. */
  decisionToInitiateMs: Summary;
  /** The click's own HTTP answer (Bolt acknowledges before the use case runs). */
  clickAckMs: Summary;
  failures: number;
}

function signedInteraction(payload: object): OutgoingRequest {
  const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const ts = Math.floor(Date.now() / 1000);
  return {
    path: '/slack/events',
    headers: { 'content-type': FORM_CONTENT_TYPE, 'x-slack-request-timestamp': String(ts), 'x-slack-signature': slackSignature(SIGNING_SECRET, ts, body) },
    body,
  };
}

export async function runDecisionBench(ctx: BenchContext): Promise<DecisionResult> {
  const n = ctx.quick ? 200 : 1_000;
  ctx.log(`Decision to open: ${n} approvals, one at a time`);
  const bot = await startSlackBot(ctx, 'decision-bot');
  const target = new HttpTarget(bot.url, 50);

  // Card ts by request id, and the moments the "opened" replies arrive, by card ts.
  const cardTs = new Map<string, string>();
  const openedAt = new Map<string, number>();
  const previous = ctx.slack.onCall;
  ctx.slack.onCall = (call) => {
    previous(call);
    if (call.method !== 'chat.postMessage' || call.args.channel !== APPROVALS_CHANNEL) return;
    if (!call.args.thread_ts) {
      const id = /^(R[A-Z0-9]{5}):/.exec(call.args.text ?? '')?.[1];
      if (id && call.answer?.ts) cardTs.set(id, call.answer.ts);
    } else if ((call.args.text ?? '').includes('Open until') && !openedAt.has(call.args.thread_ts)) {
      openedAt.set(call.args.thread_ts, call.at);
    }
  };
  const ids: string[] = [];
  try {
    // The requests, made the ordinary way: slash commands from Alice.
    await closedLoop(target, {
      count: n,
      concurrency: 50,
      make: (i) => signedCommand(ctx, 'U0ALICE', REQUEST_TEXT, `decision-cmd-${i}`),
      onAnswer: (_i, a) => {
        const id = /Sent for approval: (R[A-Z0-9]{5})/.exec(a.body)?.[1];
        if (id) ids.push(id);
      },
    });
    if (!(await waitUntil(() => ids.every((id) => cardTs.has(id)), 60_000))) throw new Error('not every approval card was posted');
    await sleep(1_000);

    const decisionToOpen: number[] = [];
    const decisionToInitiate: number[] = [];
    const clickAck: number[] = [];
    let failures = 0;
    for (const [i, id] of ids.entries()) {
      const ts = cardTs.get(id)!;
      const payload = blockActions({ user: 'U0BOB', actionId: 'jit_approve', value: id, responseUrl: ctx.slack.responseUrl(`decision-click-${i}`), channel: APPROVALS_CHANNEL, messageTs: ts });
      const req = signedInteraction(payload);
      const sentAt = Date.now();
      const answer = await target.send(req);
      clickAck.push(answer.ms);
      if (answer.status !== 200 || !(await waitUntil(() => openedAt.has(ts), 10_000, 1))) {
        failures++;
        continue;
      }
      decisionToOpen.push(openedAt.get(ts)! - sentAt);
      const initiated = ctx.sim.requestLog.filter((e) => e.method === 'POST' && e.path.includes('/initiate') && Date.parse(e.at) >= sentAt);
      if (initiated.length) decisionToInitiate.push(Math.min(...initiated.map((e) => Date.parse(e.at))) - sentAt);
      // Let the rest of this decision's deliveries (card redraws, direct messages) go out first.
      await sleep(25);
    }
    return { requests: ids.length, decisionToOpenMs: summarize(decisionToOpen), decisionToInitiateMs: summarize(decisionToInitiate), clickAckMs: summarize(clickAck), failures };
  } finally {
    ctx.slack.onCall = previous;
    target.close();
    await bot.stop();
  }
}
