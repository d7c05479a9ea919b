// Hooks the use cases call at moments an operator measures; the metrics module implements them.
export interface AppObserver {
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
};
