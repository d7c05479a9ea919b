// Adaptive Cards for every message the bot sends, shared by Teams and the local web console.
//
// Each function is pure: a view model in, card JSON out (version 1.5, the highest Teams renders).
// The layouts live in `cards/*.json` as adaptivecards-templating templates; this module only turns
// view models into the flat, fully-defined data those templates expect. Every template field is
// always set (a missing one would survive expansion as a literal `${…}`), and user text is passed as
// data, never as template source, so a reason containing `${…}` stays literal.
//
// Buttons are `Action.Execute` with the verb both in `verb` and in `data.verb`: Teams has been seen
// delivering Execute invokes without `verb` (see test/vectors/teams), so adapters route on either.
// Each also carries an `Action.Submit` fallback with the same data, for clients without Universal
// Actions; the Teams adapter accepts both.
import { whoisLines } from '../core/whois';
import { vmPageText, type Notice, type NoticeKind, type PortRuleView, type Reply, type RequestView, type Verb, type VmView } from '../core/views';
import type { RequestState } from '../core/types';
import { buttons, expand, messageCard, sourcesText, TONE_COLOR, type AdaptiveCardJson, type Tone } from './expand';
import { formCard } from './form';
import { escapeCardMarkdown } from './markdown';
import { clipText, summariseList, vmListText } from '../core/text';

export { CARD_VERSION, templates, type AdaptiveCardJson } from './expand';
export { actionVerb, isCardVerb, type CardVerb } from './actions';
export { formCard, formInputFrom, FORM_INPUT_IDS, type FormCardOptions } from './form';

/** Teams ignores more than this many `refresh.userIds`. */
export const MAX_REFRESH_USER_IDS = 60;
/** Teams refuses messages much over ~28 KB; the audit preview stays well inside that. */
const AUDIT_PREVIEW_MAX_CHARS = 6000;
const AUDIT_PREVIEW_MAX_LINES = 20;
/** A reason on a card; the audit keeps the whole text. */
export const CARD_REASON_MAX = 1_000;
/** Longest name, decision or failure line on a card. */
const CARD_LINE_MAX = 1_200;
/** Requests per list of a status card; the rest are counted. */
const STATUS_LIST_MAX = 10;

// ---- the approval card ----------------------------------------------------------------------------

const STATE_LOOK: Record<RequestState, { style: string; color: string }> = {
  'awaiting-address': { style: 'emphasis', color: 'Warning' },
  pending: { style: 'emphasis', color: 'Warning' },
  opening: { style: 'accent', color: 'Accent' },
  active: { style: 'good', color: 'Good' },
  denied: { style: 'attention', color: 'Attention' },
  failed: { style: 'attention', color: 'Attention' },
  cancelled: { style: 'emphasis', color: 'Default' },
  'timed-out': { style: 'emphasis', color: 'Default' },
  expired: { style: 'emphasis', color: 'Default' },
  released: { style: 'emphasis', color: 'Default' },
};

export interface ApprovalCardOptions {
  /** Draw the approver buttons (approve/deny) the view offers. The api still decides who may. */
  forApprover: boolean;
  /** Draw the requester buttons (cancel, or extend/release) the view offers. */
  forRequester?: boolean;
  /**
   * Teams user ids (`29:…`) whose clients fetch their own view through a `refresh` invoke when they
   * display the card; at most 60 are kept. With none, Teams offers a manual refresh only. Final
   * cards carry no refresh at all: nothing on them can change.
   */
  refreshUserIds?: string[];
  /** A line for the person who just acted (the answer to their click), shown under the headline. */
  note?: string;
  noteTone?: Tone;
}

function requesterText(view: RequestView): string {
  const name = clipText(view.requester.name, 200);
  return view.requester.email ? `${name} (${clipText(view.requester.email, 200)})` : name;
}

function vmsText(view: RequestView, maxItems = 20): string {
  return vmListText(view.vms, { maxItems, maxChars: 600 });
}

function approvalFacts(view: RequestView): Array<{ title: string; value: string }> {
  const facts = [
    { title: 'Request', value: view.id },
    { title: 'Requester', value: requesterText(view) },
    { title: view.vms.length === 1 ? 'VM' : 'VMs', value: vmsText(view) },
    { title: view.ports.length === 1 ? 'Port' : 'Ports', value: summariseList(view.ports, { maxItems: 20 }) },
    { title: 'Source', value: `${view.source === '*' ? 'any address (*)' : `${view.source} · ${view.sourceSize}`}${view.sourceWide ? ' · ⚠ wide' : ''}` },
    { title: 'Duration', value: view.duration },
    { title: 'Reason', value: view.reason ? clipText(view.reason, CARD_REASON_MAX) : '(none given)' },
    { title: 'Approvals', value: view.approvedBy.length ? `${view.approvalsText} (${view.approvedByText ?? summariseList(view.approvedBy)})` : view.approvalsText },
  ];
  if (view.endsAt) facts.push({ title: view.state === 'active' ? 'Open until' : 'Ended', value: view.endsAt });
  facts.push({ title: 'Requested', value: view.createdAt });
  return facts;
}

/**
 * The approval card for a request: who, what, from where, for how long and why, where the approvals
 * stand, the decision or failure, a pending extension, and the buttons this copy offers. Buttons carry
 * `data: { verb, requestId }`; a final view has none and no refresh.
 */
export function approvalCard(view: RequestView, opts: ApprovalCardOptions): AdaptiveCardJson {
  const verbs: Verb[] = view.final
    ? []
    : [...(opts.forApprover ? view.approverActions : []), ...(opts.forRequester ? view.requesterActions : [])];
  const look = STATE_LOOK[view.state];
  const refreshUserIds = [...new Set(opts.refreshUserIds ?? [])].slice(0, MAX_REFRESH_USER_IDS);
  return expand('approval', {
    id: view.id,
    title: `${clipText(view.requester.name, 200)} asks for ${summariseList(view.ports)} on ${vmsText(view, 5)}`,
    headline: clipText(view.headline, CARD_LINE_MAX),
    headlineColor: look.color,
    style: look.style,
    hasNote: Boolean(opts.note),
    note: clipText(opts.note ?? '', CARD_LINE_MAX),
    noteColor: TONE_COLOR[opts.noteTone ?? 'default'],
    facts: approvalFacts(view),
    hasDecision: view.decision !== null,
    decision: clipText(view.decision ?? '', CARD_LINE_MAX),
    hasFailure: view.failure !== null,
    failure: view.failure ? clipText(`Azure said: ${view.failure}`, CARD_LINE_MAX) : '',
    hasEscalation: Boolean(view.escalation),
    escalation: clipText(view.escalation ?? '', CARD_LINE_MAX),
    hasExtension: view.extension !== null && !view.final,
    extension: view.extension ? clipText(`Extension asked: ${view.extension}`, CARD_LINE_MAX) : '',
    hasDenyReason: verbs.includes('deny'),
    hasExtendChoices: verbs.includes('extend') && view.extendChoices.length > 0,
    extendLabel: `Extend by (${view.extendLimit ?? 'as the policy allows'})`,
    extendDefault: String(view.extendChoices[0]?.minutes ?? ''),
    extendChoices: view.extendChoices.map((c) => ({ title: c.label, value: String(c.minutes) })),
    actions: buttons(verbs),
    hasRefresh: !view.final,
    refreshUserIds,
  });
}
// ---- the minimal form ----------------------------------------------------------------------------

/**
 * Teams refuses a message over about 100 KB counted as UTF-16; DESIGN §8 keeps every card under 80 KB.
 * The size of a card as Teams counts it: its JSON, two bytes a character.
 */
export const TEAMS_CARD_BUDGET_BYTES = 80 * 1024;

export function cardBytes(card: AdaptiveCardJson): number {
  return JSON.stringify(card).length * 2;
}

/**
 * The smallest card that still says what happened: a title and a line, no buttons. Sent when a
 * platform refuses the full card, so a notice (above all "ports are open") is never lost.
 */
export function minimalCard(title: string, text: string): AdaptiveCardJson {
  return messageCard({ title: clipText(title, 200), text: clipText(text, 2_000) });
}

// ---- notices ------------------------------------------------------------------------------------

const NOTICE_LOOK: Record<NoticeKind, { title: string; tone: Tone }> = {
  'address-link': { title: 'Record your address', tone: 'accent' },
  address: { title: 'Address recorded', tone: 'good' },
  submitted: { title: 'Request submitted', tone: 'accent' },
  approval: { title: 'Approval recorded', tone: 'good' },
  approved: { title: 'Approved', tone: 'good' },
  denied: { title: 'Denied', tone: 'attention' },
  opened: { title: 'Access open', tone: 'good' },
  failed: { title: 'Access failed', tone: 'attention' },
  reminder: { title: 'Access ends soon', tone: 'warning' },
  expired: { title: 'Access expired', tone: 'default' },
  released: { title: 'Access released', tone: 'default' },
  cancelled: { title: 'Request cancelled', tone: 'default' },
  'timed-out': { title: 'Request timed out', tone: 'default' },
  'extension-requested': { title: 'Extension requested', tone: 'accent' },
  extended: { title: 'Access extended', tone: 'good' },
  'extension-denied': { title: 'Extension denied', tone: 'attention' },
  'extension-failed': { title: 'Extension failed', tone: 'attention' },
  'release-failed': { title: 'Release failed', tone: 'attention' },
  superseded: { title: 'Access replaced in Azure', tone: 'warning' },
  'step-up': { title: 'Sign in to approve', tone: 'accent' },
  escalated: { title: 'Escalated', tone: 'warning' },
};

export interface NoticeCardOptions {
  /**
   * Mention the notice's person the Teams way (`<at>name</at>` plus an `msteams.entities` mention).
   * Only for a Teams person; other renderers would show the tags literally.
   */
  teamsMention?: boolean;
  /**
   * Teams people found for the notice's `mentionEmails` (those Teams knows), mentioned ahead of the
   * text; the text names everyone anyway.
   */
  teamsPeople?: Array<{ name: string; userId: string }>;
}

/** Teams keeps a message's mentions to a handful in practice; the text names everyone anyway. */
const MAX_EXTRA_MENTIONS = 20;

/** A thread reply or direct message: a titled line, with the notice's buttons (the reminder's extend/release). */
export function noticeCard(notice: Notice, opts: NoticeCardOptions = {}): AdaptiveCardJson {
  const look = NOTICE_LOOK[notice.kind];
  const person = notice.mention;
  const mention = Boolean(opts.teamsMention && person && person.platform === 'teams');
  // The tag is the bot's markup and passes unescaped; the name inside it is someone's own words.
  const mentionText = mention && person ? `<at>${escapeCardMarkdown(person.name)}</at>` : '';
  const others = (opts.teamsPeople ?? [])
    .filter((p) => !(mention && person && p.userId === person.userId))
    .slice(0, MAX_EXTRA_MENTIONS)
    .map((p) => ({ text: `<at>${escapeCardMarkdown(p.name)}</at>`, id: p.userId, name: p.name }));
  const text = clipText(notice.text, 3_000);
  // Notices addressed to the person start with their name ("Alice, your access…"): tag that name
  // rather than write it twice.
  const own = !mention || !person ? text : text.startsWith(person.name) ? `${mentionText}${text.slice(person.name.length)}` : `${mentionText} ${text}`;
  const mentions = [...(mention && person ? [{ text: mentionText, id: person.userId, name: person.name }] : []), ...others];
  return expand('notice', {
    requestId: notice.requestId,
    title: `${look.title} · ${notice.requestId}`,
    color: TONE_COLOR[look.tone],
    text: others.length > 0 ? `${others.map((m) => m.text).join(' ')} ${own}` : own,
    actions: buttons(notice.actions ?? []),
    hasLink: Boolean(notice.link),
    linkUrl: notice.link?.url ?? '',
    linkTitle: notice.link?.label ?? '',
    mentions,
  }, { keepMarkup: mentions.map((m) => m.text) });
}
// ---- replies ------------------------------------------------------------------------------------

export interface ReplyCardOptions {
  /** For a `submitted` reply: who refreshes the requester's copy of the card (see ApprovalCardOptions). */
  refreshUserIds?: string[];
}
function portTitle(p: PortRuleView): string {
  return p.protocol === '*' ? `${p.port} (TCP/UDP)` : `${p.port}/${p.protocol}`;
}
function vmData(vm: VmView): { name: string; where: string; facts: Array<{ title: string; value: string }> } {
  const facts: Array<{ title: string; value: string }> = [];
  if (!vm.jit) facts.push({ title: 'JIT', value: 'not enabled: no ports can be requested' });
  for (const p of vm.ports) facts.push({ title: portTitle(p), value: `${sourcesText(p.sources)}, max ${p.max}` });
  if (vm.approvals !== null) facts.push({ title: 'Approvals', value: `${vm.approvals} needed` });
  facts.push({ title: 'Last access', value: vm.lastAccess ?? 'never' });
  if (vm.open.length) facts.push({ title: 'Open now', value: clipText(vm.open.join('; '), CARD_LINE_MAX) });
  if (vm.warning) facts.push({ title: 'Cannot open', value: clipText(vm.warning, CARD_LINE_MAX) });
  return { name: vm.name, where: `${vm.resourceGroup} · ${vm.location} · ${vm.os === 'windows' ? 'Windows' : 'Linux'}`, facts };
}

function statusItem(view: RequestView, verbs: Verb[], showRequester: boolean): Record<string, unknown> {
  return {
    heading: `${view.id} · ${view.headline}`,
    color: STATE_LOOK[view.state].color,
    summary:
      `${summariseList(view.ports)} on ${vmsText(view, 5)} from ${view.source} for ${view.duration}` +
      (showRequester ? ` · ${clipText(view.requester.name, 200)}` : '') +
      (view.reason ? ` · ${clipText(view.reason, 120)}` : ''),
    actions: buttons(view.final ? [] : verbs, view.id),
  };
}

/** `…and 12 more; /jit status shows them as they move up` is too long: the count is what matters. */
function moreText(total: number, shown: number): string {
  return total > shown ? `…and ${total - shown} more` : '';
}

function auditPreview(csv: string): string {
  const lines = csv.split(/\r?\n/).filter((l) => l.length > 0);
  let text = lines.slice(0, AUDIT_PREVIEW_MAX_LINES).join('\n');
  if (text.length > AUDIT_PREVIEW_MAX_CHARS) text = `${text.slice(0, AUDIT_PREVIEW_MAX_CHARS)}…`;
  if (lines.length > AUDIT_PREVIEW_MAX_LINES) text += `\n… ${lines.length - AUDIT_PREVIEW_MAX_LINES} more lines`;
  return text;
}

/** The answer to a command, for the person who typed it. */
export function replyCard(reply: Reply, opts: ReplyCardOptions = {}): AdaptiveCardJson {
  switch (reply.kind) {
    case 'text':
      return messageCard({ text: reply.text });
    case 'error':
      return messageCard({ text: reply.message, tone: 'attention', usage: reply.usage });
    case 'help':
      return expand('help', {
        intro: 'Send these words to the bot; the leading slash is optional. In a channel, mention the bot first.',
        commands: reply.help.commands.map((c) => ({ usage: c.usage, description: c.description })),
        examples: [...reply.help.examples],
      });
    case 'submitted':
      return approvalCard(reply.request, {
        forApprover: false,
        forRequester: true,
        note: reply.text,
        noteTone: 'accent',
        refreshUserIds: opts.refreshUserIds,
      });
    case 'address-link':
      return messageCard({ title: `Record your address · ${reply.request.id}`, text: reply.text, tone: 'accent', link: { title: 'Open the link', url: reply.url } });
    case 'status': {
      const sections = [
        {
          heading: 'Your requests',
          empty: 'You have no pending or active requests.',
          requests: reply.mine.slice(0, STATUS_LIST_MAX).map((v) => statusItem(v, v.requesterActions, false)),
          more: moreText(reply.mine.length, STATUS_LIST_MAX),
        },
      ];
      if (reply.awaiting.length) {
        sections.push({
          heading: 'Waiting for your approval',
          empty: '',
          requests: reply.awaiting.slice(0, STATUS_LIST_MAX).map((v) => statusItem(v, v.approverActions, true)),
          more: moreText(reply.awaiting.length, STATUS_LIST_MAX),
        });
      }
      return expand('status', { sections });
    }
    case 'vms':
      return expand('vms', {
        title: 'VMs you may request',
        empty: 'There are no VMs you may request.',
        vms: reply.vms.map(vmData),
        hasFooter: reply.page !== undefined && (reply.page.pages > 1 || reply.page.filter !== null),
        footer: reply.page ? vmPageText(reply.page, reply.vms.length) : '',
      });
    case 'policy':
      return expand('vms', {
        title: `JIT policy of ${reply.vm.name}`,
        empty: '',
        vms: [reply.note ? { ...vmData(reply.vm), facts: [...vmData(reply.vm).facts, { title: 'Who may ask', value: reply.note }] } : vmData(reply.vm)],
        hasFooter: false,
        footer: '',
      });
    case 'audit':
      // With a download link the CSV stays out of the chat; without one, a preview is all there is.
      return messageCard({
        title: `Audit trail · ${reply.rows} ${reply.rows === 1 ? 'row' : 'rows'} · ${reply.filename}`,
        text: reply.text,
        preview: reply.rows > 0 && !reply.link ? auditPreview(reply.csv) : undefined,
        ...(reply.link ? { link: { title: 'Download the CSV', url: reply.link } } : {}),
      });
    case 'form':
      return formCard(reply.form);
    case 'whois': {
      const [head, ...rest] = whoisLines(reply.whois);
      return messageCard({ title: clipText(head, 200), text: clipText(rest.join('\n\n') || head, 4_000) });
    }
  }
}
