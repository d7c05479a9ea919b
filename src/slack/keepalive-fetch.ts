// The HTTP client every Slack call goes through: Node's own, on kept-alive connections. It has two
// faces: a fetch for the WebClient (and Bolt's `respond`), answering with a standard Response, and a
// plain request for the calls web.ts sends as JSON itself (the whole answer, as bytes).
//
// Why not the global fetch: every card, copy, redraw and thread reply is a Web API call, and under load
// the global fetch cost about three times as much CPU per call as this (a microbenchmark against a
// loopback server: ~360 against ~100 µs per call). It builds WHATWG streams for both bodies, records
// a performance entry per request, and parses HTTP with undici's WASM parser, which this process runs
// unoptimized (PGlite's --liftoff-only, src/store/pglite.ts). node:http parses natively.
//
// Redirects are not followed: the WebClient asks for `redirect: 'error'` (refused here as fetch
// would), and `respond` treats any answer but 2xx as a failure.
//
// Only what the WebClient and `respond` send takes this path: a string or byte body, or none. Anything
// else (a FormData upload) goes to the global fetch unchanged.
import http from 'node:http';
// https (with tls) and zlib are loaded on first use: a bot talking to a loopback Slack never needs
// them, and every bot starts faster without them.
import type * as Https from 'node:https';
import type * as Zlib from 'node:zlib';

export interface KeepAliveFetchOptions {
  /** Sockets per host, as the WebClient's own request queue allows (100 by default). */
  maxSockets?: number;
}

export interface PlainRequest {
  method: string;
  headers: Record<string, string>;
  body?: Uint8Array;
  signal?: AbortSignal;
  /** Fail on a 3xx answer instead of handing it back (fetch's `redirect: 'error'`). */
  refuseRedirects?: boolean;
}

/** A whole answer: status, headers, and the body decoded when the server compressed it unasked. */
export interface PlainAnswer {
  status: number;
  statusText: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface KeepAliveClient {
  /**
   * One request. Rejects as fetch does: a TypeError when the server cannot be reached (or a redirect
   * is refused), and the signal's reason when it aborts.
   */
  request(url: URL, req: PlainRequest): Promise<PlainAnswer>;
  fetch: typeof fetch;
}

/** Statuses a Response may not carry a body with. */
const NULL_BODY = new Set([101, 204, 205, 304]);

/** The body as fetch would give it: decoded when the server compressed it unasked. */
function decoded(body: Buffer, encoding: string | undefined): Buffer {
  const how = (encoding ?? '').trim().toLowerCase();
  if (how === '' || how === 'identity') return body;
  const zlib = require('node:zlib') as typeof Zlib;
  switch (how) {
    case 'gzip':
    case 'x-gzip':
      return zlib.gunzipSync(body);
    case 'deflate':
      return zlib.inflateSync(body);
    case 'br':
      return zlib.brotliDecompressSync(body);
    default:
      return body;
  }
}

export function keepAliveClient(opts: KeepAliveFetchOptions = {}): KeepAliveClient {
  const agentOptions = { keepAlive: true, maxSockets: opts.maxSockets ?? 100, scheduling: 'lifo' as const };
  const httpAgent = new http.Agent(agentOptions);
  let secure: { module: typeof Https; agent: Https.Agent } | null = null;
  const client = (protocol: string): { request: typeof http.request; agent: http.Agent } => {
    if (protocol === 'http:') return { request: http.request, agent: httpAgent };
    if (!secure) {
      const module = require('node:https') as typeof Https;
      secure = { module, agent: new module.Agent(agentOptions) };
    }
    return { request: secure.module.request, agent: secure.agent };
  };

  const request = (url: URL, plain: PlainRequest): Promise<PlainAnswer> => {
    const { signal } = plain;
    signal?.throwIfAborted();
    const headers = plain.body ? { ...plain.headers, 'content-length': String(plain.body.byteLength) } : plain.headers;
    return new Promise<PlainAnswer>((resolveOuter, rejectOuter) => {
      // The abort listener is removed the moment the call settles: the caller's signal is often an
      // AbortSignal.timeout (the WebClient's), which lives for its whole timeout, and a listener left
      // on it would keep the request and its answer alive that long.
      const onAbort = (): void => {
        req.destroy();
        rejectOuter(signal!.reason);
      };
      const settle = (): void => signal?.removeEventListener('abort', onAbort);
      const resolve = (a: PlainAnswer): void => {
        settle();
        resolveOuter(a);
      };
      const reject = (err: unknown): void => {
        settle();
        rejectOuter(err);
      };
      const { request: send, agent } = client(url.protocol);
      const req = send(url, { method: plain.method, headers, agent }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && plain.refuseRedirects) {
          res.resume();
          reject(new TypeError(`fetch failed: redirect to ${res.headers.location ?? '(no location)'} refused`));
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          try {
            resolve({ status, statusText: res.statusMessage ?? '', headers: res.headers, body: decoded(Buffer.concat(chunks), res.headers['content-encoding']) });
          } catch (err) {
            reject(new TypeError('fetch failed: the answer could not be decoded', { cause: err }));
          }
        });
      });
      // fetch rejects with TypeError for network failures and with the signal's reason when aborted.
      req.on('error', (err) => reject(signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause: err })));
      signal?.addEventListener('abort', onAbort, { once: true });
      req.end(plain.body);
    });
  };

  const fetchLike = async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const url = input instanceof URL ? input : typeof input === 'string' ? new URL(input) : null;
    const body = init?.body;
    const plainBody = body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
    if (!url || !plainBody || (url.protocol !== 'http:' && url.protocol !== 'https:')) return fetch(input, init);
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, name) => {
      headers[name] = value;
    });
    const answer = await request(url, {
      method: init?.method ?? 'GET',
      headers,
      ...(body === undefined || body === null ? {} : { body: typeof body === 'string' ? Buffer.from(body) : body }),
      ...(init?.signal ? { signal: init.signal } : {}),
      refuseRedirects: init?.redirect === 'error',
    });
    const answerHeaders = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) answerHeaders.append(name, v);
    }
    try {
      return new Response(NULL_BODY.has(answer.status) ? null : (answer.body as Uint8Array<ArrayBuffer>), { status: answer.status, statusText: answer.statusText, headers: answerHeaders });
    } catch (err) {
      // A status Response refuses (1xx, or outside 200–599): what fetch reports as a network error.
      throw new TypeError(`fetch failed: HTTP ${answer.status}`, { cause: err });
    }
  };
  return { request, fetch: fetchLike as typeof fetch };
}

/** The fetch face alone. */
export function keepAliveFetch(opts: KeepAliveFetchOptions = {}): typeof fetch {
  return keepAliveClient(opts).fetch;
}
