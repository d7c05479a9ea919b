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
import type { Notice, NoticeKind, PortRuleView, Reply, RequestView, Verb, VmView } from '../core/views';
import type { RequestState } from '../core/types';
import { buttons, expand, messageCard, sourcesText, TONE_COLOR, type AdaptiveCardJson, type Tone } from './expand';
import { formCard } from './form';

export { CARD_VERSION, templates, type AdaptiveCardJson } from './expand';
export { actionVerb, isCardVerb, type CardVerb } from './actions';
export { formCard, formInputFrom, FORM_INPUT_IDS, type FormCardOptions } from './form';

/** Teams ignores more than this many `refresh.userIds`. */
export const MAX_REFRESH_USER_IDS = 60;
/** Teams refuses messages much over ~28 KB; the audit preview stays well inside that. */
const AUDIT_PREVIEW_MAX_CHARS = 6000;
const AUDIT_PREVIEW_MAX_LINES = 20;

// ---- the approval card ----------------------------------------------------------------------------

const STATE_LOOK: Record<RequestState, { style: string; color: string }> = {
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
  return view.requester.email ? `${view.requester.name} (${view.requester.email})` : view.requester.name;
}

function approvalFacts(view: RequestView): Array<{ title: string; value: string }> {
  const facts = [
    { title: 'Request', value: view.id },
    { title: 'Requester', value: requesterText(view) },
    { title: view.vms.length === 1 ? 'VM' : 'VMs', value: view.vms.join(', ') },
    { title: view.ports.length === 1 ? 'Port' : 'Ports', value: view.ports.join(', ') },
    { title: 'Source', value: view.source === '*' ? 'any address (*)' : view.source },
    { title: 'Duration', value: view.duration },
    { title: 'Reason', value: view.reason || '(none given)' },
    { title: 'Approvals', value: view.approvedBy.length ? `${view.approvalsText} (${view.approvedBy.join(', ')})` : view.approvalsText },
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
    title: `${view.requester.name} asks for ${view.ports.join(', ')} on ${view.vms.join(', ')}`,
    headline: view.headline,
    headlineColor: look.color,
    style: look.style,
    hasNote: Boolean(opts.note),
    note: opts.note ?? '',
    noteColor: TONE_COLOR[opts.noteTone ?? 'default'],
    facts: approvalFacts(view),
    hasDecision: view.decision !== null,
    decision: view.decision ?? '',
    hasFailure: view.failure !== null,
    failure: view.failure ? `Azure said: ${view.failure}` : '',
    hasExtension: view.extension !== null && !view.final,
    extension: view.extension ? `Extension asked: ${view.extension}` : '',
    actions: buttons(verbs),
    hasRefresh: !view.final,
    refreshUserIds,
  });
}
// ---- notices ------------------------------------------------------------------------------------

const NOTICE_LOOK: Record<NoticeKind, { title: string; tone: Tone }> = {
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
  superseded: { title: 'Access replaced in Azure', tone: 'warning' },
};

export interface NoticeCardOptions {
  /**
   * Mention the notice's person the Teams way (`<at>name</at>` plus an `msteams.entities` mention).
   * Only for a Teams person; other renderers would show the tags literally.
   */
  teamsMention?: boolean;
}

/** A thread reply or direct message: a titled line, with the notice's buttons (the reminder's extend/release). */
export function noticeCard(notice: Notice, opts: NoticeCardOptions = {}): AdaptiveCardJson {
  const look = NOTICE_LOOK[notice.kind];
  const person = notice.mention;
  const mention = Boolean(opts.teamsMention && person && person.platform === 'teams');
  const mentionText = mention && person ? `<at>${person.name}</at>` : '';
  return expand('notice', {
    requestId: notice.requestId,
    title: `${look.title} · ${notice.requestId}`,
    color: TONE_COLOR[look.tone],
    // Notices addressed to the person start with their name ("Alice, your access…"): tag that name
    // rather than write it twice.
    text: !mention || !person ? notice.text : notice.text.startsWith(person.name) ? `${mentionText}${notice.text.slice(person.name.length)}` : `${mentionText} ${notice.text}`,
    actions: buttons(notice.actions ?? []),
    hasMention: mention,
    mentionText,
    mentionId: mention && person ? person.userId : '',
    mentionName: mention && person ? person.name : '',
  });
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
  if (vm.open.length) facts.push({ title: 'Open now', value: vm.open.join('; ') });
  return { name: vm.name, where: `${vm.resourceGroup} · ${vm.location} · ${vm.os === 'windows' ? 'Windows' : 'Linux'}`, facts };
}

function statusItem(view: RequestView, verbs: Verb[], showRequester: boolean): Record<string, unknown> {
  return {
    heading: `${view.id} · ${view.headline}`,
    color: STATE_LOOK[view.state].color,
    summary:
      `${view.ports.join(', ')} on ${view.vms.join(', ')} from ${view.source} for ${view.duration}` +
      (showRequester ? ` · ${view.requester.name}` : '') +
      (view.reason ? ` · ${view.reason}` : ''),
    actions: buttons(view.final ? [] : verbs, view.id),
  };
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
    case 'status': {
      const sections = [
        {
          heading: 'Your requests',
          empty: 'You have no pending or active requests.',
          requests: reply.mine.map((v) => statusItem(v, v.requesterActions, false)),
        },
      ];
      if (reply.awaiting.length) {
        sections.push({
          heading: 'Waiting for your approval',
          empty: '',
          requests: reply.awaiting.map((v) => statusItem(v, v.approverActions, true)),
        });
      }
      return expand('status', { sections });
    }
    case 'vms':
      return expand('vms', {
        title: 'VMs you may request',
        empty: 'There are no VMs you may request.',
        vms: reply.vms.map(vmData),
      });
    case 'policy':
      return expand('vms', { title: `JIT policy of ${reply.vm.name}`, empty: '', vms: [vmData(reply.vm)] });
    case 'audit':
      return messageCard({
        title: `Audit trail · ${reply.rows} ${reply.rows === 1 ? 'row' : 'rows'} · ${reply.filename}`,
        text: reply.text,
        preview: reply.rows > 0 ? auditPreview(reply.csv) : undefined,
      });
    case 'form':
      return formCard(reply.form);
  }
}
