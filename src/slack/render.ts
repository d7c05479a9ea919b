// Pure Block Kit rendering: view models in, Slack JSON out. Nothing here adds a fact the view model
// does not carry; it only decides how Slack shows it.
import { whoisLines } from '../core/whois';
import type { types as Slack } from '@slack/bolt';
import type { HomeView } from '../app/api';
import type { ActionResult, FormView, Notice, NoticeKind, PersonView, PortRuleView, Reply, RequestView, Verb, VmView } from '../core/views';
import { FORM_ACTION_ID, FORM_BLOCK_IDS, FORM_CALLBACK_ID, FROM_ME_BLOCK_ID } from './modal';
import { clipText, vmListText } from '../core/text';
import { vmPageText } from '../core/views';

type Block = Slack.KnownBlock;
type Button = Slack.Button;
type Mrkdwn = Slack.MrkdwnElement;
type PlainText = Slack.PlainTextElement;
type Option = Slack.PlainTextOption;

/** A message body: `text` is the notification and screen-reader fallback, `blocks` what people see. */
export interface SlackMessage {
  text: string;
  blocks: Block[];
}

export const ACTION_IDS: Readonly<Record<Verb, string>> = {
  approve: 'jit_approve',
  deny: 'jit_deny',
  extend: 'jit_extend',
  release: 'jit_release',
  cancel: 'jit_cancel',
};

export function verbOfActionId(actionId: string): Verb | null {
  const hit = (Object.entries(ACTION_IDS) as Array<[Verb, string]>).find(([, id]) => id === actionId);
  return hit ? hit[0] : null;
}

const BUTTON_LABELS: Readonly<Record<Verb, string>> = {
  approve: 'Approve',
  deny: 'Deny',
  extend: 'Extend',
  release: 'Release now',
  cancel: 'Cancel request',
};

const BUTTON_STYLES: Partial<Record<Verb, 'primary' | 'danger'>> = { approve: 'primary', deny: 'danger', extend: 'primary', release: 'danger' };

const NOTICE_ICONS: Readonly<Record<NoticeKind, string>> = {
  'address-link': ':link:',
  address: ':round_pushpin:',
  submitted: ':inbox_tray:',
  approval: ':ballot_box_with_check:',
  approved: ':white_check_mark:',
  denied: ':no_entry:',
  opened: ':unlock:',
  failed: ':x:',
  reminder: ':alarm_clock:',
  expired: ':lock:',
  released: ':lock:',
  cancelled: ':wastebasket:',
  'timed-out': ':hourglass:',
  'extension-requested': ':hourglass_flowing_sand:',
  extended: ':unlock:',
  'extension-denied': ':no_entry:',
  'extension-failed': ':x:',
  'release-failed': ':x:',
  superseded: ':warning:',
  'step-up': ':closed_lock_with_key:',
  escalated: ':rotating_light:',
};

// Slack's limits: section text 3000, a field 2000 (10 fields), a header 150, an option 75, a button
// text 75 and value 2000, 50 blocks in a message and 100 in a modal or Home tab.
const SECTION_MAX = 3_000;
const FALLBACK_TEXT_MAX = 3_000;
const MESSAGE_BLOCKS_MAX = 50;
const VIEW_BLOCKS_MAX = 100;
const FIELD_MAX = 1_900;
const REASON_MAX = 1_000;
const LIST_MAX = 10;
const HOME_LIST_MAX = 14;
const OPTIONS_MAX = 100;

// ---- text helpers -------------------------------------------------------------------------------

const WORD_CHAR = /[\p{L}\p{N}]/u;

/**
 * Text as Slack mrkdwn that shows exactly what was typed. `&`, `<` and `>` are Slack's control
 * characters (`<https://evil|Approve>` would be a masked link) and become entities. mrkdwn has no
 * escape for `*_~` and backticks; they format only at a word's edge, so there a zero-width space on
 * each side keeps them from pairing into bold, italics, strike or code. Inside a word
 * (`missing_scope`) they cannot pair and stay as they are; the characters always show.
 */
export function escapeSlackText(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[*_~`]/g, (ch, at: number, all: string) => (WORD_CHAR.test(all[at - 1] ?? ' ') && WORD_CHAR.test(all[at + 1] ?? ' ') ? ch : `\u200b${ch}\u200b`));
}

/** @deprecated the old name of escapeSlackText. */
export const escapeText = escapeSlackText;

/** Cut mrkdwn to `max` without splitting an entity (`&amp;`) or a mention (`<@U123>`). */
function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const amp = text.lastIndexOf('&', end);
  if (amp >= 0 && amp > end - 6 && !text.slice(amp, end).includes(';')) end = amp;
  const lt = text.lastIndexOf('<', end);
  if (lt >= 0 && text.indexOf('>', lt) >= end) end = lt;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

function code(text: string): string {
  const inner = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/`/g, "'");
  return `\`${inner}\``;
}

function codes(items: string[]): string {
  return clip(items.map(code).join(', '), FIELD_MAX);
}

function md(text: string): Mrkdwn {
  return { type: 'mrkdwn', text };
}

function plain(text: string, max = 3_000): PlainText {
  return { type: 'plain_text', text: clip(text, max) };
}

function section(text: string): Block {
  return { type: 'section', text: md(clip(text, SECTION_MAX)) };
}

/** VM names in code style, summarised past a handful (`web-* (150 VMs): web-001, …`). */
function vmCodes(vms: string[], maxItems = 20): string {
  return vms.length <= maxItems ? codes(vms) : code(vmListText(vms, { maxItems, maxChars: 1_500 }));
}

/**
 * The last guard before Slack: whatever a renderer built, every text and the block count stay inside
 * Slack's limits, so Slack never answers `invalid_blocks` or `msg_too_long`. Blocks past the limit
 * become one line saying how many were left out.
 */
export function fitBlocks(blocks: Block[], maxBlocks: number = MESSAGE_BLOCKS_MAX): Block[] {
  const fitted = blocks.map(fitBlock);
  if (fitted.length <= maxBlocks) return fitted;
  const kept = fitted.slice(0, maxBlocks - 1);
  return [...kept, context(`…and ${fitted.length - kept.length} more parts left out; ask for less at a time.`)];
}

function fitText<T extends { type: string; text: string }>(t: T, max: number): T {
  return t.text.length > max ? { ...t, text: t.type === 'mrkdwn' ? clip(t.text, max) : clipText(t.text, max) } : t;
}

function fitBlock(block: Block): Block {
  switch (block.type) {
    case 'section':
      return {
        ...block,
        ...(block.text ? { text: fitText(block.text, SECTION_MAX) } : {}),
        ...(block.fields ? { fields: block.fields.slice(0, 10).map((f) => fitText(f, 2_000)) } : {}),
      };
    case 'header':
      return { ...block, text: fitText(block.text, 150) };
    case 'context':
      return { ...block, elements: block.elements.slice(0, 10).map((e) => ('text' in e && typeof e.text === 'string' ? fitText(e as Mrkdwn, SECTION_MAX) : e)) };
    case 'actions':
      return { ...block, elements: block.elements.slice(0, 25) };
    default:
      return block;
  }
}

function context(text: string): Block {
  return { type: 'context', elements: [md(text)] };
}

/** A link the bot made, as Slack mrkdwn; `<`, `>` and `|` would end it early, so they stay encoded. */
function slackLink(url: string, label: string): string {
  return `<${url.replace(/[<>|]/g, (c) => encodeURIComponent(c))}|${escapeText(label)}>`;
}

const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;

/** A Slack mention for people on Slack (it notifies them), the name for anyone else. */
export function personText(p: PersonView): string {
  return p.platform === 'slack' && SLACK_USER_ID.test(p.userId) ? `<@${p.userId}>` : escapeText(p.name);
}

function button(verb: Verb, requestId: string): Button {
  const style = BUTTON_STYLES[verb];
  return {
    type: 'button',
    action_id: ACTION_IDS[verb],
    text: plain(BUTTON_LABELS[verb]),
    value: requestId,
    ...(style ? { style } : {}),
  };
}

/** The extend choices the policy still allows, as one select; its option values are `<id>:<minutes>`. */
export const EXTEND_BY_ACTION_ID = 'jit_extend_by';
/** The `from me` link button: Slack still sends a click for a URL button, which is only acknowledged. */
export const ADDRESS_LINK_ACTION_ID = 'jit_address_link';

function extendSelect(view: RequestView): Record<string, unknown> {
  return {
    type: 'static_select',
    action_id: EXTEND_BY_ACTION_ID,
    placeholder: plain(clip(`Extend by… (${view.extendLimit ?? 'as allowed'})`, 140), 150),
    options: view.extendChoices.slice(0, OPTIONS_MAX).map((c) => ({ text: plain(c.label, 75), value: `${view.id}:${c.minutes}` })),
  };
}

/** Buttons for the verbs; with a view that offers extension choices, Extend becomes a select of them. */
function actions(blockId: string, verbs: Verb[], requestId: string, view?: RequestView): Block[] {
  if (verbs.length === 0) return [];
  const elements = verbs.map((v) => (v === 'extend' && view && view.extendChoices.length > 0 ? extendSelect(view) : button(v, requestId)));
  return [{ type: 'actions', block_id: blockId, elements } as Block];
}

function requestSummary(v: RequestView): string {
  const reason = v.reason ? ` — ${escapeText(clipText(v.reason, 200))}` : '';
  return `*${v.id}* · ${escapeText(v.headline)}\n${personText(v.requester)}: ${codes(v.ports)} on ${vmCodes(v.vms, 5)} from ${code(v.source)} for ${escapeText(v.duration)}${reason}`;
}

/** Block ids carry the list's name: one request may sit in two lists of the same surface. */
function requestList(list: string, views: RequestView[], verbsOf: (v: RequestView) => Verb[], max: number, empty: string): Block[] {
  if (views.length === 0) return [context(empty)];
  const blocks = views.slice(0, max).flatMap((v) => [section(requestSummary(v)), ...actions(`jit_${list}_${v.id}`, v.final ? [] : verbsOf(v), v.id, v)]);
  if (views.length > max) blocks.push(context(`…and ${views.length - max} more.`));
  return blocks;
}

// ---- approval card --------------------------------------------------------------------------------

/** The approval message in the approvers' channel. Buttons only while someone can still decide. */
export function renderCard(view: RequestView): SlackMessage {
  return requestMessage(view, 'approver');
}

/**
 * The requester's own copy, in their direct messages with the bot: the same facts, redrawn on every
 * transition, with the requester's buttons (cancel, extend, release) while they still apply.
 */
export function renderCopy(view: RequestView): SlackMessage {
  return requestMessage(view, 'requester');
}

function requestMessage(view: RequestView, side: 'approver' | 'requester'): SlackMessage {
  const approvals = view.approvedBy.length > 0 ? `${view.approvalsText} (${escapeText(clipText(view.approvedByText ?? view.approvedBy.join(', '), FIELD_MAX - 50))})` : view.approvalsText;
  const blocks: Block[] = [
    { type: 'header', text: plain(side === 'requester' ? `Your JIT access request ${view.id}` : `JIT access request ${view.id}`, 150) },
    section(`*${escapeText(view.headline)}*`),
    {
      type: 'section',
      fields: [
        md(`*Requester*\n${personText(view.requester)}`),
        md(`*VMs*\n${vmCodes(view.vms)}`),
        md(`*Ports*\n${codes(view.ports)}`),
        md(`*Source*\n${code(view.source)} · ${escapeText(view.sourceSize)}${view.sourceWide ? ' :warning: *wide*' : ''}`),
        md(`*Duration*\n${escapeText(view.duration)}`),
        md(`*Approvals*\n${clip(approvals, FIELD_MAX)}`),
      ],
    },
    section(`*Reason*\n${view.reason ? escapeText(clipText(view.reason, REASON_MAX)) : '_none given_'}`),
  ];
  if (view.extension) blocks.push(section(`*Extension asked*\n${escapeText(view.extension)}`));
  if (view.failure) blocks.push(section(`:x: ${escapeText(clipText(view.failure, REASON_MAX))}`));
  if (view.decision) blocks.push(context(escapeText(clipText(view.decision, REASON_MAX + 200))));
  if (view.escalation) blocks.push(context(`:rotating_light: ${escapeText(clipText(view.escalation, REASON_MAX))}`));
  if (!view.final) {
    blocks.push(...(side === 'requester' ? actions('jit_copy', view.requesterActions, view.id, view) : actions('jit_card', view.approverActions, view.id)));
  }
  blocks.push(context(`${view.id} · requested ${escapeText(view.createdAt)}`));
  const who = side === 'requester' ? 'You ask' : `${escapeText(clipText(view.requester.name, 200))} asks`;
  const text = `${view.id}: ${escapeText(view.headline)}. ${who} for ${escapeText(view.ports.join(', '))} on ${escapeText(vmListText(view.vms))}.`;
  return message(text, blocks);
}

// ---- thread replies and direct messages -------------------------------------------------------------

/**
 * The notice's words with the mentioned person as a Slack mention (in place of their name when it
 * leads). Someone who is not on Slack cannot be notified here, so their notice reads as written.
 */
function noticeText(notice: Notice): string {
  const text = escapeText(notice.text);
  if (!notice.mention || personText(notice.mention) === escapeText(notice.mention.name)) return text;
  const who = personText(notice.mention);
  const name = escapeText(notice.mention.name);
  if (name !== '' && (text.startsWith(`${name},`) || text.startsWith(`${name} `))) return `${who}${text.slice(name.length)}`;
  return `${who} ${text}`;
}

/** Slack mentions a message may carry before the text: the text names everyone anyway. */
const MAX_EXTRA_MENTIONS = 20;

export interface NoticeRenderOptions {
  /** The Slack people found for the notice's `mentionEmails`, mentioned ahead of its text. */
  people?: PersonView[];
}

export function renderNotice(notice: Notice, opts: NoticeRenderOptions = {}): SlackMessage {
  // A link is the bot's own (a step-up sign-in), so it is written as a Slack link, not escaped text.
  const link = notice.link && /^https?:\/\/[^\s|<>]+$/.test(notice.link.url) ? ` <${notice.link.url}|${escapeText(notice.link.label)}>` : '';
  const tags = [...new Set((opts.people ?? []).map(personText).filter((t) => t.startsWith('<@')))].slice(0, MAX_EXTRA_MENTIONS);
  const text = `${NOTICE_ICONS[notice.kind]} ${tags.length > 0 ? `${tags.join(' ')} ` : ''}${noticeText(notice)}${link}`;
  return message(text, [section(text), ...actions('jit_notice', notice.actions ?? [], notice.requestId)]);
}

/**
 * A message both the fallback `text` and the blocks of which fit Slack. Every message renderer ends
 * here, so no caller has to remember the limits.
 */
function message(text: string, blocks: Block[]): SlackMessage {
  return { text: clip(text, FALLBACK_TEXT_MAX), blocks: fitBlocks(blocks) };
}

/**
 * The smallest form of a message: its fallback text in one section, no buttons. Sent when Slack
 * refuses the full form, so a notice is never lost to a rendering problem.
 */
export function minimalMessage(m: SlackMessage): SlackMessage {
  const text = clip(m.text, SECTION_MAX);
  return { text, blocks: [{ type: 'section', text: md(text) }] };
}

// ---- answers to the person who typed or clicked (ephemeral) ------------------------------------------

function portRuleText(rule: PortRuleView): string {
  const port = rule.protocol === '*' ? `${rule.port}/any` : `${rule.port}/${rule.protocol}`;
  return `${code(port)} from ${codes(rule.sources)}, max ${escapeText(rule.max)}`;
}

function vmText(vm: VmView): string {
  const lines = [`*${escapeText(vm.name)}* · ${code(vm.resourceGroup)} · ${escapeText(vm.location)} · ${vm.os}`];
  if (!vm.jit) lines.push('_not under JIT_');
  else lines.push(...vm.ports.map(portRuleText));
  const facts: string[] = [];
  if (vm.approvals !== null) facts.push(vm.approvals === 0 ? 'no approval needed' : `${vm.approvals} approval${vm.approvals === 1 ? '' : 's'} needed`);
  facts.push(vm.lastAccess ? `last access ${escapeText(vm.lastAccess)}` : 'never opened by the bot');
  lines.push(facts.join(' · '));
  if (vm.open.length > 0) lines.push(`Open now: ${escapeText(vm.open.join('; '))}`);
  if (vm.warning) lines.push(`:warning: ${escapeText(vm.warning)}`);
  return clip(lines.join('\n'), 2_900);
}

/** Under the answer to a new request: where the live copy is. */
export const COPY_POINTER = 'Your copy in our direct messages follows this request from here on, with its buttons.';

function replyBlocks(reply: Reply): Block[] {
  switch (reply.kind) {
    case 'text':
      return [section(escapeText(reply.text))];
    case 'audit':
      return [section(`${escapeText(reply.text)}${reply.link ? `\n${slackLink(reply.link, 'Download the CSV')}` : ''}`)];
    case 'error':
      return [section(`:warning: ${escapeText(reply.message)}`), ...(reply.usage ? [context(`Usage: ${code(reply.usage)}`)] : [])];
    case 'help':
      return [
        section('*Just-in-time access to VM management ports*'),
        section(clip(reply.help.commands.map((c) => `${code(c.usage)} — ${escapeText(c.description)}`).join('\n'), 2_900)),
        section(`*Examples*\n${reply.help.examples.map(code).join('\n')}`),
      ];
    case 'address-link':
      // Ephemeral: the link is this person's alone. A button rather than a bare link keeps Slack from unfurling it.
      // A section accessory, not an actions block, so the link survives in a modal's answer too.
      return [
        {
          type: 'section',
          block_id: `jit_address_${reply.request.id}`,
          text: { type: 'mrkdwn', text: escapeText(reply.text.slice(0, reply.text.lastIndexOf(': '))) },
          accessory: { type: 'button', action_id: ADDRESS_LINK_ACTION_ID, text: plain('Record my address'), url: reply.url, style: 'primary' },
        } as Block,
      ];
    case 'submitted':
      // This answer is ephemeral: Slack cannot redraw it. The request as it moves on, with its
      // buttons, is the copy in the requester's direct messages (renderCopy), so this one says so.
      return [section(escapeText(reply.text)), section(requestSummary(reply.request)), context(COPY_POINTER)];
    case 'status':
      return [
        section('*Your requests*'),
        ...requestList('mine', reply.mine, (v) => v.requesterActions, LIST_MAX, 'Nothing pending or open.'),
        section('*Waiting for your approval*'),
        ...requestList('awaiting', reply.awaiting, (v) => v.approverActions, LIST_MAX, 'Nothing waits for you.'),
      ];
    case 'vms': {
      if (reply.vms.length === 0) return [section('There is no VM you may request.')];
      const total = reply.page?.total ?? reply.vms.length;
      const blocks = [section(`*VMs you may request* (${total})`), ...reply.vms.slice(0, MESSAGE_BLOCKS_MAX - 3).map((vm) => section(vmText(vm)))];
      if (reply.page && (reply.page.pages > 1 || reply.page.filter !== null)) blocks.push(context(escapeText(vmPageText(reply.page, reply.vms.length))));
      return blocks;
    }
    case 'policy':
      return [section(`*JIT policy of ${escapeText(reply.vm.name)}*`), section(vmText(reply.vm)), ...(reply.note ? [section(escapeText(reply.note))] : [])];
    case 'form':
      return [section('Opening the request form…')];
    case 'whois': {
      const [head, ...rest] = whoisLines(reply.whois);
      return [section(`*${escapeText(head)}*`), ...(rest.length ? [section(clip(rest.map(escapeText).join('\n'), 2_900))] : [])];
    }
  }
}

function replyText(reply: Reply): string {
  switch (reply.kind) {
    case 'text':
    case 'audit':
    case 'submitted':
    case 'address-link':
      return escapeText(reply.text);
    case 'error':
      return escapeText(reply.message);
    case 'help':
      return 'How to use /jit';
    case 'status':
      return `${reply.mine.length} of your requests, ${reply.awaiting.length} waiting for your approval`;
    case 'vms':
      return `${reply.vms.length} VMs you may request`;
    case 'policy':
      return `JIT policy of ${escapeText(reply.vm.name)}`;
    case 'form':
      return 'Opening the request form…';
    case 'whois':
      return escapeText(`Who is ${reply.whois.email}`);
  }
}

export function renderReply(reply: Reply): SlackMessage {
  return message(replyText(reply), replyBlocks(reply));
}

/** What the clicker alone sees after a button. */
export function renderActionResult(result: ActionResult): SlackMessage {
  const text = `${result.ok ? '' : ':warning: '}${escapeText(result.message)}`;
  return message(text, [section(text)]);
}

// ---- the request form (modal) ------------------------------------------------------------------------

function option(value: string, label: string): Option {
  return { text: plain(label, 75), value: clip(value, 150) };
}

const MODAL_TITLE = 'JIT access';

export function renderForm(form: FormView): Slack.ModalView {
  if (form.vms.length === 0 || form.durations.length === 0) {
    return { type: 'modal', title: plain(MODAL_TITLE), close: plain('Close'), blocks: [section('There is no VM you may request. An admin can add you to an access rule.')] };
  }
  const d = form.defaults;
  // The VM list comes from the bot as the person types (an external select): a static select shows
  // at most 100 options and silently drops the rest.
  const initialVms = (d.vm ?? (form.vms.length === 1 ? form.vms[0].name : ''))
    .split(',')
    .map((x) => x.trim())
    .filter((x) => form.vms.some((vm) => vm.name === x))
    .map((x) => option(x, x));
  const portOptions = new Map<string, Option>();
  for (const vm of form.vms) for (const p of vm.ports) if (!portOptions.has(p.value)) portOptions.set(p.value, option(p.value, p.label));
  const ports = [...portOptions.values()].slice(0, OPTIONS_MAX);
  const durations = form.durations.slice(0, OPTIONS_MAX).map((x) => option(x.value, x.label));
  const wantedPorts = new Set((d.port ?? '').split(',').map((s) => s.trim()));
  const initialPorts = ports.filter((o) => o.value !== undefined && wantedPorts.has(o.value));
  const initialDuration = durations.find((o) => o.value === d.duration);
  const portsHint = hintList(form.vms.map((vm) => `${vm.name}: ${vm.ports.map((p) => p.label).join(', ') || 'none'}`));
  const sourcesHint = hintList(form.vms.map((vm) => `${vm.name}: ${vm.sources.map((x) => (x === '*' ? 'any address' : x)).join(', ') || 'none'}`));
  return {
    type: 'modal',
    callback_id: FORM_CALLBACK_ID,
    title: plain(MODAL_TITLE),
    submit: plain('Request'),
    close: plain('Cancel'),
    blocks: [
      {
        type: 'input',
        block_id: FORM_BLOCK_IDS.vm,
        label: plain(form.vms.length > 1 ? `VMs (${form.vms.length} you may request; type to search)` : 'VM'),
        element: {
          type: 'multi_external_select',
          action_id: FORM_ACTION_ID,
          min_query_length: 0,
          placeholder: plain('Type part of a name, e.g. web-', 150),
          ...(initialVms.length > 0 ? { initial_options: initialVms } : {}),
        },
      },
      {
        type: 'input',
        block_id: FORM_BLOCK_IDS.ports,
        label: plain('Ports'),
        hint: plain(portsHint, 2_000),
        element: { type: 'multi_static_select', action_id: FORM_ACTION_ID, options: ports, ...(initialPorts.length > 0 ? { initial_options: initialPorts } : {}) },
      },
      {
        type: 'input',
        block_id: FORM_BLOCK_IDS.duration,
        label: plain('For how long'),
        element: { type: 'static_select', action_id: FORM_ACTION_ID, options: durations, ...(initialDuration ? { initial_option: initialDuration } : {}) },
      },
      {
        type: 'input',
        block_id: FORM_BLOCK_IDS.source,
        optional: true,
        label: plain('From (your IP address or CIDR)'),
        hint: plain(`Allowed: ${sourcesHint}`, 2_000),
        element: {
          type: 'plain_text_input',
          action_id: FORM_ACTION_ID,
          placeholder: plain('10.1.2.3 or 10.1.2.0/24', 150),
          max_length: 64,
          ...(d.source && d.source !== 'me' ? { initial_value: d.source } : {}),
        },
      },
      {
        type: 'input',
        block_id: FROM_ME_BLOCK_ID,
        optional: true,
        label: plain('Or'),
        element: {
          type: 'checkboxes',
          action_id: FORM_ACTION_ID,
          options: [{ text: plain('My address: send me a one-time link to open where I will connect from'), value: 'me' }],
          ...(d.source === 'me' ? { initial_options: [{ text: plain('My address: send me a one-time link to open where I will connect from'), value: 'me' }] } : {}),
        },
      },
      {
        type: 'input',
        block_id: FORM_BLOCK_IDS.reason,
        optional: true,
        label: plain('Reason'),
        element: {
          type: 'plain_text_input',
          action_id: FORM_ACTION_ID,
          multiline: true,
          max_length: 500,
          placeholder: plain('INC-4711: restart the web tier', 150),
          ...(d.reason ? { initial_value: d.reason } : {}),
        },
      },
    ],
  };
}

/** One hint line per VM for a handful of VMs; past that, the first few and a count. */
function hintList(lines: string[]): string {
  const shown = lines.slice(0, 8).join(' · ');
  return lines.length > 8 ? `${shown} · …and ${lines.length - 8} more` : shown;
}

/**
 * The VM choices for what the person has typed so far (a `block_suggestion`): at most 100, Slack's
 * limit; when more match, they come as one group whose label says to type more.
 */
export function renderVmOptions(names: string[], total: number): { options: Option[] } | { option_groups: Array<{ label: PlainText; options: Option[] }> } {
  const options = names.slice(0, OPTIONS_MAX).map((n) => option(n, n));
  if (total <= options.length) return { options };
  return { option_groups: [{ label: plain(`First ${options.length} of ${total}; type more of the name`, 75), options }] };
}

/** Shown at once on `/jit`, so the trigger is used while it is fresh; replaced by the form. */
export function renderLoadingModal(): Slack.ModalView {
  return { type: 'modal', title: plain(MODAL_TITLE), close: plain('Cancel'), blocks: [section('Loading the request form…')] };
}

/** The modal after a submission: the answer, without buttons (a modal has no reply channel for them). */
export const DENY_CALLBACK_ID = 'jit_deny_reason';
export const DENY_REASON_BLOCK_ID = 'jit_deny_reason';

/** Deny asks for an optional reason first; the request id travels in private_metadata. */
export function renderDenyModal(requestId: string): Slack.ModalView {
  return {
    type: 'modal',
    callback_id: DENY_CALLBACK_ID,
    private_metadata: requestId,
    title: plain(`Deny ${requestId}`.slice(0, 24)),
    submit: plain('Deny'),
    close: plain('Cancel'),
    blocks: [
      {
        type: 'input',
        block_id: DENY_REASON_BLOCK_ID,
        optional: true,
        label: plain('Reason (the requester and the thread see it)'),
        element: { type: 'plain_text_input', action_id: FORM_ACTION_ID, multiline: true, max_length: 500 },
      },
    ],
  };
}

export function renderReplyModal(reply: Reply): Slack.ModalView {
  return { type: 'modal', title: plain(MODAL_TITLE), close: plain('Done'), blocks: fitBlocks(replyBlocks(reply).filter((b) => b.type !== 'actions'), VIEW_BLOCKS_MAX) };
}

// ---- App Home ------------------------------------------------------------------------------------------

export function renderHome(home: HomeView, banner?: string): Slack.HomeView {
  return {
    type: 'home',
    blocks: fitBlocks([
      { type: 'header', text: plain('Just-in-time access', 150) },
      ...(banner ? [section(escapeText(banner))] : []),
      section('*Open now*'),
      ...requestList('open', home.grants, (v) => v.requesterActions, HOME_LIST_MAX, 'Nothing open.'),
      { type: 'divider' },
      section('*Your pending requests*'),
      ...requestList('pending', home.pending, (v) => v.requesterActions, HOME_LIST_MAX, 'Nothing pending.'),
      { type: 'divider' },
      section('*Waiting for your approval*'),
      ...requestList('awaiting', home.awaiting, (v) => v.approverActions, HOME_LIST_MAX, 'Nothing waits for you.'),
      context('Type `/jit help` for the commands, or `/jit` alone for the request form.'),
    ], VIEW_BLOCKS_MAX),
  };
}
