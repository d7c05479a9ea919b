// The two browser routes of a step-up approval: the one-time link (`/step-up/<token>`), which sends the
// approver to the sign-in provider, and the provider's redirect back (`/step-up/callback`). Strangers
// can reach both, so each answers from what it was given and nothing else, and never throws.
import type * as restify from 'restify';
import type { StepUpPage } from '../app/step-up';
import type { Logger } from '../app/logger';

export interface StepUpRoutesOptions {
  begin(token: string): Promise<StepUpPage>;
  finish(query: URLSearchParams): Promise<StepUpPage>;
  logger: Logger;
}

const HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  // The link's token must not leak to the provider (or anyone) through Referer.
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function stepUpHtml(p: Extract<StepUpPage, { kind: 'page' }>): string {
  const color = p.ok ? '#1a7f37' : '#b42318';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>jitbot: ${escapeHtml(p.title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1f2328;background:#fff}
h1{font-size:1.4rem;color:${color}}@media (prefers-color-scheme: dark){body{color:#e6edf3;background:#0d1117}}</style></head>
<body><h1>${escapeHtml(p.title)}</h1><p>${escapeHtml(p.message)}</p><p>You can close this page and go back to the chat.</p></body></html>`;
}

function send(res: restify.Response, p: StepUpPage): void {
  if (p.kind === 'redirect') {
    res.writeHead(302, { location: p.url, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
    res.end();
    return;
  }
  res.writeHead(p.status, HEADERS);
  res.end(stepUpHtml(p));
}

const SORRY: StepUpPage = { kind: 'page', status: 500, ok: false, title: 'Something went wrong on our side', message: 'Nothing was approved. Try the link again in a minute.' };

export function mountStepUp(o: StepUpRoutesOptions) {
  return (server: restify.Server): void => {
    server.get('/step-up/callback', async (req: restify.Request, res: restify.Response) => {
      try {
        const query = new URL(req.url ?? '/', 'http://local').searchParams;
        send(res, await o.finish(query));
      } catch (err) {
        o.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'step-up callback failed');
        send(res, SORRY);
      }
    });
    server.get('/step-up/:token', async (req: restify.Request, res: restify.Response) => {
      try {
        const token = String((req.params as Record<string, unknown>).token ?? '');
        send(res, await o.begin(token));
      } catch (err) {
        o.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'step-up link failed');
        send(res, SORRY);
      }
    });
  };
}
