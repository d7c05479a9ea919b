// Small HTTP helpers for the console's routes. The console reads its own bodies because the server
// must not put a body parser in front of Slack's route (Slack's signature covers the raw bytes).
import type { Request, Response } from 'restify';
import { HttpBodyError, mediaTypeOf, parseJson, readBody } from '../http/body';

const MAX_BODY_BYTES = 64 * 1024;

export { HttpBodyError };

/**
 * The request's JSON body. Only `application/json` is accepted: a browser cannot send that
 * content type across origins without a CORS preflight, which the console never grants, so another
 * web page cannot drive the console (or the clock) through the visitor's browser.
 */
export async function readJsonBody(req: Request): Promise<unknown> {
  if (mediaTypeOf(req) !== 'application/json') throw new HttpBodyError(415, 'send a JSON body with Content-Type: application/json');
  return parseJson(await readBody(req, { accept: ['application/json'], maxBytes: MAX_BODY_BYTES }));
}

export function sendJson(res: Response, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
}

export function sendBytes(res: Response, contentType: string, body: Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(200, {
    'content-type': contentType,
    'content-length': body.length,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

/** The query string of a restify request without relying on the queryParser plugin. */
export function queryOf(req: Request): URLSearchParams {
  return new URL(req.url ?? '/', 'http://console.local').searchParams;
}
