// Small HTTP helpers for the console's routes. The console reads its own bodies because the server
// must not put a body parser in front of Slack's route (Slack's signature covers the raw bytes).
import type { Request, Response } from 'restify';

const MAX_BODY_BYTES = 64 * 1024;

export class HttpBodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpBodyError';
  }
}

/**
 * The request's JSON body. Only `application/json` is accepted: a browser cannot send that
 * content type across origins without a CORS preflight, which the console never grants, so another
 * web page cannot drive the console (or the clock) through the visitor's browser.
 */
export async function readJsonBody(req: Request): Promise<unknown> {
  const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new HttpBodyError(415, 'send a JSON body with Content-Type: application/json');

  const parsed = (req as Request & { body?: unknown }).body;
  if (parsed !== undefined && parsed !== null && !Buffer.isBuffer(parsed) && typeof parsed !== 'string') return parsed;
  const raw = Buffer.isBuffer(parsed) || typeof parsed === 'string' ? String(parsed) : await readRaw(req);
  if (raw.trim() === '') return null;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new HttpBodyError(400, 'the body is not valid JSON');
  }
}

function readRaw(req: Request): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpBodyError(413, `the body is larger than ${MAX_BODY_BYTES / 1024} KiB`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
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
