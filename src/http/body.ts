// Reading request bodies ourselves, for every route that takes one: the media type is checked before
// a byte is read, the size is bounded before anything is parsed, and nothing is ever written to disk
// (restify's bodyParser hands multipart uploads to formidable, which stores them in the temp directory
// before any route could check who is sending).
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The largest body any route takes; the server refuses a larger declared Content-Length up front. */
export const MAX_ANY_BODY_BYTES = 1024 * 1024;

/** A request whose body we refuse, with the status and the one-line reason the caller gets. */
export class HttpBodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpBodyError';
  }
}

/** `application/json; charset=utf-8` → `application/json`; '' when absent. */
export function mediaTypeOf(req: IncomingMessage): string {
  return String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

export interface ReadBodyOptions {
  /** Media types accepted (lower case, without parameters); anything else is 415 before reading. */
  accept: readonly string[];
  maxBytes: number;
}

function sizeText(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / (1024 * 1024)} MiB` : `${bytes / 1024} KiB`;
}

/**
 * The raw body, after checking its media type and declared size, read up to `maxBytes` and not one
 * chunk more: a larger body ends the read at once (413), and the connection is closed after the
 * answer so the sender cannot keep streaming into it.
 */
export async function readBody(req: IncomingMessage, opts: ReadBodyOptions): Promise<Buffer> {
  const type = mediaTypeOf(req);
  if (!opts.accept.includes(type)) {
    throw new HttpBodyError(415, `send ${opts.accept.join(' or ')} (Content-Type was ${type === '' ? 'missing' : JSON.stringify(type.slice(0, 60))})`);
  }
  const encoding = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  // A compressed body could expand far past any limit once inflated; no client of ours compresses.
  if (encoding !== 'identity' && encoding !== '') throw new HttpBodyError(415, 'compressed bodies are not accepted');
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > opts.maxBytes) throw new HttpBodyError(413, `the body is larger than ${sizeText(opts.maxBytes)}`);

  const already = (req as IncomingMessage & { rawBody?: unknown }).rawBody;
  if (Buffer.isBuffer(already)) return already;
  if (req.readableEnded) return Buffer.alloc(0);

  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      fn();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > opts.maxBytes) {
        settle(() => reject(new HttpBodyError(413, `the body is larger than ${sizeText(opts.maxBytes)}`)));
        // Stop reading; the answer goes out with Connection: close (see sendBodyError).
        req.pause();
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => settle(() => resolve(Buffer.concat(chunks, size)));
    const onError = (err: Error) => settle(() => reject(new HttpBodyError(400, `the body could not be read (${err.message})`)));
    const onAborted = () => settle(() => reject(new HttpBodyError(400, 'the sender gave up before the body was complete')));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

/** Parse JSON, as a 400 with a short message when it is not. */
export function parseJson(raw: Buffer | string): unknown {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpBodyError(400, 'the body is not valid JSON');
  }
}

/**
 * A JSON error answer written on the raw response. A refused body may still be arriving, so the
 * connection closes after the answer rather than read the rest of it.
 */
export function sendBodyError(res: ServerResponse, err: HttpBodyError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify({ error: err.message });
  res.writeHead(err.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...(closeAfter(res, err) ? { connection: 'close' } : {}),
  });
  res.end(text);
}

/**
 * After a refusal the rest of the body is either read and dropped (Node does that once the answer is
 * sent) or the connection is closed. Dropping is bounded only for a body whose declared length is
 * within what any route takes (the server refuses a larger one before routing); a sender still
 * writing into a closed connection sees EPIPE instead of the answer, so such a body is dropped, not
 * cut off. A body of no declared length is cut off.
 */
function closeAfter(res: ServerResponse, err: HttpBodyError): boolean {
  if (err.status !== 413 && err.status !== 415) return false;
  const declared = Number(res.req?.headers['content-length']);
  return !(Number.isFinite(declared) && declared <= MAX_ANY_BODY_BYTES);
}
