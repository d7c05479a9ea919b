// The slice of pino the app uses, so tests can pass a silent or recording logger.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

/** What may be logged about an error: its class, code and message, never a request, response or token. */
export function errorFields(err: unknown): Record<string, unknown> {
  if (err instanceof Error) {
    const e = err as Error & { code?: unknown; kind?: unknown; status?: unknown };
    return { err: { type: e.name, message: e.message, ...(e.code !== undefined ? { code: e.code } : {}), ...(e.kind !== undefined ? { kind: e.kind } : {}), ...(e.status !== undefined ? { status: e.status } : {}) } };
  }
  return { err: { message: String(err) } };
}

// Adapters and use cases hold loggers made at start-up, so a per-request child logger cannot reach
// them. The unit of work being done (an HTTP request's id, a scheduler job's id) travels with the
// async context instead, and the production logger stamps it on every line (pino `mixin`).
const logContext = new AsyncLocalStorage<Readonly<Record<string, unknown>>>();

/** Run `fn` with these fields on every log line it (and everything it starts) writes. */
export function runWithLogContext<T>(fields: Record<string, unknown>, fn: () => T): T {
  return logContext.run(fields, fn);
}

/** The fields of the unit of work running now, if any. */
export function currentLogContext(): Readonly<Record<string, unknown>> | undefined {
  return logContext.getStore();
}
