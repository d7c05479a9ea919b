// A chat platform that records what the app sends, for use-case tests below the adapters.
// It can be told to fail, to show that deliveries are retried and never lost.
import { ChatError } from '../../src/core/errors';
import type { Actor, Platform, Route } from '../../src/core/types';
import type { Notice, RequestView } from '../../src/core/views';
import type { ChatPort, MessageRef } from '../../src/app/ports';

export interface Recorded {
  cards: Array<{ id: number; route: Route; view: RequestView }>;
  updates: Array<{ id: number; view: RequestView }>;
  thread: Array<{ id: number; notice: Notice }>;
  dms: Array<{ to: Actor; notice: Notice }>;
  /** Notices redrawn in place, by the id they were sent under. */
  noticeUpdates: Array<{ id: number; notice: Notice }>;
  copies: Array<{ id: number; to: Actor; view: RequestView }>;
  copyUpdates: Array<{ id: number; view: RequestView }>;
}

export class RecordingChat implements ChatPort {
  readonly recorded: Recorded = { cards: [], updates: [], thread: [], dms: [], noticeUpdates: [], copies: [], copyUpdates: [] };
  /** Calls left to fail with a retryable error. */
  failNext = 0;
  private next = 1;
  constructor(readonly platform: Platform = 'console') {}

  private maybeFail(): void {
    if (this.failNext > 0) {
      this.failNext--;
      throw new ChatError('platform unavailable (test)', { retryable: true, retryAfterMs: 10 });
    }
  }

  async postCard(route: Route, view: RequestView): Promise<MessageRef | null> {
    this.maybeFail();
    const id = this.next++;
    this.recorded.cards.push({ id, route, view });
    return { platform: this.platform, v: 1, data: { id } };
  }
  async updateCard(ref: MessageRef, view: RequestView): Promise<void> {
    this.maybeFail();
    this.recorded.updates.push({ id: ref.data.id as number, view });
  }
  async replyInThread(ref: MessageRef, notice: Notice): Promise<MessageRef | null> {
    this.maybeFail();
    this.recorded.thread.push({ id: ref.data.id as number, notice });
    return { platform: this.platform, v: 1, data: { id: this.next++ } };
  }
  async notifyPerson(person: Actor, notice: Notice): Promise<boolean> {
    return (await this.messagePerson(person, notice)) !== null;
  }
  async messagePerson(person: Actor, notice: Notice): Promise<MessageRef | null> {
    this.maybeFail();
    this.recorded.dms.push({ to: person, notice });
    return { platform: this.platform, v: 1, data: { id: this.next++ } };
  }
  async updateNotice(ref: MessageRef, notice: Notice): Promise<void> {
    this.maybeFail();
    this.recorded.noticeUpdates.push({ id: ref.data.id as number, notice });
  }
  async postCopy(person: Actor, view: RequestView): Promise<MessageRef | null> {
    this.maybeFail();
    const id = this.next++;
    this.recorded.copies.push({ id, to: person, view });
    return { platform: this.platform, v: 1, data: { id } };
  }
  async updateCopy(ref: MessageRef, view: RequestView): Promise<void> {
    this.maybeFail();
    this.recorded.copyUpdates.push({ id: ref.data.id as number, view });
  }
  /** The requester's copy as last drawn. */
  lastCopy(requestId: string): RequestView | undefined {
    const updates = this.recorded.copyUpdates.filter((u) => u.view.id === requestId);
    return updates.length > 0 ? updates[updates.length - 1].view : this.recorded.copies.find((c) => c.view.id === requestId)?.view;
  }

  /** The card as last drawn. */
  lastView(requestId: string): RequestView | undefined {
    const updates = this.recorded.updates.filter((u) => u.view.id === requestId);
    return updates.length > 0 ? updates[updates.length - 1].view : this.recorded.cards.find((c) => c.view.id === requestId)?.view;
  }
  threadOf(requestId: string): string[] {
    return this.recorded.thread.filter((t) => t.notice.requestId === requestId).map((t) => t.notice.text);
  }
}
