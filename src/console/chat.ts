// The console as a chat platform: approval cards, thread replies and direct messages land in the
// room, and the room pushes them to every open page.
import { ChatError } from '../core/errors';
import type { Actor, Route } from '../core/types';
import type { Notice, RequestView } from '../core/views';
import type { ChatPort, MessageRef } from '../app/ports';
import { CHANNEL, type ConsoleRoom } from './room';

export interface ConsoleChatOptions {
  room: ConsoleRoom;
  /** Emails of the people the console can show (the people of the config), lower-cased. */
  knows: (email: string) => boolean;
  /** The card as it is now, to draw it anew when it is not in this process's memory. */
  view: (requestId: string) => Promise<RequestView | null>;
}

export function consoleRef(id: string): MessageRef {
  return { platform: 'console', v: 1, data: { channel: CHANNEL, id } };
}

/** The card id inside a console ref; null for anything else (another platform's ref, a newer version). */
export function cardIdOf(ref: MessageRef): string | null {
  if (ref.platform !== 'console' || ref.v !== 1) return null;
  const id = ref.data.id;
  return typeof id === 'string' && id !== '' ? id : null;
}

function noticeRef(id: string): MessageRef {
  return { platform: 'console', v: 1, data: { channel: CHANNEL, notice: id } };
}

export function createConsoleChat(opts: ConsoleChatOptions): ChatPort {
  const { room, knows, view } = opts;

  async function messagePerson(person: Actor, notice: Notice): Promise<MessageRef | null> {
    const email = person.email?.toLowerCase();
    if (!email || !knows(email)) return null;
    return noticeRef(room.addToConversation(email, { kind: 'dm', notice }).id);
  }

  return {
    platform: 'console',

    // Every route lands here: in local mode the console stands in for every Slack and Teams channel.
    async postCard(_route: Route, view: RequestView): Promise<MessageRef> {
      return consoleRef(room.postCard(view).id);
    },

    async updateCard(ref: MessageRef, view: RequestView): Promise<void> {
      const id = cardIdOf(ref);
      // A card posted before a restart is gone from memory; drawing it anew keeps the channel truthful.
      if (id === null || !room.updateCard(id, view)) room.postCard(view);
    },

    async replyInThread(ref: MessageRef, notice: Notice): Promise<MessageRef | null> {
      const id = cardIdOf(ref);
      const replied = (id !== null ? room.replyInThread(id, notice) : null) ?? room.replyInThread(notice.requestId, notice);
      // Cards are keyed by request id, so a ref from an older format still finds its card.
      if (replied !== null) return noticeRef(replied);
      // The card is not in this process's memory (a restart, or another process posted it): draw it
      // anew, as updateCard does, so the reply has a thread to go in.
      const current = await view(notice.requestId);
      if (current === null) throw new ChatError(`console: no request ${notice.requestId} to reply under`, { retryable: false });
      room.postCard(current);
      const reply = room.replyInThread(notice.requestId, notice);
      return reply === null ? null : noticeRef(reply);
    },

    async notifyPerson(person: Actor, notice: Notice): Promise<boolean> {
      return (await messagePerson(person, notice)) !== null;
    },

    messagePerson,

    async updateNotice(ref: MessageRef, notice: Notice): Promise<void> {
      const id = ref.platform === 'console' && ref.v === 1 && typeof ref.data.notice === 'string' ? ref.data.notice : null;
      // A notice gone from memory (a restart) shows no buttons any more: nothing left to redraw.
      if (id !== null) room.updateNotice(id, notice);
    },

    // The console's copy is the answer in the person's chat, which the room redraws in place.
    async postCopy(person: Actor, copy: RequestView): Promise<MessageRef | null> {
      const email = person.email?.toLowerCase();
      return email && knows(email) ? { platform: 'console', v: 1, data: { copy: copy.id } } : null;
    },

    async updateCopy(_ref: MessageRef, current: RequestView): Promise<void> {
      room.refreshCopy(current);
    },
  };
}
