// A lean loopback Slack Web API for the benchmarks. The test fake (test/fakes/slack-api.ts) keeps
// every message and decodes every JSON field, which is right for assertions but would make the fake
// the bottleneck at thousands of calls a second in the runner process; this one answers the same
// methods the same way and only hands each call, with its arrival time, to whoever listens.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackCall {
  method: string;
  /** Form fields as strings (blocks stay JSON text: nobody here needs them parsed). */
  args: Record<string, string>;
  /** Date.now() when the call arrived: the same clock the bot's AdjustableClock starts from. */
  at: number;
  /** What the fake answered (the ts it gave a new message). */
  answer?: { ts?: string };
}

export const SLACK_USERS: Record<string, { name: string; email: string }> = {
  U0ALICE: { name: 'Alice', email: 'alice@example.com' },
  U0BOB: { name: 'Bob', email: 'bob@example.com' },
  U0CAROL: { name: 'Carol', email: 'carol@example.com' },
};

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export class BenchSlackApi {
  /** Every Web API call is handed here (response_url posts come as method `response_url`). */
  onCall: (call: SlackCall) => void = () => {};
  readonly counts = new Map<string, number>();
  private seq = 0;
  private server: Server | undefined;
  private base = '';

  static async start(): Promise<BenchSlackApi> {
    const fake = new BenchSlackApi();
    const server = createServer((req, res) => {
      fake.handle(req, res).catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
    });
    // Fifty clients and two bots keep many sockets open; the default backlog is plenty, keep-alive matters.
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.server = server;
    fake.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return fake;
  }

  /** What SLACK_API_URL is set to. */
  get apiUrl(): string {
    return `${this.base}/api/`;
  }

  responseUrl(id: string): string {
    return `${this.base}/response_url/${id}`;
  }

  count(method: string): number {
    return this.counts.get(method) ?? 0;
  }

  resetCounts(): void {
    this.counts.clear();
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private nextTs(): string {
    this.seq += 1;
    return `1700000000.${String(this.seq).padStart(6, '0')}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const at = Date.now();
    const path = req.url ?? '/';
    if (path.startsWith('/response_url/')) {
      this.record({ method: 'response_url', args: { id: path.slice('/response_url/'.length), body: raw }, at });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (!path.startsWith('/api/')) {
      res.writeHead(404);
      res.end();
      return;
    }
    const method = path.slice('/api/'.length);
    const args: Record<string, string> = {};
    if ((req.headers['content-type'] ?? '').startsWith('application/json')) {
      for (const [k, v] of Object.entries(JSON.parse(raw || '{}') as Record<string, unknown>)) args[k] = typeof v === 'string' ? v : JSON.stringify(v);
    } else {
      for (const [k, v] of new URLSearchParams(raw)) args[k] = v;
    }
    const body = this.answer(method, args) as { ts?: string };
    this.record({ method, args, at, answer: body });
    const text = JSON.stringify(body);
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private record(call: SlackCall): void {
    this.counts.set(call.method, (this.counts.get(call.method) ?? 0) + 1);
    this.onCall(call);
  }

  private answer(method: string, a: Record<string, string>): unknown {
    switch (method) {
      case 'auth.test':
        return { ok: true, url: 'https://jitbot-bench.slack.com/', team: 'Bench', user: 'jitbot', team_id: 'T0JIT', user_id: 'U0BOT', bot_id: 'B0BOT' };
      case 'users.info': {
        const user = SLACK_USERS[a.user ?? ''];
        if (!user) return { ok: false, error: 'user_not_found' };
        return {
          ok: true,
          user: { id: a.user, team_id: 'T0JIT', name: user.name.toLowerCase(), real_name: user.name, deleted: false, is_bot: false, profile: { real_name: user.name, display_name: user.name.toLowerCase(), email: user.email } },
        };
      }
      case 'chat.postMessage': {
        const requested = a.channel ?? '';
        if (!requested) return { ok: false, error: 'channel_not_found' };
        const channel = /^[UW]/.test(requested) ? `D${requested.slice(1)}` : requested;
        const ts = this.nextTs();
        return { ok: true, channel, ts, message: { type: 'message', ts, bot_id: 'B0BOT' } };
      }
      case 'chat.update':
        return { ok: true, channel: a.channel, ts: a.ts };
      case 'chat.postEphemeral':
        return { ok: true, message_ts: this.nextTs() };
      case 'conversations.open':
        return { ok: true, channel: { id: `D${(a.users ?? '').slice(1)}` } };
      case 'views.open':
      case 'views.update':
      case 'views.publish':
        return { ok: true, view: { id: `V${this.seq++}`, hash: `h${this.seq}` } };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }
}
