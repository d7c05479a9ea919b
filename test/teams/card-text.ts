// What a person reads on an Adaptive Card: every TextBlock and fact drawn through markdown-it with the
// options the console gives it (src/console/public/app.js), which follow Teams: no raw HTML, no
// automatic links, a newline is a line break. Tests assert on this, not on the JSON's escaping.
import MarkdownIt from 'markdown-it';

const md = new MarkdownIt({ html: false, linkify: false, breaks: true });

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" };

/** Markdown to the text it shows, and the links it would draw. */
export function drawMarkdown(text: string): { text: string; html: string; links: string[] } {
  const html = md.render(text);
  const links = [...html.matchAll(/<a\s[^>]*href="([^"]*)"/g)].map((m) => m[1]);
  const shown = html
    .replace(/<br\s*\/?>/g, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&(amp|lt|gt|quot|#39);/g, (_all, name: string) => ENTITIES[name])
    .trim();
  return { text: shown, html, links };
}

/** Every drawn text of a card, in order, one entry per TextBlock or fact (`title: value`). */
export function cardTexts(card: unknown): string[] {
  const out: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== 'object') return;
    const el = node as Record<string, unknown>;
    if (el.type === 'TextBlock' && typeof el.text === 'string') out.push(drawMarkdown(el.text).text);
    if (el.type === 'FactSet' && Array.isArray(el.facts)) {
      for (const f of el.facts as Array<{ title: string; value: string }>) out.push(`${drawMarkdown(f.title).text}: ${drawMarkdown(f.value).text}`);
    }
    for (const [k, v] of Object.entries(el)) if (k !== 'facts' && typeof v === 'object') walk(v);
  };
  walk((card as { body?: unknown }).body);
  return out;
}

/** Every link markdown would draw anywhere on the card. */
export function cardLinks(card: unknown): string[] {
  const out: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== 'object') return;
    const el = node as Record<string, unknown>;
    if (el.type === 'TextBlock' && typeof el.text === 'string') out.push(...drawMarkdown(el.text).links);
    if (el.type === 'FactSet' && Array.isArray(el.facts)) {
      for (const f of el.facts as Array<{ title: string; value: string }>) out.push(...drawMarkdown(f.title).links, ...drawMarkdown(f.value).links);
    }
    for (const [k, v] of Object.entries(el)) if (k !== 'facts' && typeof v === 'object') walk(v);
  };
  walk((card as { body?: unknown }).body);
  return out;
}
