// The bot's few HTML pages (the "from me" confirmation, the step-up sign-in outcome): one shell, one
// escape, one set of headers. They open from links in chat, so nothing on them runs script, they are
// never framed or cached, and the token in their URL never leaves in a Referer.
import type * as restify from 'restify';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f;background:#fff}
h1{font-size:1.3rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{color:#555}dd{margin:0;overflow-wrap:anywhere}
button{font:inherit;padding:.6rem 1.2rem;border:0;border-radius:.4rem;background:#0b62d6;color:#fff;cursor:pointer}
.ok{border-left:4px solid #1a7f37;padding-left:.8rem}.refused{border-left:4px solid #c62828;padding-left:.8rem}
@media (prefers-color-scheme:dark){body{background:#16181d;color:#e8e8ea}dt{color:#aaa}button{background:#3b82f6}}`;

/** A whole page around `body` (already HTML); the title is escaped here. */
export function htmlPage(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)} · jitbot</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

/** A page that only says how something ended. */
export function messagePage(title: string, text: string, ok: boolean): string {
  return htmlPage(title, `<h1>${escapeHtml(title)}</h1><p class="${ok ? 'ok' : 'refused'}">${escapeHtml(text)}</p><p>You can close this page and go back to the chat.</p>`);
}

export interface SendPageOptions {
  /** Whether the page's own form may post back here (the "from me" button); otherwise no form at all. */
  formsToSelf?: boolean;
}

export function sendPage(res: restify.Response, status: number, html: string, opts: SendPageOptions = {}): void {
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.setHeader('content-security-policy', `default-src 'none'; style-src 'unsafe-inline'; form-action ${opts.formsToSelf ? "'self'" : "'none'"}; frame-ancestors 'none'; base-uri 'none'`);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('cache-control', 'no-store');
  res.writeHead(status);
  res.end(html);
}
