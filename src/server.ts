// The bot's one HTTP server: /slack/events, /api/messages, the console, and the operator endpoints.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import * as restify from 'restify';
import type { Registry } from 'prom-client';
import { errorFields, runWithLogContext, type Logger } from './app/logger';
import { MAX_ANY_BODY_BYTES } from './http/body';

export type Mount = (server: restify.Server) => void;

/**
 * One named part of /readyz. A required part that fails makes the answer 503 (the load balancer stops
 * sending work); an optional one is reported with its details and leaves the replica ready.
 */
export interface ReadinessCheck {
  name: string;
  /** Default true. */
  required?: boolean;
  /** Resolves with details to show (or nothing); throws, or resolves `{ ok: false }`, when the part is down. */
  check: () => Promise<ReadinessResult | void>;
}

export interface ReadinessResult {
  ok: boolean;
  details?: Record<string, unknown>;
  /** Why the part is down, in one line. */
  error?: string;
}

export interface HttpServerOptions {
  logger: Logger;
  mounts: Mount[];
  readiness?: ReadinessCheck[];
  registry?: Registry;
  /** Per readiness check. */
  readinessTimeoutInMs?: number;
  /** Told of every request served (metrics), with the route as registered. */
  observeRequest?: RequestObserver;
  /**
   * Facts /readyz reports without failing on them (the Defender plan: JIT may be unavailable while
   * the bot itself is ready to answer). Each provider never throws.
   */
  readinessDetails?: ReadinessDetail[];
}

export interface ReadinessDetail {
  name: string;
  read(): Promise<unknown>;
}

/** `route` is the path the route was registered with (`/api/requests/:id`), or `unmatched`. */
export type RequestObserver = (method: string, route: string, status: number, seconds: number) => void;

export interface HttpServer {
  server: restify.Server;
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
  /** Stop answering ready (draining before shutdown) while /healthz stays up. */
  setDraining(): void;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The per-request child logger (request id on every line) set by the server, for handlers. */
export function requestLogger(req: restify.Request, fallback: Logger): Logger {
  return (req as unknown as { jitLog?: Logger }).jitLog ?? fallback;
}

const LOG_FIELDS = Symbol('jitbot.logFields');
type RequestWithContext = { [LOG_FIELDS]?: Record<string, unknown> };

function fieldsOf(req: restify.Request): Record<string, unknown> {
  return (req as unknown as RequestWithContext)[LOG_FIELDS] ?? {};
}

type AnyHandler = (...args: unknown[]) => unknown;

const GENERIC_FAILURE = 'Something went wrong in jitbot; the server log has the details.';

/**
 * The last line of a route's defence: whatever a handler throws or rejects with is logged and
 * answered here, so no request can reach the process-level handlers. The answer is a generic 500
 * (or, once the response has started, a cut connection); never the error's own text.
 */
function containFailure(err: unknown, req: restify.Request, res: restify.Response, fallback: Logger): void {
  requestLogger(req, fallback).error({ ...errorFields(err), method: req.method, path: pathOf(req) }, 'request handler failed');
  if (res.headersSent || res.writableEnded) {
    if (!res.writableEnded) res.destroy();
    return;
  }
  const text = JSON.stringify({ error: GENERIC_FAILURE });
  res.writeHead(500, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * restify resumes a route's chain from stream events (a body parser's `end`), where the async
 * context of the request is lost; so every handler of every route is entered in it again, and every
 * handler's own failures stay with its request (containFailure). restify tells async handlers (two
 * parameters) from callback ones (three) by arity and kind, so the wrapper keeps both.
 */
function routeHandlersContained(server: restify.Server, log: Logger): void {
  const wrap = (h: unknown): unknown => {
    if (Array.isArray(h)) return h.map(wrap);
    if (typeof h !== 'function') return h;
    const handler = h as AnyHandler & { _name?: string };
    const wrapped: AnyHandler & { _name?: string } =
      handler.length <= 2
        ? async (req: unknown, res: unknown) => {
            const rq = req as restify.Request;
            try {
              await runWithLogContext(fieldsOf(rq), () => handler(req, res));
            } catch (err) {
              containFailure(err, rq, res as restify.Response, log);
            }
          }
        : handler.length === 3
          ? function (req: unknown, res: unknown, next: unknown) {
              const rq = req as restify.Request;
              try {
                return runWithLogContext(fieldsOf(rq), () => handler(req, res, next));
              } catch (err) {
                containFailure(err, rq, res as restify.Response, log);
                return (next as (v: boolean) => void)(false);
              }
            }
          : function (err: unknown, req: unknown, res: unknown, next: unknown) {
              return runWithLogContext(fieldsOf(req as restify.Request), () => handler(err, req, res, next));
            };
    // restify names handlers in its timings and errors after the function.
    wrapped._name = handler._name ?? handler.name;
    return wrapped;
  };
  const routable = server as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of ['get', 'head', 'post', 'put', 'patch', 'del', 'opts']) {
    const register = routable[method].bind(server);
    routable[method] = (...args: unknown[]) => register(...args.map(wrap));
  }
}

/** The path as sent, before any decoding or normalising (`/slack/%65vents` stays as it is). */
function pathOf(req: { url?: string }): string {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/**
 * Every route of ours is plain: `/` or segments of letters, digits, `.`, `_` and `-`. restify's
 * router forgives more than that (`;x` after a path, percent-encoded letters, a trailing slash), and
 * a handler that trusted the path it was routed by would then see another; so anything else is 404
 * before routing.
 */
const PLAIN_PATH = /^\/(?:[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*)?$/;

export function isPlainPath(path: string): boolean {
  return PLAIN_PATH.test(path);
}

function refuse(res: ServerResponse, status: number, message: string, close = false): void {
  const text = JSON.stringify({ error: message });
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(text);
}

const STARTED = Symbol('jitbot.startedAt');

/**
 * Times every request from its first handler to restify's `after`. The label is the registered route,
 * never the raw URL: a scanner trying a million paths must not make a million time series.
 */
function measureRequests(server: restify.Server, observe: RequestObserver): void {
  server.pre((req, _res, next) => {
    (req as unknown as { [STARTED]?: number })[STARTED] = performance.now();
    return next();
  });
  server.on('after', (req: restify.Request, res: restify.Response, route?: restify.Route) => {
    const started = (req as unknown as { [STARTED]?: number })[STARTED];
    if (started === undefined) return;
    const path = route?.spec?.path ?? route?.path;
    observe(req.method ?? 'UNKNOWN', path === undefined ? 'unmatched' : String(path), res.statusCode, (performance.now() - started) / 1000);
  });
}

export function createHttpServer(opts: HttpServerOptions): HttpServer {
  const server = restify.createServer({ name: 'jitbot', handleUncaughtExceptions: false });
  let draining = false;

  // A request id on every log line about a request; the id is also returned to the caller. Handlers
  // get a child logger (requestLogger), and every route handler runs inside the request's log
  // context, so lines written by adapters and use cases (whose loggers were made at start-up) carry
  // it too.
  server.pre((req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && /^[\w-]{1,64}$/.test(incoming) ? incoming : randomUUID();
    // restify's own error path calls req.log (bunyan-shaped), so ours lives beside it.
    (req as unknown as { jitLog: Logger }).jitLog = opts.logger.child({ reqId: id });
    (req as unknown as RequestWithContext)[LOG_FIELDS] = { reqId: id };
    res.setHeader('x-request-id', id);
    return runWithLogContext({ reqId: id }, () => next());
  });
  // Before routing: an exact path, and no declared body larger than the largest any route takes.
  server.pre((req, res, next) => {
    if (!isPlainPath(pathOf(req))) {
      refuse(res, 404, 'Not found');
      return next(false);
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > MAX_ANY_BODY_BYTES) {
      refuse(res, 413, `the body is larger than ${MAX_ANY_BODY_BYTES / (1024 * 1024)} MiB`, true);
      return next(false);
    }
    return next();
  });
  routeHandlersContained(server, opts.logger);
  if (opts.observeRequest) measureRequests(server, opts.observeRequest);
  server.on('after', (req: restify.Request, res: restify.Response) => {
    const log = requestLogger(req, opts.logger);
    runWithLogContext(fieldsOf(req), () => log.debug({ method: req.method, path: req.path?.() ?? req.url, status: res.statusCode }, 'request'));
  });

  // `Expect: 100-continue` (curl sends it for large uploads): a body over every route's limit is
  // refused before the sender starts it, instead of being invited and then cut off.
  // On restify's server: with a listener there, restify leaves the decision (and the dispatch) to us.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > MAX_ANY_BODY_BYTES) {
      refuse(res as restify.Response, 413, `the body is larger than ${MAX_ANY_BODY_BYTES / (1024 * 1024)} MiB`, true);
      return;
    }
    res.writeContinue();
    server.server.emit('request', req, res);
  });

  server.get('/healthz', async (_req: restify.Request, res: restify.Response) => {
    res.json(200, { status: 'ok' });
  });

  server.get('/readyz', async (_req: restify.Request, res: restify.Response) => {
    if (draining) {
      res.json(503, { status: 'draining' });
      return;
    }
    const results = await Promise.all(
      (opts.readiness ?? []).map(async (c) => {
        const required = c.required ?? true;
        try {
          const r = await withTimeout(c.check(), opts.readinessTimeoutInMs ?? 3000, c.name);
          const ok = r ? r.ok : true;
          return { name: c.name, ok, required, ...(r?.details ? { details: r.details } : {}), ...(!ok && r?.error ? { error: r.error } : {}) };
        } catch (err) {
          return { name: c.name, ok: false, required, error: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
    const ready = results.every((r) => r.ok || !r.required);
    const status = !ready ? 'not ready' : results.every((r) => r.ok) ? 'ready' : 'degraded';
    const details = await readDetails(opts.readinessDetails ?? [], opts.readinessTimeoutInMs ?? 3000);
    res.json(ready ? 200 : 503, { status, checks: results, ...(details ? { details } : {}) });
  });

  if (opts.registry) {
    const registry = opts.registry;
    server.get('/metrics', async (_req: restify.Request, res: restify.Response) => {
      const body = await registry.metrics();
      res.setHeader('content-type', registry.contentType);
      res.writeHead(200);
      res.end(body);
    });
  }

  for (const mount of opts.mounts) mount(server);

  return {
    server,
    setDraining: () => {
      draining = true;
    },
    listen: (port, host = '127.0.0.1') =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          const addr = server.address() as AddressInfo;
          const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host === '127.0.0.1' ? 'localhost' : host;
          resolve(`http://${shownHost}:${addr.port}`);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets (SSE, browsers) would hold close() open forever.
        (server.server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

async function readDetails(providers: readonly ReadinessDetail[], timeoutInMs: number): Promise<Record<string, unknown> | null> {
  if (providers.length === 0) return null;
  const entries = await Promise.all(
    providers.map(async (p) => [p.name, await withTimeout(p.read(), timeoutInMs, p.name).catch((err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }))] as const),
  );
  return Object.fromEntries(entries);
}
