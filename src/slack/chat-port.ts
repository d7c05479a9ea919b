// The app's ChatPort on Slack: approval cards in a channel, redraws with chat.update, replies in the
// card's thread, and direct messages to people who are on Slack.
import type { WebAPICallResult } from '@slack/web-api';
import type { CallOptions, ChatPort, MessageRef } from '../app/ports';
import { ChatError } from '../core/errors';
import type { Actor, Route } from '../core/types';
import type { Notice, RequestView } from '../core/views';
import { renderCard, renderNotice } from './render';
import type { SlackCaller } from './web';

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

export function createSlackChatPort(slack: SlackCaller): ChatPort {
  async function post(args: Record<string, unknown>, opts?: CallOptions): Promise<SlackMessageLocation> {
    const res = await slack.call<PostMessageResult>('chat.postMessage', args, opts);
    if (typeof res.channel !== 'string' || typeof res.ts !== 'string') {
      throw new ChatError('Slack chat.postMessage answered without channel and ts', { retryable: false });
    }
    return { channel: res.channel, ts: res.ts };
  }

  return {
    platform: 'slack',

    async postCard(route: Route, view: RequestView, opts?: CallOptions): Promise<MessageRef | null> {
      if (!route.slack) return null;
      const message = renderCard(view);
      return slackMessageRef(await post({ channel: route.slack, text: message.text, blocks: message.blocks, unfurl_links: false }, opts));
    },

    async updateCard(ref: MessageRef, view: RequestView, opts?: CallOptions): Promise<void> {
      const { channel, ts } = readSlackMessageRef(ref);
      const message = renderCard(view);
      await slack.call('chat.update', { channel, ts, text: message.text, blocks: message.blocks }, opts);
    },

    async replyInThread(ref: MessageRef, notice: Notice, opts?: CallOptions): Promise<void> {
      const { channel, ts } = readSlackMessageRef(ref);
      const message = renderNotice(notice);
      await post({ channel, thread_ts: ts, text: message.text, blocks: message.blocks, unfurl_links: false }, opts);
    },

    async notifyPerson(person: Actor, notice: Notice, opts?: CallOptions): Promise<boolean> {
      if (person.platform !== 'slack') return false;
      const message = renderNotice(notice);
      // A user id as channel opens (or reuses) the bot's direct message with that person.
      await post({ channel: person.userId, text: message.text, blocks: message.blocks, unfurl_links: false }, opts);
      return true;
    },
  };
}
