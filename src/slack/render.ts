// Pure Block Kit rendering: view models in, Slack JSON out. Nothing here adds a fact the view model
// does not carry; it only decides how Slack shows it.
import type { types as Slack } from '@slack/bolt';
import type { HomeView } from '../app/api';
import type { ActionResult, FormView, Notice, NoticeKind, PersonView, PortRuleView, Reply, RequestView, Verb, VmView } from '../core/views';
import { FORM_ACTION_ID, FORM_BLOCK_IDS, FORM_CALLBACK_ID, FROM_ME_BLOCK_ID } from './modal';

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
  superseded: ':warning:',
};

// Slack's limits: section text 3000, a field 2000, a header 150, an option 75, a button value 2000.
const FIELD_MAX = 1_900;
const REASON_MAX = 1_000;
const LIST_MAX = 10;
const HOME_LIST_MAX = 14;
const VMS_MAX = 45;
const OPTIONS_MAX = 100;

// ---- text helpers -------------------------------------------------------------------------------

/** Slack's three control characters; anything else a user typed is shown as typed. */
export function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function code(text: string): string {
  return `\`${escapeText(text).replace(/`/g, "'")}\``;
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
  return { type: 'section', text: md(text) };
}

function context(text: string): Block {
  return { type: 'context', elements: [md(text)] };
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
  const reason = v.reason ? ` — ${escapeText(clip(v.reason, 200))}` : '';
  return `*${v.id}* · ${escapeText(v.headline)}\n${personText(v.requester)}: ${codes(v.ports)} on ${codes(v.vms)} from ${code(v.source)} for ${escapeText(v.duration)}${reason}`;
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
  const approvals = view.approvedBy.length > 0 ? `${view.approvalsText} (${escapeText(view.approvedBy.join(', '))})` : view.approvalsText;
  const blocks: Block[] = [
    { type: 'header', text: plain(`JIT access request ${view.id}`, 150) },
    section(`*${escapeText(view.headline)}*`),
    {
      type: 'section',
      fields: [
        md(`*Requester*\n${personText(view.requester)}`),
        md(`*VMs*\n${codes(view.vms)}`),
        md(`*Ports*\n${codes(view.ports)}`),
        md(`*Source*\n${code(view.source)}`),
        md(`*Duration*\n${escapeText(view.duration)}`),
        md(`*Approvals*\n${clip(approvals, FIELD_MAX)}`),
      ],
    },
    section(`*Reason*\n${view.reason ? escapeText(clip(view.reason, REASON_MAX)) : '_none given_'}`),
  ];
  if (view.extension) blocks.push(section(`*Extension asked*\n${escapeText(view.extension)}`));
  if (view.failure) blocks.push(section(`:x: ${escapeText(clip(view.failure, REASON_MAX))}`));
  if (view.decision) blocks.push(context(escapeText(view.decision)));
  if (!view.final) blocks.push(...actions('jit_card', view.approverActions, view.id));
  blocks.push(context(`${view.id} · requested ${escapeText(view.createdAt)}`));
  const text = `${view.id}: ${escapeText(view.headline)}. ${escapeText(view.requester.name)} asks for ${escapeText(view.ports.join(', '))} on ${escapeText(view.vms.join(', '))}.`;
  return { text, blocks };
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

export function renderNotice(notice: Notice): SlackMessage {
  const text = `${NOTICE_ICONS[notice.kind]} ${noticeText(notice)}`;
  return { text, blocks: [section(text), ...actions('jit_notice', notice.actions ?? [], notice.requestId)] };
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
  return clip(lines.join('\n'), 2_900);
}

function replyBlocks(reply: Reply): Block[] {
  switch (reply.kind) {
    case 'text':
    case 'audit':
      return [section(escapeText(reply.text))];
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
      return [section(escapeText(reply.text)), section(requestSummary(reply.request)), ...actions(`jit_submitted_${reply.request.id}`, reply.request.final ? [] : reply.request.requesterActions, reply.request.id, reply.request)];
    case 'status':
      return [
        section('*Your requests*'),
        ...requestList('mine', reply.mine, (v) => v.requesterActions, LIST_MAX, 'Nothing pending or open.'),
        section('*Waiting for your approval*'),
        ...requestList('awaiting', reply.awaiting, (v) => v.approverActions, LIST_MAX, 'Nothing waits for you.'),
      ];
    case 'vms': {
      if (reply.vms.length === 0) return [section('There is no VM you may request.')];
      const blocks = [section(`*VMs you may request* (${reply.vms.length})`), ...reply.vms.slice(0, VMS_MAX).map((vm) => section(vmText(vm)))];
      if (reply.vms.length > VMS_MAX) blocks.push(context(`…and ${reply.vms.length - VMS_MAX} more.`));
      return blocks;
    }
    case 'policy':
      return [section(`*JIT policy of ${escapeText(reply.vm.name)}*`), section(vmText(reply.vm)), ...(reply.note ? [section(escapeText(reply.note))] : [])];
    case 'form':
      return [section('Opening the request form…')];
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
  }
}

export function renderReply(reply: Reply): SlackMessage {
  return { text: replyText(reply), blocks: replyBlocks(reply) };
}

/** What the clicker alone sees after a button. */
export function renderActionResult(result: ActionResult): SlackMessage {
  const text = `${result.ok ? '' : ':warning: '}${escapeText(result.message)}`;
  return { text, blocks: [section(text)] };
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
  const vmOptions = form.vms.slice(0, OPTIONS_MAX).map((vm) => option(vm.name, vm.name));
  const portOptions = new Map<string, Option>();
  for (const vm of form.vms) for (const p of vm.ports) if (!portOptions.has(p.value)) portOptions.set(p.value, option(p.value, p.label));
  const ports = [...portOptions.values()].slice(0, OPTIONS_MAX);
  const durations = form.durations.slice(0, OPTIONS_MAX).map((x) => option(x.value, x.label));
  const initialVm = vmOptions.find((o) => o.value === d.vm);
  const wantedPorts = new Set((d.port ?? '').split(',').map((s) => s.trim()));
  const initialPorts = ports.filter((o) => o.value !== undefined && wantedPorts.has(o.value));
  const initialDuration = durations.find((o) => o.value === d.duration);
  const portsHint = form.vms.map((vm) => `${vm.name}: ${vm.ports.map((p) => p.label).join(', ') || 'none'}`).join(' · ');
  const sourcesHint = form.vms.map((vm) => `${vm.name}: ${vm.sources.map((x) => (x === '*' ? 'any address' : x)).join(', ') || 'none'}`).join(' · ');
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
        label: plain('VM'),
        element: { type: 'static_select', action_id: FORM_ACTION_ID, options: vmOptions, ...(initialVm ? { initial_option: initialVm } : {}) },
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
  return { type: 'modal', title: plain(MODAL_TITLE), close: plain('Done'), blocks: replyBlocks(reply).filter((b) => b.type !== 'actions') };
}

// ---- App Home ------------------------------------------------------------------------------------------

export function renderHome(home: HomeView, banner?: string): Slack.HomeView {
  return {
    type: 'home',
    blocks: [
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
    ],
  };
}
