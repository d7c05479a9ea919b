// The slice of pino the app uses, so tests can pass a silent or recording logger.
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
