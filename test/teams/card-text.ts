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
    .replace(/<br\s*\/?>\n?/g, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&(amp|lt|gt|quot|#39);/g, (_all, name: string) => ENTITIES[name])
    .trim();
  return { text: shown, html, links };
}

/** Every markdown string of a card as sent, in order: each TextBlock, and each fact as title and value. */
export function cardMarkdown(card: unknown): Array<{ text: string } | { title: string; value: string }> {
  const out: Array<{ text: string } | { title: string; value: string }> = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== 'object') return;
    const el = node as Record<string, unknown>;
    if (el.type === 'TextBlock' && typeof el.text === 'string') out.push({ text: el.text });
    if (el.type === 'FactSet' && Array.isArray(el.facts)) for (const f of el.facts as Array<{ title: string; value: string }>) out.push({ title: f.title, value: f.value });
    for (const [k, v] of Object.entries(el)) if (k !== 'facts' && typeof v === 'object') walk(v);
  };
  walk((card as { body?: unknown }).body);
  return out;
}

/** Every drawn text of a card, in order, one entry per TextBlock or fact (`title: value`). */
export function cardTexts(card: unknown): string[] {
  return cardMarkdown(card).map((m) => ('text' in m ? drawMarkdown(m.text).text : `${drawMarkdown(m.title).text}: ${drawMarkdown(m.value).text}`));
}

/** The HTML markdown-it makes of every text of the card. */
export function cardHtml(card: unknown): string[] {
  return cardMarkdown(card).flatMap((m) => ('text' in m ? [drawMarkdown(m.text).html] : [drawMarkdown(m.title).html, drawMarkdown(m.value).html]));
}

/** Every link markdown would draw anywhere on the card. */
export function cardLinks(card: unknown): string[] {
  return cardHtml(card).flatMap((html) => [...html.matchAll(/<a\s[^>]*href="([^"]*)"/g)].map((m) => m[1]));
}
