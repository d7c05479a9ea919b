// What the console remembers: the approvals channel (cards and their threads) and each person's chat
// with the bot (their commands, the answers and direct messages). It lives in memory: the console is
// a local window onto the bot, and the store keeps the record that matters (requests and audit).
import { EventEmitter } from 'node:events';
import type { Notice, Reply, RequestView } from '../core/views';

/** Local mode mirrors every route into one channel, so a newcomer sees every approval card. */
export const CHANNEL = 'approvals';

/** Enough history for a long local session without growing without bound. */
const MAX_CARDS = 200;
const MAX_THREAD = 100;
const MAX_CONVERSATION = 400;

export interface ThreadReply {
  id: string;
  at: Date;
  notice: Notice;
}

export interface ChannelCard {
  /** The card's id; one card per request, so it is the request id. */
  id: string;
  postedAt: Date;
  updatedAt: Date;
  view: RequestView;
  thread: ThreadReply[];
}

export type ConversationEntry =
  | { id: string; at: Date; kind: 'command'; text: string }
  | { id: string; at: Date; kind: 'reply'; reply: Reply }
  | { id: string; at: Date; kind: 'dm'; notice: Notice };

export type RoomEvent =
  | { type: 'card'; card: ChannelCard }
  | { type: 'thread'; card: ChannelCard; reply: ThreadReply }
  | { type: 'conversation'; email: string; entry: ConversationEntry };

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
export type NewConversationEntry = DistributiveOmit<ConversationEntry, 'id' | 'at'>;

export class ConsoleRoom {
  private readonly cards = new Map<string, ChannelCard>();
  private readonly conversations = new Map<string, ConversationEntry[]>();
  private readonly events = new EventEmitter();
  private seq = 0;

  constructor(private readonly now: () => Date) {
    // Every open browser tab listens; the default limit of 10 would warn on an ordinary session.
    this.events.setMaxListeners(0);
  }

  onEvent(listener: (event: RoomEvent) => void): () => void {
    this.events.on('event', listener);
    return () => this.events.off('event', listener);
  }

  /** Posting twice for one request redraws the one card, as a channel mirror should. */
  postCard(view: RequestView): ChannelCard {
    const at = this.now();
    let card = this.cards.get(view.id);
    if (card) {
      card.view = view;
      card.updatedAt = at;
    } else {
      card = { id: view.id, postedAt: at, updatedAt: at, view, thread: [] };
      this.cards.set(card.id, card);
      this.trimCards();
    }
    this.emit({ type: 'card', card });
    return card;
  }

  /** False when the card is unknown (the console restarted since it was posted). */
  updateCard(id: string, view: RequestView): boolean {
    const card = this.cards.get(id);
    if (!card) return false;
    card.view = view;
    card.updatedAt = this.now();
    this.emit({ type: 'card', card });
    this.refreshSubmitted(view);
    return true;
  }

  /** Redraw the requester's own copy of the request (after any transition, card or not). */
  refreshCopy(view: RequestView): void {
    this.refreshSubmitted(view);
  }

  /** The reply's id, or null when the card is unknown (the console restarted since it was posted). */
  replyInThread(id: string, notice: Notice): string | null {
    const card = this.cards.get(id);
    if (!card) return null;
    const reply: ThreadReply = { id: this.nextId('t'), at: this.now(), notice };
    card.thread.push(reply);
    if (card.thread.length > MAX_THREAD) card.thread.splice(0, card.thread.length - MAX_THREAD);
    this.emit({ type: 'thread', card, reply });
    return reply.id;
  }

  /**
   * Redraw a thread reply or direct message by its id (a reminder whose grant ended loses its
   * buttons). False when it is no longer in memory: then there are no buttons left to click.
   */
  updateNotice(id: string, notice: Notice): boolean {
    for (const card of this.cards.values()) {
      const reply = card.thread.find((t) => t.id === id);
      if (reply) {
        reply.notice = notice;
        this.emit({ type: 'thread', card, reply });
        return true;
      }
    }
    for (const [email, list] of this.conversations) {
      const entry = list.find((e) => e.id === id);
      if (entry && entry.kind === 'dm') {
        entry.notice = notice;
        this.emit({ type: 'conversation', email, entry });
        return true;
      }
    }
    return false;
  }

  addToConversation(email: string, entry: NewConversationEntry): ConversationEntry {
    const key = email.toLowerCase();
    const full = { ...entry, id: this.nextId('m'), at: this.now() } as ConversationEntry;
    const list = this.conversations.get(key) ?? [];
    list.push(full);
    if (list.length > MAX_CONVERSATION) list.splice(0, list.length - MAX_CONVERSATION);
    this.conversations.set(key, list);
    this.emit({ type: 'conversation', email: key, entry: full });
    return full;
  }

  channel(): ChannelCard[] {
    return [...this.cards.values()];
  }

  conversation(email: string): ConversationEntry[] {
    return [...(this.conversations.get(email.toLowerCase()) ?? [])];
  }

  /**
   * The requester's own copy of a new request follows the card, as Teams redraws it through the
   * card's refresh: the answer to `/jit ssh …` never goes on saying "waiting" after the approval.
   */
  private refreshSubmitted(view: RequestView): void {
    for (const [email, list] of this.conversations) {
      for (const entry of list) {
        if (entry.kind !== 'reply' || (entry.reply.kind !== 'submitted' && entry.reply.kind !== 'address-link') || entry.reply.request.id !== view.id) continue;
        // The first answer's words ("It needs 1 approval", "open this link") are only true while nothing has moved.
        const moved = entry.reply.request.state !== view.state;
        entry.reply = moved ? { kind: 'submitted', text: `${view.id}: ${view.headline}`, request: view } : { ...entry.reply, request: view };
        this.emit({ type: 'conversation', email, entry });
      }
    }
  }

  private trimCards(): void {
    while (this.cards.size > MAX_CARDS) {
      const oldest = this.cards.keys().next().value;
      if (oldest === undefined) return;
      this.cards.delete(oldest);
    }
  }

  private nextId(prefix: string): string {
    this.seq += 1;
    return `${prefix}${this.seq}`;
  }

  private emit(event: RoomEvent): void {
    this.events.emit('event', event);
  }
}
