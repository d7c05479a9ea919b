// Hooks the use cases call at moments an operator measures; the metrics module implements them.

/** What a chat adapter reports about its calls to Slack or the Bot Connector. */
export interface ChatCallObserver {
  /** The platform answered 429 (counted per answer, including those waited out and retried). */
  chatRateLimited(platform: string): void;
  /** A call failed for good, after the adapter's own retries. */
  chatFailed(platform: string, retryable: boolean): void;
}

export interface AppObserver extends ChatCallObserver {
  command(kind: string, outcome: 'ok' | 'refused' | 'invalid' | 'error'): void;
  decision(kind: 'approve' | 'deny', outcome: 'ok' | 'refused'): void;
  /** Seconds from request to the decision that settled it. */
  decided(seconds: number): void;
  /** Seconds from final approval to Azure accepting the initiate. */
  opened(seconds: number, outcome: 'ok' | 'failed'): void;
  cloudCall(operation: string, seconds: number, outcome: 'ok' | 'error', errorKind?: string): void;
}

export const nullObserver: AppObserver = {
  command() {},
  decision() {},
  decided() {},
  opened() {},
  cloudCall() {},
  chatRateLimited() {},
  chatFailed() {},
};
