// Server-sent events: each open page follows the room as one person, so cards arrive drawn for that
// person (approver or not) and reminders and expiries appear without a reload.
import type { ServerResponse } from 'node:http';
import type { Logger } from '../app/logger';
import { errorFields } from '../app/logger';
import type { ConsoleRoom, RoomEvent } from './room';
import { wireCard, wireEntry, wireThreadReply, type Viewer } from './wire';

/** Comment lines keep proxies and the browser from treating a quiet stream as dead. */
const HEARTBEAT_MS = 15_000;
/** How soon the browser reconnects after the stream drops (a restart, a sleep). */
const RETRY_MS = 1_500;

interface Subscriber {
  viewer: Viewer;
  res: ServerResponse;
  /** Rendering a card waits for the app (who may approve); a chain keeps each page's events in order. */
  queue: Promise<void>;
  heartbeat: NodeJS.Timeout;
}

export interface FeedOptions {
  room: ConsoleRoom;
  approverEmails: (requestId: string) => Promise<string[]>;
  now: () => Date;
  logger: Logger;
}

export class ConsoleFeed {
  private readonly subscribers = new Set<Subscriber>();
  private readonly stopRoom: () => void;

  constructor(private readonly opts: FeedOptions) {
    this.stopRoom = opts.room.onEvent((e) => {
      for (const s of this.subscribers) this.enqueue(s, () => this.deliver(s, e));
    });
  }

  get size(): number {
    return this.subscribers.size;
  }

  /** Start streaming to `res` as `email`: a snapshot first, then every change. */
  subscribe(email: string, res: ServerResponse, onEnd: () => void): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: ${RETRY_MS}\n\n`);
    const viewer: Viewer = { email, approverEmails: this.opts.approverEmails };
    const sub: Subscriber = {
      viewer,
      res,
      queue: Promise.resolve(),
      heartbeat: setInterval(() => res.write(`: ping\n\n`), HEARTBEAT_MS),
    };
    sub.heartbeat.unref();
    this.subscribers.add(sub);
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      clearInterval(sub.heartbeat);
      this.subscribers.delete(sub);
      onEnd();
    };
    res.on('close', end);
    res.on('error', end);
    this.enqueue(sub, () => this.sendSnapshot(sub));
  }

  /** Tell every page the time moved (the clock display and the Azure panel follow it). */
  clockMoved(now: Date): void {
    for (const s of this.subscribers) this.enqueue(s, async () => write(s, 'clock', { now: now.toISOString() }));
  }

  /** End every stream: the server is shutting down and must not wait for open pages. */
  close(): void {
    this.stopRoom();
    for (const s of [...this.subscribers]) s.res.end();
  }

  private enqueue(sub: Subscriber, task: () => Promise<void>): void {
    sub.queue = sub.queue.then(task).catch((err: unknown) => {
      this.opts.logger.warn({ ...errorFields(err), viewer: sub.viewer.email }, 'console: could not send an update to a page');
    });
  }

  private async sendSnapshot(sub: Subscriber): Promise<void> {
    const { room } = this.opts;
    const channel = await Promise.all(room.channel().map((c) => wireCard(c, sub.viewer)));
    const conversation = room.conversation(sub.viewer.email).map((e) => wireEntry(e, sub.viewer));
    write(sub, 'snapshot', { now: this.opts.now().toISOString(), channel, conversation });
  }

  private async deliver(sub: Subscriber, e: RoomEvent): Promise<void> {
    switch (e.type) {
      case 'card':
        return write(sub, 'card', await wireCard(e.card, sub.viewer));
      case 'thread':
        return write(sub, 'thread', { cardId: e.card.id, reply: wireThreadReply(e.reply, sub.viewer) });
      case 'conversation':
        if (e.email === sub.viewer.email) write(sub, 'message', wireEntry(e.entry, sub.viewer));
        return;
    }
  }
}

function write(sub: Subscriber, event: string, data: unknown): void {
  if (sub.res.writableEnded) return;
  // JSON never holds a raw newline, so one data line carries the whole event.
  sub.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}
