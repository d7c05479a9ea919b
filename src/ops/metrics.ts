// Prometheus metrics (prom-client) on a registry of our own, so two bots in one test process do not collide.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AppObserver } from '../app/observer';

/** Where the gauges read their values at scrape time; wired once the store and scheduler exist. */
export interface MetricSources {
  /** Requests whose ports are open now (state `active`), across every replica. */
  openGrants?: () => Promise<number>;
  /** This process's scheduler: the worst lag of a job it started lately, in milliseconds. */
  schedulerLagMs?: () => number;
}

export interface Metrics extends AppObserver {
  registry: Registry;
  /** One HTTP request served; `route` is the registered path, so the label set stays bounded. */
  httpRequest(method: string, route: string, status: number, seconds: number): void;
  openGrants: Gauge;
  schedulerLagSeconds: Gauge;
  feed(sources: MetricSources): void;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  // prom-client's default names already start with process_ or nodejs_; our prefix goes in front once.
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'jitbot_' });
  const commands = new Counter({ name: 'jitbot_commands_total', help: 'Commands by kind and outcome', labelNames: ['kind', 'outcome'], registers: [registry] });
  const decisions = new Counter({ name: 'jitbot_decisions_total', help: 'Approve/deny clicks by outcome', labelNames: ['decision', 'outcome'], registers: [registry] });
  const decisionSeconds = new Histogram({
    name: 'jitbot_request_to_decision_seconds',
    help: 'Time from request to the decision that settled it',
    buckets: [5, 30, 60, 300, 900, 1800, 3600, 7200],
    registers: [registry],
  });
  const openSeconds = new Histogram({
    name: 'jitbot_approval_to_open_seconds',
    help: 'Time from final approval to Azure accepting the initiate',
    labelNames: ['outcome'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  const cloudSeconds = new Histogram({
    name: 'jitbot_azure_call_seconds',
    help: 'Azure call durations',
    labelNames: ['operation', 'outcome'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15],
    registers: [registry],
  });
  const cloudErrors = new Counter({ name: 'jitbot_azure_errors_total', help: 'Azure call errors by kind', labelNames: ['operation', 'kind'], registers: [registry] });
  const chatRateLimited = new Counter({
    name: 'jitbot_chat_rate_limited_total',
    help: 'HTTP 429 answers from Slack or the Bot Connector, each one, including those waited out',
    labelNames: ['platform'],
    registers: [registry],
  });
  const chatErrors = new Counter({
    name: 'jitbot_chat_errors_total',
    help: 'Calls to Slack or the Bot Connector that failed after the adapter retried; retryable ones are tried again later',
    labelNames: ['platform', 'retryable'],
    registers: [registry],
  });
  const httpSeconds = new Histogram({
    name: 'jitbot_http_request_duration_seconds',
    help: 'HTTP requests served, by method, registered route (not the raw path) and status code',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const sources: MetricSources = {};
  let lastOpenGrants = 0;
  const openGrants = new Gauge({
    name: 'jitbot_open_grants',
    help: 'Requests whose ports are open now (all replicas: read from the store at scrape time)',
    registers: [registry],
    async collect() {
      if (!sources.openGrants) return;
      try {
        lastOpenGrants = await sources.openGrants();
      } catch {
        // A store that cannot answer keeps the last value rather than fail the whole scrape; /readyz says why.
      }
      this.set(lastOpenGrants);
    },
  });
  const schedulerLagSeconds = new Gauge({
    name: 'jitbot_scheduler_lag_seconds',
    help: 'Worst lateness of a job this process started in the last minute (start time minus due time)',
    registers: [registry],
    collect() {
      if (sources.schedulerLagMs) this.set(sources.schedulerLagMs() / 1000);
    },
  });
  return {
    registry,
    openGrants,
    schedulerLagSeconds,
    feed: (s) => Object.assign(sources, s),
    command: (kind, outcome) => commands.inc({ kind, outcome }),
    decision: (kind, outcome) => decisions.inc({ decision: kind, outcome }),
    decided: (s) => decisionSeconds.observe(s),
    opened: (s, outcome) => openSeconds.observe({ outcome }, s),
    httpRequest: (method, route, status, s) => httpSeconds.observe({ method, route, status: String(status) }, s),
    chatRateLimited: (platform) => chatRateLimited.inc({ platform }),
    chatFailed: (platform, retryable) => chatErrors.inc({ platform, retryable: String(retryable) }),
    cloudCall: (operation, s, outcome, kind) => {
      cloudSeconds.observe({ operation, outcome }, s);
      if (outcome === 'error') cloudErrors.inc({ operation, kind: kind ?? 'unknown' });
    },
  };
}
