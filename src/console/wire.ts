// What the page receives: the room's contents rendered as Adaptive Cards for one viewer. The cards
// come from src/cards (the same JSON Teams gets); this module only decides which variant a viewer sees.
import { approvalCard, noticeCard, replyCard, type AdaptiveCardJson } from '../cards/render';
import type { RequestState } from '../core/types';
import type { Notice, NoticeKind } from '../core/views';
import type { ChannelCard, ConversationEntry, ThreadReply } from './room';

export interface WireThreadReply {
  id: string;
  at: string;
  kind: NoticeKind;
  card: AdaptiveCardJson;
}

export interface WireCard {
  id: string;
  requestId: string;
  state: RequestState;
  postedAt: string;
  updatedAt: string;
  /** True when the viewer may decide on it now (the card shows Approve/Deny). */
  forApprover: boolean;
  /** True when the viewer asked for it (the card shows their own buttons). */
  forRequester: boolean;
  card: AdaptiveCardJson;
  thread: WireThreadReply[];
}

export interface WireEntry {
  id: string;
  at: string;
  /** `me`: what the viewer typed; `bot`: an answer or a direct message. */
  from: 'me' | 'bot';
  kind: ConversationEntry['kind'];
  text?: string;
  card?: AdaptiveCardJson;
  /** The request a direct message is about (the page links it to its card). */
  requestId?: string;
}

export interface Viewer {
  email: string;
  /** Emails allowed to approve a request right now (from the app; the console decides nothing). */
  approverEmails(requestId: string): Promise<string[]>;
}

export async function wireCard(card: ChannelCard, viewer: Viewer): Promise<WireCard> {
  const approvers = card.view.final ? [] : await viewer.approverEmails(card.view.id);
  const forApprover = approvers.includes(viewer.email);
  const forRequester = card.view.requester.email?.toLowerCase() === viewer.email;
  return {
    id: card.id,
    requestId: card.view.id,
    state: card.view.state,
    postedAt: card.postedAt.toISOString(),
    updatedAt: card.updatedAt.toISOString(),
    forApprover,
    forRequester,
    card: approvalCard(card.view, { forApprover, forRequester, refreshUserIds: [] }),
    thread: card.thread.map((r) => wireThreadReply(r, viewer)),
  };
}

export function wireThreadReply(reply: ThreadReply, viewer: Viewer): WireThreadReply {
  return { id: reply.id, at: reply.at.toISOString(), kind: reply.notice.kind, card: noticeFor(reply.notice, viewer) };
}

export function wireEntry(entry: ConversationEntry, viewer: Viewer): WireEntry {
  const base = { id: entry.id, at: entry.at.toISOString(), kind: entry.kind };
  switch (entry.kind) {
    case 'command':
      return { ...base, from: 'me', text: entry.text };
    case 'reply':
      return { ...base, from: 'bot', card: replyCard(entry.reply) };
    case 'dm':
      return { ...base, from: 'bot', card: noticeFor(entry.notice, viewer), requestId: entry.notice.requestId };
  }
}

/** A notice's buttons belong to the person it speaks to; everyone else reads it without them. */
function noticeFor(notice: Notice, viewer: Viewer): AdaptiveCardJson {
  const mine = !notice.mention || notice.mention.email?.toLowerCase() === viewer.email;
  return noticeCard(mine ? notice : { ...notice, actions: [] });
}
