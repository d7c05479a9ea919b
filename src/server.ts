// The bot's one HTTP server: /slack/events, /api/messages, the console, and the operator endpoints.
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import * as restify from 'restify';
import type { Registry } from 'prom-client';
import { runWithLogContext, type Logger } from './app/logger';

export type Mount = (server: restify.Server) => void;

export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
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

/**
 * restify resumes a route's chain from stream events (a body parser's `end`), where the async
 * context of the request is lost; so every handler of every route is entered in it again. restify
 * tells async handlers (two parameters) from callback ones (three) by arity and kind, so the wrapper
 * keeps both.
 */
function routeHandlersInRequestContext(server: restify.Server): void {
  const wrap = (h: unknown): unknown => {
    if (Array.isArray(h)) return h.map(wrap);
    if (typeof h !== 'function') return h;
    const handler = h as AnyHandler & { _name?: string };
    const wrapped: AnyHandler & { _name?: string } =
      handler.length <= 2
        ? async (req: unknown, res: unknown) => runWithLogContext(fieldsOf(req as restify.Request), () => handler(req, res))
        : handler.length === 3
          ? function (req: unknown, res: unknown, next: unknown) {
              return runWithLogContext(fieldsOf(req as restify.Request), () => handler(req, res, next));
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
  routeHandlersInRequestContext(server);
  if (opts.observeRequest) measureRequests(server, opts.observeRequest);
  server.on('after', (req: restify.Request, res: restify.Response) => {
    const log = requestLogger(req, opts.logger);
    runWithLogContext(fieldsOf(req), () => log.debug({ method: req.method, path: req.path?.() ?? req.url, status: res.statusCode }, 'request'));
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
        try {
          await withTimeout(c.check(), opts.readinessTimeoutInMs ?? 3000, c.name);
          return { name: c.name, ok: true };
        } catch (err) {
          return { name: c.name, ok: false, error: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
    const ok = results.every((r) => r.ok);
    const details = await readDetails(opts.readinessDetails ?? [], opts.readinessTimeoutInMs ?? 3000);
    res.json(ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', checks: results, ...(details ? { details } : {}) });
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
