// The mechanics under every card: the templates in cards/*.json, expansion with
// adaptivecards-templating, and the pieces several cards share (buttons, tones, the message card).
import { escapeCardText } from './markdown';
import type * as ACData from 'adaptivecards-templating';
import type { Verb } from '../core/views';
import approvalTemplate from '../../cards/approval.json';
import noticeTemplate from '../../cards/notice.json';
import messageTemplate from '../../cards/message.json';
import helpTemplate from '../../cards/help.json';
import statusTemplate from '../../cards/status.json';
import vmsTemplate from '../../cards/vms.json';
import formTemplate from '../../cards/form.json';

/** An Adaptive Card as JSON. */
export type AdaptiveCardJson = Record<string, unknown>;

/** The highest version Teams renders. */
export const CARD_VERSION = '1.5';

/** The raw templates, for anyone who wants to expand them with their own data (e.g. a card gallery). */
export const templates = {
  approval: approvalTemplate,
  notice: noticeTemplate,
  message: messageTemplate,
  help: helpTemplate,
  status: statusTemplate,
  vms: vmsTemplate,
  form: formTemplate,
} as const;

type TemplateName = keyof typeof templates;

const compiled = new Map<TemplateName, ACData.Template>();

/**
 * The template filled with `data`. Every text the card shows is escaped afterwards (see markdown.ts),
 * so data is always plain text; `keepMarkup` names the bot's own markup (a Teams mention) to let through.
 */
export function expand(name: TemplateName, data: object, opts: { keepMarkup?: readonly string[] } = {}): AdaptiveCardJson {
  let tpl = compiled.get(name);
  if (!tpl) {
    // Loaded with the first card, not at start: with adaptive-expressions it is ~270 ms of module
    // loading that a bot on Slack alone, or one waiting for its first request, need not pay.
    const { Template } = require('adaptivecards-templating') as typeof import('adaptivecards-templating');
    tpl = new Template(templates[name]);
    compiled.set(name, tpl);
  }
  return escapeCardText(prune(tpl.expand({ $root: data })) as AdaptiveCardJson, { keep: opts.keepMarkup });
}

/**
 * A property whose `$when` is false expands to `null` (the templating library drops array items but
 * not properties), and renderers reject `refresh: null`; so nulls go, as do empty card-level
 * `actions` and empty input values (no value means "nothing chosen yet").
 */
function prune(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(prune);
  if (value === null || typeof value !== 'object') return value;
  const isInput = typeof (value as { type?: unknown }).type === 'string' && (value as { type: string }).type.startsWith('Input.');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue;
    if (k === 'actions' && Array.isArray(v) && v.length === 0) continue;
    if (isInput && k === 'value' && v === '') continue;
    out[k] = prune(v);
  }
  return out;
}

// ---- buttons ------------------------------------------------------------------------------------

export type ButtonStyle = 'positive' | 'destructive';

const BUTTONS: Record<Verb, { title: string; style: ButtonStyle }> = {
  approve: { title: 'Approve', style: 'positive' },
  deny: { title: 'Deny', style: 'destructive' },
  cancel: { title: 'Cancel request', style: 'destructive' },
  extend: { title: 'Extend', style: 'positive' },
  release: { title: 'Release now', style: 'destructive' },
};

export function buttons(verbs: readonly Verb[], requestId?: string): Array<{ verb: Verb; title: string; style: ButtonStyle; requestId: string }> {
  const seen = new Set<Verb>();
  const out: Array<{ verb: Verb; title: string; style: ButtonStyle; requestId: string }> = [];
  for (const verb of verbs) {
    if (seen.has(verb)) continue;
    seen.add(verb);
    out.push({ verb, ...BUTTONS[verb], requestId: requestId ?? '' });
  }
  return out;
}

export type Tone = 'good' | 'attention' | 'warning' | 'accent' | 'default';

export const TONE_COLOR: Record<Tone, string> = {
  good: 'Good',
  attention: 'Attention',
  warning: 'Warning',
  accent: 'Accent',
  default: 'Default',
};

/** A titled line of text, with an optional usage line or preview block. */
/** `link` is a button to an address the bot made (the audit download): links on cards come only from the bot. */
export function messageCard(m: { title?: string; text: string; tone?: Tone; usage?: string; preview?: string; link?: { title: string; url: string } }): AdaptiveCardJson {
  return expand('message', {
    hasTitle: Boolean(m.title),
    title: m.title ?? '',
    text: m.text,
    color: TONE_COLOR[m.tone ?? 'default'],
    hasUsage: Boolean(m.usage),
    usage: m.usage ?? '',
    hasPreview: Boolean(m.preview),
    preview: m.preview ?? '',
    hasLink: Boolean(m.link),
    linkTitle: m.link?.title ?? '',
    link: m.link?.url ?? '',
  });
}

export function sourcesText(sources: string[]): string {
  return sources.includes('*') ? 'any source' : `from ${sources.join(', ')}`;
}
