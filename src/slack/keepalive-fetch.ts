// The fetch the Slack WebClient (and Bolt's `respond`) call through: Node's own HTTP client on
// kept-alive connections, answering with a standard Response.
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

export function keepAliveFetch(opts: KeepAliveFetchOptions = {}): typeof fetch {
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

  return async (input, init) => {
    const url = input instanceof URL ? input : typeof input === 'string' ? new URL(input) : null;
    const body = init?.body;
    const plainBody = body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
    if (!url || !plainBody || (url.protocol !== 'http:' && url.protocol !== 'https:')) return fetch(input, init);
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, name) => {
      headers[name] = value;
    });
    const payload = body === undefined || body === null ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    if (payload) headers['content-length'] = String(payload.byteLength);
    const signal = init?.signal ?? undefined;
    signal?.throwIfAborted();

    return new Promise<Response>((resolveOuter, rejectOuter) => {
      // The abort listener is removed the moment the call settles: the caller's signal is often an
      // AbortSignal.timeout (the WebClient's), which lives for its whole timeout, and a listener left
      // on it would keep the request and its answer alive that long.
      const onAbort = (): void => {
        req.destroy();
        rejectOuter(signal!.reason);
      };
      const settle = (): void => signal?.removeEventListener('abort', onAbort);
      const resolve = (r: Response): void => {
        settle();
        resolveOuter(r);
      };
      const reject = (err: unknown): void => {
        settle();
        rejectOuter(err);
      };
      const { request, agent } = client(url.protocol);
      const req = request(url, { method: init?.method ?? 'GET', headers, agent }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && init?.redirect === 'error') {
          res.resume();
          reject(new TypeError(`fetch failed: redirect to ${res.headers.location ?? '(no location)'} refused`));
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const answerHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (value === undefined) continue;
            for (const v of Array.isArray(value) ? value : [value]) answerHeaders.append(name, v);
          }
          try {
            const bytes = decoded(Buffer.concat(chunks), res.headers['content-encoding']);
            resolve(new Response(NULL_BODY.has(status) ? null : (bytes as Uint8Array<ArrayBuffer>), { status, statusText: res.statusMessage ?? '', headers: answerHeaders }));
          } catch (err) {
            // A status Response refuses (1xx, or outside 200–599): what fetch reports as a network error.
            reject(new TypeError(`fetch failed: HTTP ${status}`, { cause: err }));
          }
        });
      });
      // fetch rejects with TypeError for network failures and with the signal's reason when aborted.
      req.on('error', (err) => reject(signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause: err })));
      signal?.addEventListener('abort', onAbort, { once: true });
      req.end(payload);
    });
  };
}
