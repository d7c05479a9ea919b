// A loopback Socket Mode endpoint: apps.connections.open on the fake Web API hands out its ws:// URL;
// on connect it says `hello`, then delivers envelopes and collects the app's acks.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { FakeSlackApi } from './slack-api';

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

export interface Envelope {
  envelope_id: string;
  type: EnvelopeType;
  payload: unknown;
  accepts_response_payload: boolean;
  retry_attempt?: number;
  retry_reason?: string;
}

export interface Ack {
  envelope_id: string;
  payload?: Record<string, unknown>;
}

export class FakeSlackSocket {
  readonly acks: Ack[] = [];
  readonly frames: unknown[] = [];
  connections = 0;
  private readonly sockets = new Set<WebSocket>();
  private seq = 0;

  private constructor(
    private readonly http: Server,
    private readonly wss: WebSocketServer,
    readonly url: string,
  ) {}

  /** Listens on a loopback port and tells the fake Web API to hand out its URL. */
  static async start(api: FakeSlackApi): Promise<FakeSlackSocket> {
    const http = createServer((_req, res) => {
      res.writeHead(426);
      res.end();
    });
    const wss = new WebSocketServer({ server: http, path: '/link' });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/link`;
    const fake = new FakeSlackSocket(http, wss, url);
    wss.on('connection', (socket) => fake.accept(socket));
    api.socketUrl = url;
    return fake;
  }

  private accept(socket: WebSocket): void {
    this.connections += 1;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Record<string, unknown>;
      this.frames.push(frame);
      if (typeof frame.envelope_id === 'string') this.acks.push(frame as unknown as Ack);
    });
    socket.send(JSON.stringify({ type: 'hello', num_connections: 1, debug_info: { host: 'fake-socket', approximate_connection_time: 18060 }, connection_info: { app_id: 'A0JIT' } }));
  }

  get connected(): boolean {
    return this.sockets.size > 0;
  }

  /** Sends an envelope to every connected app and resolves with its ack (or rejects after the timeout). */
  async deliver(type: EnvelopeType, payload: unknown, opts: { acceptsResponsePayload?: boolean; retryAttempt?: number; timeoutMs?: number } = {}): Promise<Ack> {
    this.seq += 1;
    const envelope: Envelope = {
      envelope_id: `env-${this.seq}-${Date.now()}`,
      type,
      payload,
      accepts_response_payload: opts.acceptsResponsePayload ?? type !== 'events_api',
      ...(opts.retryAttempt !== undefined ? { retry_attempt: opts.retryAttempt, retry_reason: 'timeout' } : {}),
    };
    const frame = JSON.stringify(envelope);
    for (const s of this.sockets) s.send(frame);
    const deadline = Date.now() + (opts.timeoutMs ?? 3_000);
    for (;;) {
      const ack = this.acks.find((a) => a.envelope_id === envelope.envelope_id);
      if (ack) return ack;
      if (Date.now() > deadline) throw new Error(`no ack for ${type} envelope ${envelope.envelope_id}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Slack recycling the connection: the app should reconnect. */
  sendDisconnect(reason = 'refresh_requested'): void {
    for (const s of this.sockets) s.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'fake-socket' } }));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}
