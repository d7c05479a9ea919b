// A lean loopback Bot Connector (the REST side of Teams at `activity.serviceUrl`) for the
// benchmarks: the routes of test/fakes/bot-connector.ts that a bot posting cards needs, without the
// recording and token machinery, handing each call and its arrival time to whoever listens.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeMember } from '../../test/fakes/bot-connector';

export interface ConnectorCall {
  method: string;
  /** Decoded path, e.g. `/v3/conversations/a:1personal-…/activities/1763700000001`. */
  path: string;
  at: number;
}

function drain(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export class BenchConnector {
  onCall: (call: ConnectorCall) => void = () => {};
  private readonly members: Map<string, FakeMember>;
  private nextId = 1000;
  private server: Server | undefined;
  private base = '';

  private constructor(members: FakeMember[]) {
    this.members = new Map(members.map((m) => [m.id, m]));
  }

  static async start(members: FakeMember[]): Promise<BenchConnector> {
    const fake = new BenchConnector(members);
    const server = createServer((req, res) => {
      fake.handle(req, res).catch((err: unknown) => {
        res.writeHead(500);
        res.end(String(err));
      });
    });
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.server = server;
    fake.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return fake;
  }

  /** The serviceUrl stamped on activities (trailing slash, as Teams sends it). */
  get url(): string {
    return `${this.base}/`;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private send(res: ServerResponse, status: number, body?: unknown): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await drain(req);
    const call: ConnectorCall = { method: req.method ?? 'GET', path: decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname), at: Date.now() };
    const p = call.path;
    let m: RegExpExecArray | null;
    if (call.method === 'POST' && p === '/v3/conversations') {
      const n = String(++this.nextId);
      const channel = (JSON.parse(raw || '{}') as { channelData?: { channel?: { id?: string } } }).channelData?.channel?.id;
      this.send(res, 201, channel ? { id: `${channel};messageid=${n}`, activityId: n } : { id: `a:1:1-personal-${n}` });
    } else if (call.method === 'GET' && (m = /^\/v3\/conversations\/[^/]+\/members\/([^/]+)$/.exec(p))) {
      const member = this.members.get(m[1]);
      if (member) this.send(res, 200, member);
      else this.send(res, 404, { error: { code: 'MemberNotFoundInConversation', message: 'The member was not found.' } });
    } else if (call.method === 'POST' && /^\/v3\/conversations\/[^/]+\/activities(\/[^/]+)?$/.test(p)) {
      this.send(res, 201, { id: String(++this.nextId) });
    } else if (call.method === 'PUT' && (m = /^\/v3\/conversations\/[^/]+\/activities\/([^/]+)$/.exec(p))) {
      this.send(res, 200, { id: m[1] });
    } else {
      this.send(res, 404, { error: { code: 'NotFound', message: `no route ${call.method} ${p}` } });
    }
    this.onCall(call);
  }
}
