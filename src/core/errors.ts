// Typed errors that carry the one-line, user-facing message. Adapters show `message` as is;
// `code` is for logs, metrics and tests.

export type ErrorCode =
  | 'bad_command' // the words do not parse
  | 'unknown_person' // the actor's email is not in the config
  | 'not_allowed' // rights: may not request, approve, see audit…
  | 'not_found' // no such request or VM
  | 'policy' // the VM's JIT policy forbids it (port, source, duration)
  | 'conflict' // the request is not in a state that allows this
  | 'cloud' // Azure refused or failed
  | 'config' // invalid configuration
  | 'internal';

export class JitError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'JitError';
  }
}

export function isJitError(err: unknown): err is JitError {
  return err instanceof JitError;
}

export type CloudErrorKind =
  | 'forbidden' // 403: the bot's identity lacks a role
  | 'not_found' // 404: policy or VM gone
  | 'conflict' // 409
  | 'invalid' // 400: Azure's validation refused the request
  | 'throttled' // 429
  | 'unavailable' // 5xx
  | 'timeout'
  | 'partial' // 202 but the answer shows a port missing
  | 'unknown';

/** Azure said no, or could not be reached. `message` is fit for chat; details never include tokens. */
export class CloudError extends JitError {
  readonly kind: CloudErrorKind;
  readonly status: number | undefined;
  /** Azure's error code (`BadRequest`, `AuthorizationFailed`…), when it sent one. */
  readonly azureCode: string | undefined;
  /** Milliseconds Azure asked us to wait (Retry-After), when it did. */
  readonly retryAfterMs: number | undefined;
  constructor(
    kind: CloudErrorKind,
    message: string,
    details: { status?: number; azureCode?: string; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super('cloud', message, { cause: details.cause });
    this.name = 'CloudError';
    this.kind = kind;
    this.status = details.status;
    this.azureCode = details.azureCode;
    this.retryAfterMs = details.retryAfterMs;
  }
  /** Worth another try later: throttling, outages and timeouts. */
  get retryable(): boolean {
    return this.kind === 'throttled' || this.kind === 'unavailable' || this.kind === 'timeout';
  }
}

/** A chat platform call failed (Slack `ok:false`, Bot Connector 4xx/5xx). */
export class ChatError extends JitError {
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  constructor(message: string, details: { retryable: boolean; retryAfterMs?: number; cause?: unknown }) {
    super('internal', message, { cause: details.cause });
    this.name = 'ChatError';
    this.retryable = details.retryable;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** A step-up sign-in that did not work: the provider refused, the code was stale, the token was wrong. */
export class SignInError extends JitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('not_allowed', message, options);
    this.name = 'SignInError';
  }
}

export type DirectoryErrorKind =
  | 'consent' // 403: the bot's identity lacks the directory permission (admin consent, Slack scope)
  | 'throttled' // 429 past what we wait for
  | 'unavailable' // 5xx, network
  | 'timeout'
  | 'unknown';

/** A directory (Entra ID through Microsoft Graph, Slack user groups) did not answer. */
export class DirectoryError extends JitError {
  readonly kind: DirectoryErrorKind;
  constructor(kind: DirectoryErrorKind, message: string, options?: { cause?: unknown }) {
    super('internal', message, options);
    this.name = 'DirectoryError';
    this.kind = kind;
  }
}
