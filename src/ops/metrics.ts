// Prometheus metrics (prom-client) on a registry of our own, so two bots in one test process do not collide.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AppObserver } from '../app/observer';

export interface Metrics extends AppObserver {
  registry: Registry;
  openGrants: Gauge;
  schedulerLagSeconds: Gauge;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'jitbot_process_' });
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
  const openGrants = new Gauge({ name: 'jitbot_open_grants', help: 'Requests whose ports are open now', registers: [registry] });
  const schedulerLagSeconds = new Gauge({ name: 'jitbot_scheduler_lag_seconds', help: 'How late the last claimed job ran', registers: [registry] });
  return {
    registry,
    openGrants,
    schedulerLagSeconds,
    command: (kind, outcome) => commands.inc({ kind, outcome }),
    decision: (kind, outcome) => decisions.inc({ decision: kind, outcome }),
    decided: (s) => decisionSeconds.observe(s),
    opened: (s, outcome) => openSeconds.observe({ outcome }, s),
    cloudCall: (operation, s, outcome, kind) => {
      cloudSeconds.observe({ operation, outcome }, s);
      if (outcome === 'error') cloudErrors.inc({ operation, kind: kind ?? 'unknown' });
    },
  };
}
