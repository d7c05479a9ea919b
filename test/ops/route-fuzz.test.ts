// The route fuzzer: what an outsider can send to every route of the real bot (a child process started
// as startBot assembles it, under the production supervision), loopback only. Two bots: local mode
// with Slack and the emulator's unauthenticated Teams, and one whose Teams route needs a Bot Framework
// token. Odd paths, every method, every content type, empty to 50 MB bodies, signed and unsigned, then
// a bounded random sample (fast-check). Throughout: the process stays up, every answer is below 500
// (a 503 only from /readyz), nothing lands in its temp directory, and /healthz answers within 1 s.
import { strict as assert } from 'node:assert';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { encodeForm, slackSignature } from '../clients/slack';
import { BOT, connectorMembers, TENANT_ID, users } from '../clients/teams';
import { startFakeBotConnector, type FakeBotConnector } from '../fakes/bot-connector';
import { FakeSlackApi } from '../fakes/slack-api';
import { inLanes, spawnBot, tempDir, type BotProcess } from './support';

const SECRET = 'route-fuzz-signing-secret';
const MB = 1024 * 1024;
/** The largest body any route reads (src/http/body.ts); larger ones are refused before reading. */
const LARGEST_ROUTE_BODY = MB;

const ROUTES: Array<{ path: string; methods: string[] }> = [
  { path: '/', methods: ['GET'] },
  { path: '/console/app.js', methods: ['GET'] },
  { path: '/console/app.css', methods: ['GET'] },
  { path: '/console/adaptivecards.js', methods: ['GET'] },
  { path: '/console/markdown-it.js', methods: ['GET'] },
  { path: '/console/people', methods: ['GET'] },
  { path: '/console/state', methods: ['GET'] },
  { path: '/console/events', methods: ['GET'] },
  { path: '/console/command', methods: ['POST'] },
  { path: '/console/action', methods: ['POST'] },
  { path: '/console/form', methods: ['POST'] },
  { path: '/_local/clock', methods: ['GET'] },
  { path: '/_local/clock/advance', methods: ['POST'] },
  { path: '/audit.csv', methods: ['GET'] },
  // One-time links: a token-shaped id and a callback, as strangers would find them.
  { path: `/from-me/${'A'.repeat(43)}`, methods: ['GET', 'POST'] },
  { path: `/step-up/${'A'.repeat(43)}`, methods: ['GET'] },
  { path: '/step-up/callback', methods: ['GET'] },
  { path: '/slack/events', methods: ['POST'] },
  { path: '/api/messages', methods: ['POST'] },
  { path: '/healthz', methods: ['GET'] },
  { path: '/readyz', methods: ['GET'] },
  { path: '/metrics', methods: ['GET'] },
  { path: '/no/such/route', methods: [] },
];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const CONTENT_TYPES: Array<string | undefined> = [
  'application/x-www-form-urlencoded',
  'application/json',
  'application/json; charset=utf-8',
  'multipart/form-data; boundary=fuzzboundary',
  'text/plain',
  undefined,
];

/** The same path as an attacker would bend it: parameters, slashes, encoded letters, NUL. */
function pathVariants(path: string): string[] {
  const last = path.lastIndexOf('/');
  const letter = path.slice(last + 1).search(/[a-z]/);
  const encoded =
    letter < 0 ? `${path}%2e` : `${path.slice(0, last + 1 + letter)}%${path.charCodeAt(last + 1 + letter).toString(16)}${path.slice(last + 2 + letter)}`;
  return [path, `${path};x`, `${path};`, `${path}/`, `/${path}`, encoded, `${path}%00`, `${path}/..`, path.toUpperCase(), `${path}?x=%00&x=1&y`];
}

const BIG = Buffer.alloc(50 * MB, 0x20);
const MULTIPART = '--fuzzboundary\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\nContent-Type: application/octet-stream\r\n\r\n';
function multipart(size: number): Buffer {
  return Buffer.concat([Buffer.from(MULTIPART), Buffer.alloc(size, 0x61), Buffer.from('\r\n--fuzzboundary--\r\n')]);
}

const BODIES: Array<{ name: string; body: string | Buffer }> = [
  { name: 'empty', body: '' },
  { name: 'null', body: 'null' },
  { name: 'payload=null', body: 'payload=null' },
  { name: 'array', body: '[1,{"type":"message"}]' },
  { name: 'invalid JSON', body: '{"type":' },
  { name: 'invalid form', body: '%%%=&&=%zz&payload=%7B' },
  { name: 'deep nesting', body: `${'['.repeat(50_000)}${']'.repeat(50_000)}` },
  { name: 'deep object', body: `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}` },
  { name: 'NUL', body: '{"type":"message","text":"jit help\u0000"}' },
  { name: 'multipart', body: multipart(100) },
  { name: '1 MB', body: Buffer.alloc(MB, 0x7b) },
];

interface Case {
  label: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** A body streamed chunked (no Content-Length), in bytes. */
  streamBytes?: number;
  /** Abort after this long without failing (the console's event stream stays open). */
  holdMs?: number;
}

interface Outcome {
  status?: number;
  error?: string;
  ms: number;
}

function signedHeaders(body: Buffer | string): Record<string, string> {
  const ts = Math.floor(Date.now() / 1000);
  return { 'x-slack-request-timestamp': String(ts), 'x-slack-signature': slackSignature(SECRET, ts, body.toString()) };
}

/** One request on its own connection, the path sent byte for byte as given. */
function send(base: string, c: Case): Promise<Outcome> {
  const url = new URL(base);
  const started = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: Omit<Outcome, 'ms'>) => {
      if (settled) return;
      settled = true;
      agent.destroy();
      resolve({ ...o, ms: Date.now() - started });
    };
    const headers: Record<string, string> = { ...c.headers };
    if (c.body !== undefined) headers['content-length'] = String(c.body.length);
    // A connection of its own, kept alive as Slack's and the Bot Connector's are: with \`Connection: close\` the
    // server hangs up once it has answered, and a sender still writing a body the route refused unread got EPIPE
    // before it could read the answer, or after, by chance.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const req = http.request({ host: url.hostname, port: url.port, method: c.method, path: c.path, headers, agent, timeout: 20_000 });
    let status: number | undefined;
    req.on('response', (res) => {
      status = res.statusCode;
      if (c.holdMs !== undefined) {
        setTimeout(() => {
          req.destroy();
          done({ status });
        }, c.holdMs);
        res.resume();
        return;
      }
      res.resume();
      res.on('end', () => done({ status }));
      res.on('error', (err) => done({ status, error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 20 s')));
    req.on('error', (err) => done({ ...(status !== undefined ? { status } : {}), error: (err as NodeJS.ErrnoException).code ?? err.message }));
    if (c.streamBytes !== undefined) {
      const chunk = Buffer.alloc(64 * 1024, 0x5b);
      let sent = 0;
      const stream = new Readable({
        read() {
          if (settled || status !== undefined || sent >= c.streamBytes!) return void this.push(null);
          sent += chunk.length;
          this.push(chunk);
        },
      });
      stream.pipe(req);
    } else {
      req.end(c.body);
    }
  });
}

/** Every file and directory under `dir`, with sizes, as sorted lines. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      out.push(`${p.slice(dir.length)} ${st.isDirectory() ? 'dir' : st.size}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** Polls /healthz every 100 ms on its own connections; the slowest answer is the claim. */
function watchHealth(base: string, inflight: Set<string>): { stop(): Promise<{ worstMs: number; failures: string[]; polls: number; during: string[] }> } {
  let running = true;
  let worstMs = 0;
  let polls = 0;
  let during: string[] = [];
  const failures: string[] = [];
  const loop = (async () => {
    while (running) {
      const busy = [...inflight];
      const o = await send(base, { label: 'healthz', method: 'GET', path: '/healthz', headers: {} });
      polls++;
      if (o.ms > worstMs) {
        worstMs = o.ms;
        during = [...new Set([...busy, ...inflight])];
      }
      if (o.status !== 200) failures.push(`${o.status ?? o.error}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { worstMs, failures, polls, during };
    },
  };
}

/** The cases every bot gets: paths × methods, then bodies × content types × signatures on the POST routes. */
function sweepCases(): Case[] {
  const cases: Case[] = [];
  for (const route of ROUTES) {
    for (const variant of pathVariants(route.path)) {
      // The console's event stream stays open by design: it is asked for as the page does, then left.
      const stream = route.path === '/console/events' && variant === route.path;
      const path = stream ? `${variant}?as=alice@example.com` : variant;
      for (const method of METHODS) {
        const body = method === 'GET' || method === 'HEAD' ? undefined : Buffer.from('{"type":"message"}');
        cases.push({
          label: `${method} ${path}`,
          method,
          path,
          headers: body ? { 'content-type': 'application/json' } : {},
          ...(body ? { body } : {}),
          ...(stream ? { holdMs: 300 } : {}),
        });
      }
    }
  }
  // Another site's name (DNS rebinding) and another origin, on every route.
  for (const route of ROUTES) {
    const method = route.methods[0] ?? 'GET';
    const body = method === 'POST' ? Buffer.from('{}') : undefined;
    const foreign: Array<Record<string, string>> = [{ host: 'evil.example' }, { origin: 'null' }, { origin: 'https://evil.example' }, { host: '' }];
    for (const headers of foreign) {
      cases.push({ label: `${method} ${route.path} ${JSON.stringify(headers)}`, method, path: route.path === '/console/events' ? '/console/events?as=alice@example.com' : route.path, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body } : {}), ...(route.path === '/console/events' ? { holdMs: 300 } : {}) });
    }
  }
  const posts = ROUTES.filter((r) => r.methods.includes('POST')).map((r) => r.path);
  for (const path of posts) {
    for (const type of CONTENT_TYPES) {
      for (const { name, body } of BODIES) {
        for (const signed of [false, true]) {
          const buf = Buffer.isBuffer(body) ? body : Buffer.from(body);
          cases.push({
            label: `POST ${path} ${type ?? 'no type'} ${name} ${signed ? 'signed' : 'unsigned'}`,
            method: 'POST',
            path,
            headers: { ...(type ? { 'content-type': type } : {}), ...(signed ? signedHeaders(buf) : {}) },
            body: buf,
          });
        }
      }
    }
    // 50 MB: declared (refused before reading), and streamed chunked without a length (cut off at the limit).
    cases.push({ label: `POST ${path} 50 MB declared`, method: 'POST', path, headers: { 'content-type': 'application/json' }, body: BIG });
    cases.push({ label: `POST ${path} 5 MB declared, Expect: 100-continue`, method: 'POST', path, headers: { 'content-type': 'application/json', expect: '100-continue', 'content-length': String(5 * MB) } });
    cases.push({ label: `POST ${path} small, Expect: 100-continue`, method: 'POST', path, headers: { 'content-type': 'application/json', expect: '100-continue' }, body: Buffer.from('{"type":"message"}') });
    cases.push({ label: `POST ${path} 50 MB chunked`, method: 'POST', path, headers: { 'content-type': 'application/json' }, streamBytes: 50 * MB });
    cases.push({ label: `POST ${path} 5 MB multipart chunked`, method: 'POST', path, headers: { 'content-type': 'multipart/form-data; boundary=fuzzboundary' }, streamBytes: 5 * MB });
  }
  return cases;
}

/** Bodies that pass the first checks, so the parsers and handlers behind them are fuzzed too. */
function randomCases(seed: number, count: number, serviceUrl: string): Case[] {
  const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
  const text = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: codeUnit, maxLength: 80 }), fc.constantFrom('ssh web-01 1h', 'help', '<at>jitbot</at> jit status', '<'.repeat(5000)));
  const slackForm = fc.record({ command: fc.constantFrom('/jit', '/other'), text, user_id: fc.constantFrom('U0ALICE', 'U0BOB', 'UNOBODY', ''), user_name: text, trigger_id: fc.string({ maxLength: 20 }), response_url: fc.constant('http://127.0.0.1:9/respond') });
  const slackPayload = fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.record({ type: fc.constantFrom('block_actions', 'view_submission', 'shortcut', 'event_callback', 'url_verification'), user: fc.anything({ maxDepth: 2 }), actions: fc.anything({ maxDepth: 2 }), view: fc.anything({ maxDepth: 2 }), event: fc.anything({ maxDepth: 2 }), challenge: fc.anything({ maxDepth: 1 }) }, { requiredKeys: ['type'] }));
  const activity = fc.record(
    {
      type: fc.oneof(fc.constantFrom('message', 'invoke', 'conversationUpdate', 'installationUpdate', 'messageReaction'), fc.string({ maxLength: 10 }), fc.anything({ maxDepth: 1 })),
      id: fc.oneof(fc.string({ maxLength: 12 }), fc.anything({ maxDepth: 1 })),
      serviceUrl: fc.oneof(fc.constant(serviceUrl), fc.string({ maxLength: 20 })),
      channelId: fc.constant('msteams'),
      from: fc.oneof(fc.constant({ id: users.alice.id, name: users.alice.name, aadObjectId: users.alice.aadObjectId }), fc.record({ id: fc.string({ maxLength: 12 }), name: text }), fc.anything({ maxDepth: 1 })),
      recipient: fc.oneof(fc.constant({ ...BOT }), fc.anything({ maxDepth: 1 })),
      conversation: fc.oneof(fc.constant({ id: `a:1personal-${users.alice.id.slice(3)}`, conversationType: 'personal', tenantId: TENANT_ID }), fc.anything({ maxDepth: 2 })),
      text: fc.oneof(text, fc.anything({ maxDepth: 1 })),
      value: fc.anything({ maxDepth: 3 }),
      name: fc.oneof(fc.constantFrom('adaptiveCard/action', 'composeExtension/query'), fc.string({ maxLength: 10 })),
      entities: fc.oneof(fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 3 }), fc.anything({ maxDepth: 1 })),
      timestamp: fc.oneof(fc.constant(new Date().toISOString()), fc.string({ maxLength: 10 })),
    },
    { requiredKeys: ['type', 'serviceUrl', 'from', 'recipient', 'conversation'] },
  );
  const caseArb: fc.Arbitrary<Case> = fc.oneof(
    slackForm.map((f) => {
      const body = Buffer.from(new URLSearchParams(f).toString());
      return { label: `slack command ${JSON.stringify(f).slice(0, 120)}`, method: 'POST', path: '/slack/events', headers: { 'content-type': 'application/x-www-form-urlencoded', ...signedHeaders(body) }, body };
    }),
    slackPayload.map((p) => {
      const body = Buffer.from(new URLSearchParams({ payload: JSON.stringify(p) ?? 'null' }).toString());
      return { label: `slack payload ${JSON.stringify(p).slice(0, 120)}`, method: 'POST', path: '/slack/events', headers: { 'content-type': 'application/x-www-form-urlencoded', ...signedHeaders(body) }, body };
    }),
    slackPayload.map((p) => {
      const body = Buffer.from(JSON.stringify(p) ?? 'null');
      return { label: `slack event ${body.toString().slice(0, 120)}`, method: 'POST', path: '/slack/events', headers: { 'content-type': 'application/json', ...signedHeaders(body) }, body };
    }),
    activity.map((a) => {
      const body = Buffer.from(JSON.stringify(a));
      return { label: `activity ${body.toString().slice(0, 160)}`, method: 'POST', path: '/api/messages', headers: { 'content-type': 'application/json' }, body };
    }),
    fc.record({ as: fc.oneof(fc.constant('alice@example.com'), fc.anything({ maxDepth: 1 })), text: fc.oneof(text, fc.anything({ maxDepth: 1 })), verb: fc.anything({ maxDepth: 1 }), requestId: fc.anything({ maxDepth: 1 }), input: fc.anything({ maxDepth: 2 }), by: fc.anything({ maxDepth: 1 }) }).chain((b) =>
      fc.constantFrom('/console/command', '/console/action', '/console/form', '/_local/clock/advance').map((path) => {
        const body = Buffer.from(JSON.stringify(b));
        return { label: `${path} ${body.toString().slice(0, 120)}`, method: 'POST', path, headers: { 'content-type': 'application/json' }, body };
      }),
    ),
  );
  return fc.sample(caseArb, { seed, numRuns: count });
}

function judge(c: Case, o: Outcome): string | null {
  const refusedEarly = (c.body?.length ?? c.streamBytes ?? 0) > LARGEST_ROUTE_BODY;
  if (o.status === undefined) {
    // A body over every limit is refused and the connection closed while it is still being sent.
    if (refusedEarly && /ECONNRESET|EPIPE/.test(o.error ?? '')) return null;
    return `${c.label}: no answer (${o.error})`;
  }
  if (o.status >= 500 && !(o.status === 503 && c.path === '/readyz')) return `${c.label}: ${o.status}`;
  if (refusedEarly && o.status < 400) return `${c.label}: a ${c.body?.length ?? c.streamBytes} byte body was taken (${o.status})`;
  return null;
}

async function attack(bot: BotProcess, tmp: string, cases: Case[], lanes = 4): Promise<void> {
  const before = listing(tmp);
  const inflight = new Set<string>();
  const health = watchHealth(bot.url, inflight);
  const problems: string[] = [];
  const statuses = new Map<number | string, number>();
  await inLanes(cases, lanes, async (c) => {
    inflight.add(c.label);
    const o = await send(bot.url, c);
    inflight.delete(c.label);
    statuses.set(o.status ?? o.error ?? '?', (statuses.get(o.status ?? o.error ?? '?') ?? 0) + 1);
    const problem = judge(c, o);
    if (problem) problems.push(problem);
  });
  const h = await health.stop();
  assert.deepEqual(problems.slice(0, 20), [], `every answer is below 500 (statuses: ${JSON.stringify([...statuses])})`);
  assert.ok(bot.alive, `the bot is still running: ${bot.stderr.join('').slice(-2000)}`);
  assert.deepEqual(h.failures, [], '/healthz answered 200 throughout');
  assert.ok(h.polls >= 1, `/healthz was polled during the attack (${h.polls})`);
  assert.ok(h.worstMs < 1000, `/healthz answered within 1 s throughout (worst ${h.worstMs} ms over ${h.polls} polls, during ${h.during.join(' | ').slice(0, 1500)})`);
  assert.deepEqual(listing(tmp), before, 'no file appeared in the temp directory');
  const fatal = bot.logLines().filter((l) => Number(l.level) >= 60);
  assert.deepEqual(fatal, [], 'no internal failure reached the process');
}

describe('route fuzzer: nothing an outsider sends stops or stalls the bot', function () {
  this.timeout(120_000);
  let slackApi: FakeSlackApi;
  let connector: FakeBotConnector;
  const dirs: Array<ReturnType<typeof tempDir>> = [];
  const bots: BotProcess[] = [];

  async function start(name: string, extra: Record<string, string>): Promise<{ bot: BotProcess; tmp: string }> {
    const dir = tempDir(`jitbot-fuzz-${name}`);
    dirs.push(dir);
    const tmp = join(dir.path, 'tmp');
    mkdirSync(tmp);
    // A cold start takes seconds; on a loaded machine, much longer.
    const bot = await spawnBot(
      name,
      {
      JITBOT_DATA_DIR: join(dir.path, 'data'),
      JITBOT_SIM_PORT: '0',
      SLACK_BOT_TOKEN: 'xoxb-route-fuzz',
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slackApi.apiUrl,
      LOG_LEVEL: 'warn',
      FIXTURE_TMPDIR: tmp,
      // Step-up sign-in on, so its routes are there to attack (the provider is never reached).
      JITBOT_OIDC_ISSUER: 'http://127.0.0.1:9/unused',
      JITBOT_OIDC_CLIENT_ID: 'jitbot-route-fuzz',
      ...extra,
      },
      240_000,
    );
    bots.push(bot);
    return { bot, tmp };
  }

  let local: { bot: BotProcess; tmp: string };
  let withAuth: { bot: BotProcess; tmp: string };
  before(async function () {
    this.timeout(300_000);
    slackApi = await FakeSlackApi.start();
    connector = await startFakeBotConnector({ members: connectorMembers() });
    [local, withAuth] = await Promise.all([
      start('fuzz-local', { FIXTURE_FAULT: 'uncaught' }),
      start('fuzz-teams-auth', { FIXTURE_FAULT: 'rejection', MicrosoftAppId: '00000000-0000-4000-8000-00000000f022', MicrosoftAppPassword: 'route-fuzz-password' }),
    ]);
  });
  after(async () => {
    await Promise.all(bots.map((b) => b.kill()));
    await slackApi?.close();
    await connector?.close();
    for (const d of dirs) d.remove();
  });

  const post = (bot: BotProcess, path: string, type: string | undefined, body: string | Buffer, headers: Record<string, string> = {}) =>
    send(bot.url, { label: path, method: 'POST', path, headers: { ...(type ? { 'content-type': type } : {}), ...headers }, body: Buffer.isBuffer(body) ? body : Buffer.from(body) });
  const text = async (bot: BotProcess, path: string, type: string, body: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${bot.url}${path}`, { method: 'POST', headers: { 'content-type': type, ...headers }, body });
    return { status: res.status, body: await res.text() };
  };

  it('serves /slack/events and /api/messages at exactly their paths, and answers a signed null payload 400, staying up', async () => {
    const { bot } = local;
    for (const path of ['/slack/events;x', '/slack/events;', '/slack/%65vents', '/slack/events/', '//slack/events', '/api/messages;x', '/api/%6dessages', '/api/messages%00']) {
      const res = await post(bot, path, 'application/x-www-form-urlencoded', 'command=%2Fjit&text=help');
      assert.equal(res.status, 404, path);
    }
    for (const [type, body] of [
      ['application/x-www-form-urlencoded', 'payload=null'],
      ['application/json', 'null'],
      ['application/json', '[]'],
      ['application/x-www-form-urlencoded', 'payload=%5B1%5D'],
    ]) {
      const res = await post(bot, '/slack/events', type, body, signedHeaders(body));
      assert.equal(res.status, 400, `${type} ${body}`);
    }
    assert.equal((await post(bot, '/slack/events', 'text/plain', 'x')).status, 415);
    assert.ok(bot.alive);
    const help = encodeForm({ command: '/jit', text: 'help', user_id: 'U0ALICE', user_name: 'alice', trigger_id: '1.2.help', response_url: slackApi.responseUrl('help') });
    const answered = await text(bot, '/slack/events', 'application/x-www-form-urlencoded', help, signedHeaders(help));
    assert.equal(answered.status, 200);
    assert.match(answered.body, /jit/);
  });

  it('refuses anything but JSON at /api/messages before reading it, and never writes an upload to the temp directory', async () => {
    const { bot, tmp } = withAuth;
    const before = listing(tmp);
    const small = await post(bot, '/api/messages', 'multipart/form-data; boundary=fuzzboundary', multipart(200_000));
    assert.equal(small.status, 415);
    const big = await post(bot, '/api/messages', 'multipart/form-data; boundary=fuzzboundary', multipart(5 * MB));
    assert.ok(big.status === 413 || (big.status === undefined && /ECONNRESET|EPIPE/.test(String(big.error))), `5 MB refused: ${JSON.stringify(big)}`);
    // curl asks first for large uploads (Expect: 100-continue); the answer comes before any byte is sent.
    const asked = await send(bot.url, { label: 'expect', method: 'POST', path: '/api/messages', headers: { 'content-type': 'application/json', expect: '100-continue', 'content-length': String(5 * MB) } });
    assert.equal(asked.status, 413);
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) assert.equal((await post(bot, '/api/messages', type, '{}')).status, 415, type);
    assert.equal((await post(bot, '/api/messages', undefined, '{}')).status, 415, 'no content type');
    assert.deepEqual(listing(tmp), before, 'no upload_* file or any other');
  });

  it('answers malformed activities 400 with a short message of its own, never 500 or the library\'s words', async () => {
    const { bot } = local;
    const base = { type: 'message', id: '1', serviceUrl: connector.url, channelId: 'msteams', from: { id: users.alice.id, name: 'Alice' }, recipient: { ...BOT }, conversation: { id: 'a:1personal-x', conversationType: 'personal' }, text: 'help' };
    const { type: _omitted, ...noType } = base;
    const bodies: unknown[] = [noType, [base], 'text', 42, { ...base, type: 7 }, { ...base, from: 'alice' }, { ...base, conversation: null }, { ...base, serviceUrl: 'not a url' }, { ...base, entities: {} }, { ...base, timestamp: 'yesterday' }, { ...base, id: 'a\u0000b' }];
    for (const body of bodies) {
      const res = await text(bot, '/api/messages', 'application/json', JSON.stringify(body));
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 100));
      const message = String(JSON.parse(res.body).error);
      assert.ok(message.length < 120, message);
      assert.doesNotMatch(message, /validateAndFixActivity|TypeError|at \//, message);
    }
    assert.equal((await text(bot, '/api/messages', 'application/json', '{"type":')).status, 400);
    const fine = await text(bot, '/api/messages', 'application/json', JSON.stringify(base));
    assert.equal(fine.status, 200, 'a well-formed activity still goes through');
  });

  it('answers a Teams message of 150,000 "<" without stalling: /healthz keeps answering within 1 s', async () => {
    const { bot } = local;
    const health = watchHealth(bot.url, new Set());
    const activity = (textBody: string) => ({ type: 'message', id: String(Date.now()), serviceUrl: connector.url, channelId: 'msteams', from: { id: users.alice.id, name: 'Alice', aadObjectId: users.alice.aadObjectId }, recipient: { ...BOT }, conversation: { id: `a:1personal-${users.alice.id.slice(3)}`, conversationType: 'personal', tenantId: TENANT_ID }, text: textBody });
    for (const body of ['<'.repeat(150_000), `<at>jitbot</at> ${'<at'.repeat(5000)}`, `ssh web-01 1h for ${'<at>x</at>'.repeat(1500)}`, `${'<'.repeat(15_000)}`]) {
      const res = await text(bot, '/api/messages', 'application/json', JSON.stringify(activity(body)));
      assert.equal(res.status, 200);
    }
    const h = await health.stop();
    assert.deepEqual(h.failures, []);
    assert.ok(h.worstMs < 1000, `/healthz answered within 1 s (worst ${h.worstMs} ms)`);
    const tooLong = await connector.waitFor((c) => c.method === 'POST' && /characters long/.test(JSON.stringify(c.body ?? '')), 10_000);
    assert.match(JSON.stringify(tooLong.body), /150,000 characters long/);
  });

  it('refuses activities without a valid token 401, and botbuilder writes nothing but log lines', async () => {
    const { bot } = withAuth;
    const activity = { type: 'message', id: '1', serviceUrl: connector.url, channelId: 'msteams', from: { id: users.alice.id }, recipient: { ...BOT }, conversation: { id: 'a:1' }, text: 'jit help' };
    for (const authorization of [undefined, 'Bearer', 'Bearer not.a.token', 'Basic YTpi', `Bearer ${'x'.repeat(5000)}`]) {
      const res = await text(bot, '/api/messages', 'application/json', JSON.stringify(activity), authorization ? { authorization } : {});
      assert.equal(res.status, 401, String(authorization).slice(0, 20));
    }
    const stray = bot.stdout.join('').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{'));
    assert.deepEqual(stray, [], 'stdout holds only JSON log lines');
    assert.deepEqual(bot.stderr.join('').split('\n').filter((l) => l.trim() !== '' && !/DEP0111|trace-deprecation/.test(l)), [], 'nothing on stderr');
  });

  it('local mode (Slack signed, Teams as the emulator sends it, console, clock): every odd path, method, content type and body is answered below 500', async () => {
    const { bot, tmp } = local;
    await attack(bot, tmp, sweepCases());
    // Signed payloads that Bolt cannot route wait out its 3 s acknowledgement window, hence more lanes.
    await attack(bot, tmp, randomCases(20261201, 240, connector.url), 32);
    // Still doing its job afterwards: a signed /jit help is answered.
    const body = encodeForm({ command: '/jit', text: 'help', user_id: 'U0ALICE', user_name: 'alice', trigger_id: '1.2.after', response_url: slackApi.responseUrl('after') });
    const res = await send(bot.url, { label: 'help', method: 'POST', path: '/slack/events', headers: { 'content-type': 'application/x-www-form-urlencoded', ...signedHeaders(body) }, body: Buffer.from(body) });
    assert.equal(res.status, 200);
  });

  it('with a Teams app id (every activity needs a token): the same sweep, answered below 500', async () => {
    const { bot, tmp } = withAuth;
    // Everything else is the same code as in local mode; the routes that differ are Teams' and Slack's.
    const cases = sweepCases().filter((c) => /api|slack/i.test(c.path));
    for (const c of cases.filter((x) => x.path === '/api/messages').slice(0, 40)) c.headers.authorization = 'Bearer not.a.token';
    await attack(bot, tmp, cases);
    const activities = randomCases(7, 120, connector.url).filter((c) => c.path === '/api/messages');
    await attack(bot, tmp, activities, 16);
  });
  // Last, as it ends both bots: a failure that no route or job caught (none of the requests above
  // reached this path) is logged at fatal with what was being worked on, and the process stops taking
  // work and exits non-zero for its supervisor to restart it.
  it('logs an uncaught exception or unhandled rejection at fatal with its context, drains and exits 70', async () => {
    for (const [{ bot }, kind] of [
      [local, 'uncaughtException'],
      [withAuth, 'unhandledRejection'],
    ] as const) {
      bot.signal('SIGUSR2');
      const exit = await bot.exited;
      assert.equal(exit.code, 70, `${kind}: exit code`);
      const fatal = bot.logLines().filter((l) => l.level === 60);
      assert.equal(fatal.length, 1, `${kind}: one fatal line`);
      assert.equal(fatal[0].kind, kind);
      assert.deepEqual(fatal[0].context, { jobId: 'fixture-fault' }, 'it names the work it interrupted');
      assert.match(String((fatal[0].err as { message?: string }).message), /fixture: an? (exception|rejection) nobody/);
    }
  });
});
