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

export function createConsoleChat(opts: ConsoleChatOptions): ChatPort {
  const { room, knows, view } = opts;
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

    async replyInThread(ref: MessageRef, notice: Notice): Promise<void> {
      const id = cardIdOf(ref);
      if (id !== null && room.replyInThread(id, notice)) return;
      // Cards are keyed by request id, so a ref from an older format still finds its card.
      if (room.replyInThread(notice.requestId, notice)) return;
      // The card is not in this process's memory (a restart, or another process posted it): draw it
      // anew, as updateCard does, so the reply has a thread to go in.
      const current = await view(notice.requestId);
      if (current === null) throw new ChatError(`console: no request ${notice.requestId} to reply under`, { retryable: false });
      room.postCard(current);
      room.replyInThread(notice.requestId, notice);
    },

    async notifyPerson(person: Actor, notice: Notice): Promise<boolean> {
      const email = person.email?.toLowerCase();
      if (!email || !knows(email)) return false;
      room.addToConversation(email, { kind: 'dm', notice });
      return true;
    },
  };
}
