// Which copy of the approval card a Teams user sees. The shared message (posted and updated for
// everyone) offers the approver buttons while a decision is open, so an approver whose client does
// not refresh can still act; the api refuses anyone else politely. Each person named in
// `refresh.userIds` gets their own copy on display: approvers (approve/deny), the requester
// (cancel, extend, release), everyone else read-only.
import { CardFactory, type Activity, type Attachment } from 'botbuilder';
import type { JitApi } from '../app/api';
import type { Actor } from '../core/types';
import type { RequestView } from '../core/views';
import { clipText, summariseList, vmListText } from '../core/text';
import { approvalCard, MAX_REFRESH_USER_IDS, type AdaptiveCardJson } from '../cards/render';
import type { TeamsDirectory } from './directory';

export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';

export function cardAttachment(card: AdaptiveCardJson): Attachment {
  return CardFactory.adaptiveCard(card);
}

/** A message activity carrying one card; `summary` is what notifications and the chat list show. */
export function cardActivity(card: AdaptiveCardJson, summary: string): Partial<Activity> {
  return { type: 'message', attachments: [cardAttachment(card)], summary };
}

export function requestSummary(view: RequestView): string {
  return clipText(`${clipText(view.requester.name, 200)} asks for ${summariseList(view.ports)} on ${vmListText(view.vms)}: ${view.headline}`, 500);
}

function isRequester(actor: Actor, view: RequestView): boolean {
  if (actor.email && view.requester.email) return actor.email === view.requester.email;
  return actor.platform === view.requester.platform && actor.userId === view.requester.userId;
}

export class TeamsCards {
  constructor(
    private readonly api: JitApi,
    private readonly directory: TeamsDirectory,
  ) {}

  /**
   * Teams ids of the people whose clients should fetch their own view: the approvers the adapter has
   * met (an email it never saw in Teams has no Teams id to name) and the requester.
   */
  async refreshUserIds(view: RequestView, approverEmails?: string[]): Promise<string[]> {
    if (view.final) return [];
    const emails = approverEmails ?? (await this.api.approverEmails(view.id));
    const ids: string[] = [];
    if (view.requester.platform === 'teams') ids.push(view.requester.userId);
    else if (view.requester.email) {
      const p = await this.directory.personByEmail(view.requester.email);
      if (p) ids.push(p.userId);
    }
    // A directory group can name thousands of approvers; Teams keeps 60 ids, so looking further is wasted.
    for (const email of emails) {
      if (new Set(ids).size >= MAX_REFRESH_USER_IDS) break;
      const p = await this.directory.personByEmail(email);
      if (p) ids.push(p.userId);
    }
    return [...new Set(ids)];
  }

  /** The copy everyone sees. */
  async sharedCard(view: RequestView): Promise<AdaptiveCardJson> {
    return approvalCard(view, { forApprover: true, refreshUserIds: await this.refreshUserIds(view) });
  }

  /** The copy one person sees, with the answer to their click when there is one. */
  async cardFor(actor: Actor, view: RequestView, note?: { text: string; ok: boolean }): Promise<AdaptiveCardJson> {
    const approvers = await this.api.approverEmails(view.id);
    return approvalCard(view, {
      forApprover: actor.email !== null && approvers.includes(actor.email),
      forRequester: isRequester(actor, view),
      refreshUserIds: await this.refreshUserIds(view, approvers),
      ...(note ? { note: note.text, noteTone: note.ok ? 'good' : 'attention' } : {}),
    });
  }
}
