// The `from me` page: the one route a stranger's browser (or a chat app's link previewer) reaches
// with nothing but a link. GET shows what will be requested and one button, and records nothing;
// the button's form POST carries the page's one-time token and records the address it came from.
// Every answer is a small, escaped HTML page with a strict CSP; no input can crash the route.
import type * as restify from 'restify';
import type { AddressOutcome, AddressPage } from '../app/address';
import type { Logger } from '../app/logger';
import type { RequestView } from '../core/views';
import { clientAddress } from './client-address';
import { escapeHtml, htmlPage, messagePage, sendPage } from './page';

export const FROM_ME_PATH = '/from-me';
/** A token is 32 characters; a form with it is well under this. */
const MAX_BODY_BYTES = 2_048;
const MAX_TOKEN_CHARS = 128;
const BODY_TIMEOUT_MS = 10_000;

export interface FromMeApi {
  addressPage(requestId: string, token: string): Promise<AddressPage>;
  captureAddress(requestId: string, token: string, address: string): Promise<AddressOutcome>;
}

export interface FromMeOptions {
  api: FromMeApi;
  trustedProxies: readonly string[];
  logger: Logger;
}

/** The link sent to the requester. */
export function fromMeUrl(baseUrl: string, requestId: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, '')}${FROM_ME_PATH}/${encodeURIComponent(requestId)}?t=${encodeURIComponent(token)}`;
}

function summary(view: RequestView): string {
  const rows: Array<[string, string]> = [
    ['Request', view.id],
    ['For', view.requester.name],
    ['Ports', view.ports.join(', ')],
    ['VMs', view.vms.join(', ')],
    ['Duration', view.duration],
  ];
  if (view.reason) rows.push(['Reason', view.reason]);
  return `<dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
}


function requestIdOf(req: restify.Request): string {
  const id = (req.params as Record<string, unknown> | undefined)?.id;
  return typeof id === 'string' && /^[A-Za-z0-9]{1,16}$/.test(id) ? id.toUpperCase() : '';
}

function tokenOk(token: string | null | undefined): token is string {
  return typeof token === 'string' && token.length > 0 && token.length <= MAX_TOKEN_CHARS && /^[\w-]+$/.test(token);
}

/**
 * The form body, at most MAX_BODY_BYTES. A body parser mounted before this route may already have
 * read it; otherwise the stream is read here, and a larger or slower body is refused.
 */
async function formBody(req: restify.Request): Promise<URLSearchParams | 'too-large'> {
  const parsed = (req as unknown as { body?: unknown }).body;
  if (typeof parsed === 'string') return parsed.length > MAX_BODY_BYTES ? 'too-large' : new URLSearchParams(parsed);
  if (Buffer.isBuffer(parsed)) return parsed.length > MAX_BODY_BYTES ? 'too-large' : new URLSearchParams(parsed.toString('utf8'));
  if (parsed && typeof parsed === 'object') {
    const t = (parsed as Record<string, unknown>).t;
    return new URLSearchParams(typeof t === 'string' ? { t } : {});
  }
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > MAX_BODY_BYTES) return 'too-large';
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => finish(() => reject(new Error('the form body did not arrive in time'))), BODY_TIMEOUT_MS);
    let done = false;
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      f();
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        finish(() => resolve('too-large'));
        req.pause();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => finish(() => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8')))));
    req.on('error', (err) => finish(() => reject(err)));
  });
}

export function mountFromMe(opts: FromMeOptions) {
  const guarded =
    (what: string, handler: (req: restify.Request, res: restify.Response) => Promise<void>) =>
    async (req: restify.Request, res: restify.Response): Promise<void> => {
      try {
        await handler(req, res);
      } catch (err) {
        opts.logger.warn({ err: err instanceof Error ? err.message : String(err), route: what }, 'from-me page failed');
        if (!res.headersSent) sendPage(res, 500, messagePage('Something went wrong', 'Nothing was recorded. Try the link again in a minute.', false));
      }
    };

  return (server: restify.Server): void => {
    server.get(`${FROM_ME_PATH}/:id`, guarded('from-me GET', async (req, res) => {
      const id = requestIdOf(req);
      const token = new URL(req.url ?? '/', 'http://local').searchParams.get('t');
      if (!id || !tokenOk(token)) {
        sendPage(res, 404, messagePage('Link not valid', 'This link is not valid. Links work once and for 10 minutes; ask again with /jit … from me.', false));
        return;
      }
      const p = await opts.api.addressPage(id, token);
      if (!p.ok) {
        sendPage(res, 404, messagePage('Link not valid', p.message, false));
        return;
      }
      const body =
        `<h1>Record your address for ${escapeHtml(p.view.id)}</h1>` +
        `<p>Open this page on the machine you will connect from. The button records the address this browser comes from, and the request goes on with that one address.</p>` +
        summary(p.view) +
        `<form method="post" action="${escapeHtml(`${FROM_ME_PATH}/${encodeURIComponent(p.view.id)}`)}">` +
        `<input type="hidden" name="t" value="${escapeHtml(token)}">` +
        `<button type="submit">Use my address for ${escapeHtml(p.view.id)}</button></form>` +
        `<p><small>The link works once and lapses at ${escapeHtml(p.expiresAt.toISOString().slice(11, 16))} UTC.</small></p>`;
      sendPage(res, 200, htmlPage(`Record your address for ${p.view.id}`, body), { formsToSelf: true });
    }));

    server.post(`${FROM_ME_PATH}/:id`, guarded('from-me POST', async (req, res) => {
      const id = requestIdOf(req);
      const form = await formBody(req);
      if (form === 'too-large') {
        sendPage(res, 413, messagePage('Too large', 'That form is larger than this page ever sends; nothing was recorded.', false));
        return;
      }
      const token = form.get('t');
      if (!id || !tokenOk(token)) {
        sendPage(res, 404, messagePage('Link not valid', 'This link is not valid. Links work once and for 10 minutes; ask again with /jit … from me.', false));
        return;
      }
      const address = clientAddress(req.socket?.remoteAddress, req.headers['x-forwarded-for'], opts.trustedProxies);
      if (address === null) {
        sendPage(res, 400, messagePage('Address unknown', 'jitbot could not read the address you came from; nothing was recorded. Ask with an explicit from <address> instead.', false));
        return;
      }
      const outcome = await opts.api.captureAddress(id, token, address);
      sendPage(res, outcome.ok ? 200 : outcome.view ? 403 : 404, messagePage(outcome.ok ? 'Address recorded' : 'Not recorded', outcome.message, outcome.ok));
    }));
  };
}
