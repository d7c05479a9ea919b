// The app's ChatPort on Slack: approval cards in a channel, redraws with chat.update, replies in the
// card's thread, and direct messages to people who are on Slack.
import type { WebAPICallResult } from '@slack/web-api';
import type { CallOptions, ChatPort, MessageRef } from '../app/ports';
import { ChatError } from '../core/errors';
import type { Actor, Route } from '../core/types';
import type { Notice, PersonView, RequestView } from '../core/views';
import { minimalMessage, renderCard, renderCopy, renderNotice, type SlackMessage } from './render';
import { slackErrorCode, type SlackCaller } from './web';

/**
 * Slack's words for "this message, as built, cannot be posted". Waiting will not change its answer,
 * so the message goes again at once in its minimal form.
 */
const REFUSED_AS_BUILT = new Set(['invalid_blocks', 'invalid_blocks_format', 'msg_too_long', 'too_many_attachments', 'invalid_attachments', 'invalid_arguments']);

export function refusedAsBuilt(err: unknown): boolean {
  const code = slackErrorCode(err);
  return code !== undefined && REFUSED_AS_BUILT.has(code);
}

interface PostMessageResult extends WebAPICallResult {
  channel?: string;
  ts?: string;
}

/** Where a Slack message lives; stored inside the versioned MessageRef. */
export interface SlackMessageLocation {
  channel: string;
  ts: string;
}

export function slackMessageRef(location: SlackMessageLocation): MessageRef {
  return { platform: 'slack', v: 1, data: { channel: location.channel, ts: location.ts } };
}

/** The channel and ts of a ref this adapter made; a ChatError (not retryable) for anything else. */
export function readSlackMessageRef(ref: MessageRef): SlackMessageLocation {
  const { channel, ts } = ref.data;
  if (ref.platform !== 'slack' || ref.v !== 1 || typeof channel !== 'string' || typeof ts !== 'string') {
    throw new ChatError('not a Slack message reference', { retryable: false });
  }
  return { channel, ts };
}

interface LookupByEmailResult extends WebAPICallResult {
  user?: { id?: string; deleted?: boolean; is_bot?: boolean };
}

/** How long an email's Slack user id is reused; a person added since waits this long at most. */
const EMAIL_LOOKUP_TTL_MS = 10 * 60_000;

/**
 * Slack user ids by email (`users.lookupByEmail`, scope `users:read.email`), for people the bot must
 * reach without having heard from them: those a request is escalated to. Null when Slack has no such
 * person; throws when Slack cannot answer.
 */
function createEmailLookup(slack: SlackCaller): (email: string, opts?: CallOptions) => Promise<string | null> {
  const cache = new Map<string, { id: string | null; until: number }>();
  return async (email, opts) => {
    const key = email.toLowerCase();
    const hit = cache.get(key);
    if (hit && hit.until > Date.now()) return hit.id;
    let id: string | null;
    try {
      const res = await slack.call<LookupByEmailResult>('users.lookupByEmail', { email: key }, opts);
      id = res.user && !res.user.deleted && !res.user.is_bot && typeof res.user.id === 'string' ? res.user.id : null;
    } catch (err) {
      if (slackErrorCode(err) !== 'users_not_found') throw err;
      id = null;
    }
    cache.set(key, { id, until: Date.now() + EMAIL_LOOKUP_TTL_MS });
    return id;
  };
}

export interface SlackChatPortOptions {
  /** Told when Slack refused a message as built and its minimal form went instead. */
  onMinimal?: (method: string, err: unknown) => void;
}

export function createSlackChatPort(slack: SlackCaller, portOpts: SlackChatPortOptions = {}): ChatPort {
  /** `method` with the message; if Slack refuses it as built, once more with the minimal form. */
  async function send<T extends WebAPICallResult>(method: string, args: Record<string, unknown>, message: SlackMessage, opts?: CallOptions): Promise<T> {
    try {
      return await slack.call<T>(method, { ...args, text: message.text, blocks: message.blocks }, opts);
    } catch (err) {
      if (!refusedAsBuilt(err)) throw err;
      portOpts.onMinimal?.(method, err);
      const minimal = minimalMessage(message);
      return slack.call<T>(method, { ...args, text: minimal.text, blocks: minimal.blocks }, opts);
    }
  }

  async function post(args: Record<string, unknown>, message: SlackMessage, opts?: CallOptions): Promise<SlackMessageLocation> {
    const res = await send<PostMessageResult>('chat.postMessage', args, message, opts);
    if (typeof res.channel !== 'string' || typeof res.ts !== 'string') {
      throw new ChatError('Slack chat.postMessage answered without channel and ts', { retryable: false });
    }
    return { channel: res.channel, ts: res.ts };
  }

  const lookup = createEmailLookup(slack);

  /** The notice's people known only by email, as Slack mentions where Slack knows them. */
  async function mentionsOf(notice: Notice, opts?: CallOptions): Promise<PersonView[]> {
    const found: PersonView[] = [];
    for (const p of notice.mentionEmails ?? []) {
      // A mention is a courtesy: the text names them, so a failed look-up must not hold the notice back.
      const id = await lookup(p.email, opts).catch(() => null);
      if (id) found.push({ name: p.name, email: p.email, platform: 'slack', userId: id });
    }
    return found;
  }

  async function messagePerson(person: Actor, notice: Notice, opts?: CallOptions): Promise<MessageRef | null> {
    // Someone known only by email (no user id on any platform yet) is looked up first; a person of
    // another platform is that platform's to reach.
    const userId = person.userId === '' ? (person.email ? await lookup(person.email, opts) : null) : person.platform === 'slack' ? person.userId : null;
    if (!userId) return null;
    // A user id as channel opens (or reuses) the bot's direct message with that person; the answer
    // names the DM's own channel, which chat.update needs.
    return slackMessageRef(await post({ channel: userId, unfurl_links: false }, renderNotice(notice), opts));
  }

  return {
    platform: 'slack',

    async postCard(route: Route, view: RequestView, opts?: CallOptions): Promise<MessageRef | null> {
      if (!route.slack) return null;
      return slackMessageRef(await post({ channel: route.slack, unfurl_links: false }, renderCard(view), opts));
    },

    async updateCard(ref: MessageRef, view: RequestView, opts?: CallOptions): Promise<void> {
      const { channel, ts } = readSlackMessageRef(ref);
      await send('chat.update', { channel, ts }, renderCard(view), opts);
    },

    async replyInThread(ref: MessageRef, notice: Notice, opts?: CallOptions): Promise<MessageRef> {
      const { channel, ts } = readSlackMessageRef(ref);
      return slackMessageRef(await post({ channel, thread_ts: ts, unfurl_links: false }, renderNotice(notice, { people: await mentionsOf(notice, opts) }), opts));
    },

    async notifyPerson(person: Actor, notice: Notice, opts?: CallOptions): Promise<boolean> {
      return (await messagePerson(person, notice, opts)) !== null;
    },

    messagePerson,

    async updateNotice(ref: MessageRef, notice: Notice, opts?: CallOptions): Promise<void> {
      const { channel, ts } = readSlackMessageRef(ref);
      await send('chat.update', { channel, ts }, renderNotice(notice), opts);
    },

    /**
     * The requester's copy is a direct message, not the slash command's ephemeral answer: Slack cannot
     * chat.update an ephemeral, and its response_url allows 5 posts within 30 minutes, fewer than a
     * grant's transitions over its hours. A direct message can be redrawn for as long as it lives.
     */
    async postCopy(person: Actor, view: RequestView, opts?: CallOptions): Promise<MessageRef | null> {
      if (person.platform !== 'slack') return null;
      return slackMessageRef(await post({ channel: person.userId, unfurl_links: false }, renderCopy(view), opts));
    },

    async updateCopy(ref: MessageRef, view: RequestView, opts?: CallOptions): Promise<void> {
      const { channel, ts } = readSlackMessageRef(ref);
      await send('chat.update', { channel, ts }, renderCopy(view), opts);
    },
  };
}
