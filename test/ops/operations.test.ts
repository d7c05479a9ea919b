// What an operator runs the bot by: /metrics (Prometheus), /healthz, /readyz, and logs in which every
// line about a request or a job says which one. The whole bot as startBot assembles it (local mode:
// PGlite, its own Azure simulator), with Slack on a fake Web API and Teams without authentication,
// its production logger writing to a buffer.
import { strict as assert } from 'node:assert';
import { Writable } from 'node:stream';
import { createLogger, startBot, type RunningBot } from '../../src/main';
import { slashCommand, SlackTestClient } from '../clients/slack';
import { channelMessage, connectorMembers, executeInvoke, installationUpdateAdd, users } from '../clients/teams';
import { startFakeBotConnector, type FakeBotConnector } from '../fakes/bot-connector';
import { FakeSlackApi } from '../fakes/slack-api';
import { getJson, metricValue, tempDir, waitUntil } from './support';

const SIGNING_SECRET = 'operations-test-signing-secret';

/** pino's output, one parsed JSON object per line. */
class LogSink extends Writable {
  readonly lines: Array<Record<string, unknown>> = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  }
}

describe('operations: metrics, health, readiness and request ids in the logs', function () {
  this.timeout(60_000);
  let bot: RunningBot;
  let connector: FakeBotConnector;
  let slackApi: FakeSlackApi;
  let sink: LogSink;
  let dir: ReturnType<typeof tempDir>;
  let startedAtLine = 0;

  before(async () => {
    dir = tempDir('jitbot-ops-operations');
    connector = await startFakeBotConnector({ members: connectorMembers() });
    slackApi = await FakeSlackApi.start();
    sink = new LogSink();
    bot = await startBot(
      {
        PORT: '0',
        JITBOT_SIM_PORT: '0',
        JITBOT_DATA_DIR: dir.path,
        SLACK_BOT_TOKEN: 'xoxb-operations-test',
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_API_URL: slackApi.apiUrl,
      },
      { logger: createLogger('debug', sink) },
    );
    startedAtLine = sink.lines.length;
  });
  after(async () => {
    await bot?.close();
    await connector?.close();
    await slackApi?.close();
    dir?.remove();
  });

  const url = (path: string) => `${bot.url.replace('//localhost:', '//127.0.0.1:')}${path}`;
  const metrics = async () => {
    const res = await fetch(url('/metrics'));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return res.text();
  };
  const place = () => ({ serviceUrl: connector.url });
  const teams = (activity: object, requestId?: string) =>
    fetch(url('/api/messages'), { method: 'POST', headers: { 'content-type': 'application/json', ...(requestId ? { 'x-request-id': requestId } : {}) }, body: JSON.stringify(activity) });

  it('counts commands and decisions, and shows open grants and scheduler lag from the store and the scheduler', async () => {
    assert.equal((await teams(installationUpdateAdd(place()))).status, 200);
    const before = await metrics();
    assert.equal(metricValue(before, 'jitbot_open_grants'), 0);
    const lagBefore = metricValue(before, 'jitbot_scheduler_lag_seconds');
    assert.ok(lagBefore !== undefined && lagBefore < 5, `nothing is late yet: ${lagBefore}`);

    assert.equal((await teams(channelMessage(place(), users.alice, 'jit ssh web-01 30m from 10.1.2.3 for METRICS-1'))).status, 200);
    assert.equal((await teams(channelMessage(place(), users.dave, 'jit ssh web-01 30m from 10.1.2.3 for nope'))).status, 200);
    assert.equal((await teams(channelMessage(place(), users.alice, 'jit frobnicate web-01'))).status, 200);
    const [request] = await bot.store.listRequests({ states: ['pending'] });
    assert.ok(request, 'alice’s request is pending');
    const afterAsks = await metrics();
    assert.equal(metricValue(afterAsks, 'jitbot_commands_total', { kind: 'request', outcome: 'ok' }), 1);
    assert.equal(metricValue(afterAsks, 'jitbot_commands_total', { kind: 'request', outcome: 'refused' }), 1, 'dave may not request');
    assert.equal(metricValue(afterAsks, 'jitbot_commands_total', { kind: 'unknown', outcome: 'invalid' }), 1);

    const click = (who: typeof users.bob) => teams(executeInvoke(place(), who, { verb: 'approve', data: { verb: 'approve', requestId: request.id } }));
    assert.equal((await click(users.alice)).status, 200);
    assert.equal((await click(users.bob)).status, 200);
    await waitUntil('the grant to open', async () => (await bot.store.getRequest(request.id))?.state === 'active', 10_000, 50);
    const open = await metrics();
    assert.equal(metricValue(open, 'jitbot_decisions_total', { decision: 'approve', outcome: 'ok' }), 1);
    assert.equal(metricValue(open, 'jitbot_decisions_total', { decision: 'approve', outcome: 'refused' }), 1, 'alice cannot approve her own');
    assert.equal(metricValue(open, 'jitbot_open_grants'), 1);
    assert.equal(metricValue(open, 'jitbot_approval_to_open_seconds_count', { outcome: 'ok' }), 1);
    assert.ok((metricValue(open, 'jitbot_azure_call_seconds_count', { operation: 'initiate', outcome: 'ok' }) ?? 0) >= 1);

    // The reminder is due 20 minutes after opening; moving 25 minutes makes it run 5 minutes late.
    // (The approval's own redraws, which may still be waiting their turn, run before the clock moves.)
    const advanced = await fetch(url('/_local/clock/advance'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ by: 'PT25M' }) });
    assert.equal(advanced.status, 200);
    const late = metricValue(await metrics(), 'jitbot_scheduler_lag_seconds') ?? 0;
    assert.ok(late >= 299 && late < 330, `the reminder ran about 300 s late: ${late}`);

    await fetch(url('/_local/clock/advance'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ by: 'PT10M' }) });
    assert.equal((await bot.store.getRequest(request.id))?.state, 'expired');
    assert.equal(metricValue(await metrics(), 'jitbot_open_grants'), 0, 'the expired grant is no longer counted');
  });

  it('writes the request id on every line about a request, and the job id on every line about a job', async () => {
    // A forged Slack request: the Slack route logs the refusal, deep inside the request.
    const forged = await new SlackTestClient(url('/slack/events'), 'not-the-secret').command(
      slashCommand({ user_id: 'U0ALICE', text: 'ssh web-01 1h from 10.1.2.3', response_url: slackApi.responseUrl('forged') }),
    );
    assert.equal(forged.status, 401);
    const forgedLines = sink.lines.slice(startedAtLine).filter((l) => /verify/i.test(String(l.msg)));
    assert.ok(forgedLines.length >= 1, 'the refusal is logged');

    // A Teams install with the caller's request id: the adapter's line carries it, and the answer echoes it.
    const res = await teams({ ...installationUpdateAdd(place()), id: 'reinstall-1' }, 'ops-trace-0001');
    assert.equal(res.headers.get('x-request-id'), 'ops-trace-0001');
    assert.ok(sink.lines.some((l) => l.reqId === 'ops-trace-0001' && l.msg === 'Teams app installed'), 'the install line names the request');
    assert.ok(sink.lines.some((l) => l.reqId === 'ops-trace-0001' && l.msg === 'request' && l.status === 200), 'so does the access line');

    // A job whose post fails: the Teams adapter, running inside the job, logs it.
    connector.failNext({ method: 'POST', pathIncludes: '/v3/conversations' }, { status: 500, body: { error: { code: 'ServiceError', message: 'down' } } }, 1);
    const asked = await new SlackTestClient(url('/slack/events'), SIGNING_SECRET).command(
      slashCommand({ user_id: 'U0ALICE', text: 'ssh web-02 30m from 10.1.2.4 for LOGS-1', response_url: slackApi.responseUrl('logs-1') }),
    );
    assert.equal(asked.status, 200);
    const notPosted = await waitUntil('the failed Teams post to be logged', () => sink.lines.find((l) => l.msg === 'approval card not posted in a Teams channel'), 10_000, 20);
    assert.equal(notPosted.job, 'post-card', 'the line names the job it is about');
    assert.match(String(notPosted.jobId), /^\d+$/);
    assert.match(String(notPosted.requestId), /^R[A-Z0-9]{5}$/);

    const lines = sink.lines.slice(startedAtLine);
    assert.ok(lines.length >= 10, `enough lines to judge by: ${lines.length}`);
    const anonymous = lines.filter((l) => l.reqId === undefined && l.jobId === undefined);
    assert.deepEqual(anonymous.map((l) => l.msg), [], 'every line names the request or job it is about');
    for (const l of forgedLines) assert.equal(typeof l.reqId, 'string', 'the refusal line carries the request id');
  });

  it('names every metric with one jitbot_ prefix, times requests by registered route and status, and counts chat 429s and failures', async () => {
    const before = await metrics();
    const names = [...before.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
    assert.ok(names.length >= 20, `metrics listed: ${names.length}`);
    assert.deepEqual(names.filter((n) => !n.startsWith('jitbot_')), [], 'every metric starts with jitbot_');
    assert.deepEqual(names.filter((n) => /^jitbot_(process_process|nodejs_nodejs|jitbot)_/.test(n)), [], 'no prefix twice');
    assert.ok(names.includes('jitbot_process_cpu_seconds_total') && names.includes('jitbot_nodejs_heap_size_used_bytes'));
    const count = (text: string, name: string, labels: Record<string, string>) => metricValue(text, name, labels) ?? 0;
    const slack429 = count(before, 'jitbot_chat_rate_limited_total', { platform: 'slack' });
    const teams429 = count(before, 'jitbot_chat_rate_limited_total', { platform: 'teams' });
    const teamsFailed = count(before, 'jitbot_chat_errors_total', { platform: 'teams', retryable: 'true' });
    const healthz = count(before, 'jitbot_http_request_duration_seconds_count', { method: 'GET', route: '/healthz', status: '200' });

    assert.equal((await fetch(url('/healthz'))).status, 200);
    assert.equal((await fetch(url('/no-such-page/4711'))).status, 404);
    // Slack answers the card's post with 429 once (waited out); the Bot Connector twice (its job retries later).
    slackApi.rateLimitNext('chat.postMessage', 1);
    connector.failNext({ method: 'POST', pathIncludes: '/v3/conversations' }, { status: 429, headers: { 'retry-after': '1' }, body: { error: { code: 'Throttled', message: 'slow down' } } }, 2);
    const asked = await new SlackTestClient(url('/slack/events'), SIGNING_SECRET).command(
      slashCommand({ user_id: 'U0ALICE', text: 'ssh web-02 30m from 10.1.2.5 for METRICS-429', response_url: slackApi.responseUrl('metrics-429') }),
    );
    assert.equal(asked.status, 200);

    const after = await waitUntil(
      'the 429s to be counted',
      async () => {
        const text = await metrics();
        return count(text, 'jitbot_chat_rate_limited_total', { platform: 'slack' }) >= slack429 + 1 &&
          count(text, 'jitbot_chat_rate_limited_total', { platform: 'teams' }) >= teams429 + 1
          ? text
          : undefined;
      },
      15_000,
      100,
    );
    assert.ok(count(after, 'jitbot_chat_errors_total', { platform: 'teams', retryable: 'true' }) >= teamsFailed + 1, 'the throttled Teams post failed, to be retried');
    assert.equal(count(after, 'jitbot_http_request_duration_seconds_count', { method: 'GET', route: '/healthz', status: '200' }), healthz + 1);
    assert.ok(count(after, 'jitbot_http_request_duration_seconds_count', { method: 'POST', route: '/slack/events', status: '200' }) >= 1);
    assert.ok(count(after, 'jitbot_http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status: '404' }) >= 1);
    // Matched on the path's words, not its number: a metric's value may contain 4711 by chance.
    assert.doesNotMatch(after, /no-such-page/, 'a raw path never becomes a label');
  });

  it('answers /readyz from the store and its migrations, and reports Azure from its last call or one cached probe without listing the subscription', async () => {
    const names = (body: { checks: Array<{ name: string; ok: boolean; required: boolean }> }) => body.checks.map((c) => [c.name, c.ok, c.required]);
    const armCallsBefore = bot.sim!.requestLog.length;
    const probes = await Promise.all(Array.from({ length: 20 }, () => getJson(url('/readyz'))));
    for (const ready of probes) {
      assert.equal(ready.status, 200);
      assert.deepEqual(names(ready.body), [['store', true, true], ['azure', true, false]]);
    }
    assert.deepEqual(probes[0].body.checks[0].details, { schemaVersion: 3, expectedVersion: 3 }, 'the store says which migrations it holds');
    const armCalls = bot.sim!.requestLog.slice(armCallsBefore);
    assert.ok(armCalls.length <= 1, `20 probes made at most one ARM call: ${armCalls.map((c) => c.path).join(', ')}`);
    assert.ok(!armCalls.some((c) => /virtualMachines/i.test(c.path)), 'no probe lists the VMs');

    await bot.sim!.close();
    // The bot's next Azure call fails: from then on Azure is reported down (a probe confirms it), but
    // every replica shares that Azure, so the bot stays in the load balancer to say so to people.
    await bot.app.vms({ fresh: true }).catch(() => undefined);
    const noAzure = await getJson(url('/readyz'));
    assert.equal(noAzure.status, 200);
    assert.equal(noAzure.body.status, 'degraded');
    assert.deepEqual(names(noAzure.body), [['store', true, true], ['azure', false, false]]);
    assert.match(String(noAzure.body.checks[1].error), /\S/, 'it says why');
    assert.equal((await getJson(url('/healthz'))).status, 200, 'alive: no reason to restart the process');

    await bot.store.close();
    const nothing = await getJson(url('/readyz'));
    assert.equal(nothing.status, 503);
    assert.equal(nothing.body.status, 'not ready');
    assert.deepEqual(names(nothing.body)[0], ['store', false, true]);
    assert.equal((await getJson(url('/healthz'))).status, 200);
  });
});
