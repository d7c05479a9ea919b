// Adaptive Card text is markdown: Teams (and the console, through markdown-it) draw TextBlock text and
// FactSet facts as markdown, and Teams drops anything that looks like an HTML tag. Text written by
// people (reasons, names, VM names) and the bot's own grammar (`<ports> <vms>`) must be shown, never
// interpreted, so every such character becomes a character reference. CommonMark treats references
// as literal text, never as syntax, and both renderers decode them back to the character.
import type { AdaptiveCardJson } from './expand';

/** Characters that start markdown syntax or an HTML tag anywhere in a line. */
const INLINE = /[\\`*_~[\]<>&|]/g;
/** Characters that start a block (heading, list, quote, rule) only at the start of a line. */
const LINE_START = /^([ \t]*)([#+=-]|\d+[.)](?=\s|$))/gm;

function reference(ch: string): string {
  switch (ch) {
    case '&':
      return '&amp;';
    case '<':
      return '&lt;';
    case '>':
      return '&gt;';
    default:
      return `&#${ch.charCodeAt(0)};`;
  }
}

/** `text` as Adaptive Card markdown that shows exactly `text`: no links, emphasis, lists or tags. */
export function escapeCardMarkdown(text: string): string {
  return text
    .replace(INLINE, reference)
    .replace(LINE_START, (_all, indent: string, marker: string) => `${indent}${marker.replace(/[#+=\-.)]/g, reference)}`);
}

/**
 * `text` escaped except for the bot's own markup in `keep` (a Teams `<at>Name</at>` mention), which
 * passes through exactly once, where it occurs.
 */
export function escapeCardMarkdownExcept(text: string, keep: readonly string[]): string {
  const kept = keep.filter((k) => k !== '');
  if (kept.length === 0) return escapeCardMarkdown(text);
  for (const k of kept) {
    const at = text.indexOf(k);
    if (at >= 0) return escapeCardMarkdownExcept(text.slice(0, at), kept) + k + escapeCardMarkdownExcept(text.slice(at + k.length), kept);
  }
  return escapeCardMarkdown(text);
}

/**
 * Escape every markdown-bearing string of an expanded card in place: TextBlock `text` and each fact's
 * `title` and `value`. Inputs, choices and button titles are plain text on every host and stay as they
 * are (an escaped input value would be submitted escaped).
 */
export function escapeCardText(card: AdaptiveCardJson, opts: { keep?: readonly string[] } = {}): AdaptiveCardJson {
  const keep = opts.keep ?? [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const el = node as Record<string, unknown>;
    if (el.type === 'TextBlock' && typeof el.text === 'string') el.text = escapeCardMarkdownExcept(el.text, keep);
    if (el.type === 'FactSet' && Array.isArray(el.facts)) {
      for (const fact of el.facts as Array<Record<string, unknown>>) {
        if (typeof fact.title === 'string') fact.title = escapeCardMarkdown(fact.title);
        if (typeof fact.value === 'string') fact.value = escapeCardMarkdown(fact.value);
      }
    }
    for (const [key, value] of Object.entries(el)) if (key !== 'facts' && typeof value === 'object') visit(value);
  };
  visit(card.body);
  return card;
}
