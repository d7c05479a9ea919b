// The Cloud port over Azure: JIT through @azure/arm-security, VM facts through @azure/arm-compute.
// Every bot-level call runs under one deadline (the caller's signal combined with a timeout) and
// one correlation id, and ends in a result or a CloudError, never in a hang.
import type { ComputeManagementClient, VirtualMachine } from '@azure/arm-compute';
import { SecurityCenter, type JitNetworkAccessPolicy, type JitNetworkAccessRequest } from '@azure/arm-security';
import type { TokenCredential } from '@azure/core-auth';
import { isRestError, type PipelinePolicy } from '@azure/core-rest-pipeline';
import type { CallOptions, Cloud, CloudAccessRecord, Clock, OpenResult, OpenSpec } from '../app/ports';
import { systemClock } from '../app/ports';
import { sameSources } from '../core/cidr';
import { formatUtc } from '../core/duration';
import type { DefenderPlan } from '../core/azure-limits';
import { CloudError, JitError } from '../core/errors';
import type { PortRule, Vm, VmRef } from '../core/types';
import { toCloudError, type ErrorContext } from './errors';
import { CORRELATION_HEADER, CallBudgets, raceAbort, redirectPolicy, simulatorCredential, sourcesPolicy } from './pipeline';
import {
  accessRecordsFromPolicies,
  checkInitiateAnswer,
  currentAccess,
  describePorts,
  indexPolicies,
  initiateBody,
  mergePolicy,
  vmFromWire,
  vmKey,
  type InitiateTarget,
  type PortOutcome,
} from './transformations';

export interface AzureRetryOptions {
  maxRetries?: number;
  retryDelayInMs?: number;
  maxRetryDelayInMs?: number;
}

export interface AzureCloudOptions {
  subscriptionId: string;
  /** Defaults to DefaultAzureCredential (or, with `redirectTo`, a static token the simulator accepts). */
  credential?: TokenCredential;
  /** Another cloud's ARM endpoint (AZURE_RESOURCE_MANAGER_URL); tokens are asked for `<url>/.default`. */
  resourceManagerUrl?: string;
  /** Send every request to this base URL instead (the loopback simulator), keeping the client as is. */
  redirectTo?: string;
  /** Per bot-level call, retries included (default 15 s). */
  timeoutInMs?: number;
  retry?: AzureRetryOptions;
  /** The time `close` counts its short end time from; the simulator in tests shares it. */
  clock?: Clock;
}

export const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_ENDPOINT = 'https://management.azure.com';
const DEFAULT_RETRY: Required<AzureRetryOptions> = { maxRetries: 3, retryDelayInMs: 1_000, maxRetryDelayInMs: 8_000 };

/**
 * Azure has no revoke: `close` initiates the same ports again with an end this far ahead, and Azure
 * supersedes the open request (NewerRequestInitiated). One minute is the shortest end we trust to be
 * accepted: the end time must still be in the future when Azure validates it, after clock skew
 * between us and Azure and after the SDK's retries (bounded by the call timeout, 15 s by default)
 * have re-sent the same body. Anything shorter risks a 400 that leaves the longer grant open.
 */
export const CLOSE_AFTER_MS = 60_000;

interface Call {
  abortSignal: AbortSignal;
  security: { abortSignal: AbortSignal; requestOptions: { customHeaders: Record<string, string> } };
  compute: { abortSignal: AbortSignal; requestOptions: { headers: Record<string, string> } };
}

interface PolicyGroup {
  resourceGroup: string;
  location: string;
  policyName: string;
  vms: VmRef[];
}

interface Accepted {
  group: PolicyGroup;
  targets: InitiateTarget[];
  answer: JitNetworkAccessRequest;
  requestId?: string;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

function names(vms: readonly VmRef[]): string {
  return vms.map((vm) => vm.name).join(', ');
}

function groupByPolicy(vms: readonly VmRef[]): PolicyGroup[] {
  const groups = new Map<string, PolicyGroup>();
  for (const vm of vms) {
    const location = vm.location.replace(/\s+/g, '').toLowerCase();
    const policyName = vm.policyName ?? 'default';
    const k = `${vm.resourceGroup}|${location}|${policyName}`.toLowerCase();
    const group = groups.get(k) ?? { resourceGroup: vm.resourceGroup, location, policyName, vms: [] };
    group.vms.push(vm);
    groups.set(k, group);
  }
  return [...groups.values()];
}



function isNotFound(err: unknown): boolean {
  return isRestError(err) && err.statusCode === 404;
}

export class AzureCloud implements Cloud {
  private readonly security: SecurityCenter;
  private computeClient: ComputeManagementClient | undefined;
  private readonly makeCompute: () => ComputeManagementClient;
  private readonly budgets = new CallBudgets();
  private readonly clock: Clock;
  private readonly timeoutInMs: number;
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(opts: AzureCloudOptions) {
    const subscriptionId = opts.subscriptionId?.trim();
    if (!subscriptionId) throw new JitError('config', 'AZURE_SUBSCRIPTION_ID: the Azure subscription id is required');
    const endpoint = (opts.resourceManagerUrl ?? DEFAULT_ENDPOINT).trim().replace(/\/+$/, '');
    if (!/^https:\/\/[^/\s]+$/i.test(endpoint)) {
      throw new JitError('config', `AZURE_RESOURCE_MANAGER_URL: "${endpoint}" is not an https:// origin like https://management.usgovcloudapi.net`);
    }
    const policies: Array<{ policy: PipelinePolicy; position: 'perRetry' | 'perCall' }> = [
      { policy: this.budgets.policy, position: 'perRetry' },
      { policy: sourcesPolicy, position: 'perCall' },
    ];
    if (opts.redirectTo !== undefined) {
      if (!/^https?:\/\/[^/\s]+\/?$/i.test(opts.redirectTo.trim())) {
        throw new JitError('config', `redirectTo: "${opts.redirectTo}" is not a base URL like http://127.0.0.1:3979`);
      }
      policies.push({ policy: redirectPolicy(opts.redirectTo.trim()), position: 'perRetry' });
    }
    const credential = opts.credential ?? (opts.redirectTo !== undefined ? simulatorCredential : defaultAzureCredential());
    const timeoutInMs = opts.timeoutInMs;
    this.timeoutInMs = timeoutInMs !== undefined && Number.isFinite(timeoutInMs) && timeoutInMs > 0 ? timeoutInMs : DEFAULT_TIMEOUT_MS;
    this.clock = opts.clock ?? systemClock;
    const retryOptions = { ...DEFAULT_RETRY, ...opts.retry };
    const scopes = [`${endpoint}/.default`];
    const userAgentOptions = { userAgentPrefix: 'jitbot' };
    this.security = new SecurityCenter(credential, subscriptionId, {
      endpoint,
      credentialScopes: scopes,
      additionalPolicies: policies,
      retryOptions,
      userAgentOptions,
    });
    this.makeCompute = () => {
      const { ComputeManagementClient } = require('@azure/arm-compute') as typeof import('@azure/arm-compute');
      return new ComputeManagementClient(credential, subscriptionId, {
        endpoint,
        credentials: { scopes },
        additionalPolicies: policies,
        retryOptions,
        userAgentOptions,
      });
    };
  }

  // @azure/arm-compute is ~400 ms of module loading (a fifth of a start on PostgreSQL), and only
  // listing VMs and reading one need it: neither start-up, the readiness probe nor Defender's plan.
  private get compute(): ComputeManagementClient {
    this.computeClient ??= this.makeCompute();
    return this.computeClient;
  }

  listVms(opts?: CallOptions): Promise<Vm[]> {
    return this.run({ action: 'list', scope: 'the subscription' }, opts, async (call) => {
      // Compute's pager does not pass options to later pages; run() still bounds the whole call.
      const [policies, machines] = await Promise.all([
        collect(this.security.jitNetworkAccessPolicies.list(call.security)),
        collect<VirtualMachine>(this.compute.virtualMachines.listAll(call.compute)),
      ]);
      const index = indexPolicies(policies);
      return machines
        .map((m) => vmFromWire(m, index))
        .filter((vm): vm is Vm => vm !== null)
        .sort((a, b) => a.name.localeCompare(b.name) || a.resourceGroup.localeCompare(b.resourceGroup));
    });
  }

  probe(opts?: CallOptions): Promise<void> {
    return this.run({ action: 'list', scope: 'the subscription' }, opts, async (call) => {
      // One page answers the question; the rest of the subscription is not read.
      await this.security.jitNetworkAccessPolicies.list(call.security).byPage().next();
    });
  }

  /** Nothing is reported open unless Azure's answer lists every port; otherwise what did open is closed again. */
  open(spec: OpenSpec, opts?: CallOptions): Promise<OpenResult> {
    return this.initiateAll(spec, opts, true);
  }

  /** A failed extension leaves the earlier grant as it is, so nothing is closed on failure. */
  extend(spec: OpenSpec, opts?: CallOptions): Promise<OpenResult> {
    return this.initiateAll(spec, opts, false);
  }

  async close(spec: Omit<OpenSpec, 'endsAt'>, opts?: CallOptions): Promise<void> {
    const ports = spec.ports.map((p) => p.number);
    const results = await Promise.allSettled(
      groupByPolicy(spec.vms).map((group) =>
        this.run({ action: 'initiate', scope: names(group.vms) }, opts, async (call) => {
          let policy: JitNetworkAccessPolicy;
          try {
            policy = await this.security.jitNetworkAccessPolicies.get(group.resourceGroup, group.location, group.policyName, call.security);
          } catch (err) {
            // Without the policy there is no JIT allow rule left to close.
            if (isNotFound(err)) return;
            throw err;
          }
          const closeEnd = this.closeEndTime();
          const now = this.clock.now();
          // Only ports whose newest request is ours and would outlive the close: anything else is
          // already closed, closes sooner by itself, or belongs to someone else's newer grant.
          const targets = group.vms
            .map((vm) => ({
              vm,
              ports: ports.filter((port) => {
                const current = currentAccess(policy, vm, port, now);
                return current !== null && sameSources(current.sources, spec.sources) && current.endsAt.getTime() > closeEnd.getTime();
              }),
            }))
            .filter((t) => t.ports.length > 0);
          if (targets.length === 0) return;
          const answer = await this.security.jitNetworkAccessPolicies.initiate(
            group.resourceGroup,
            group.location,
            group.policyName,
            initiateBody(targets, spec.sources, closeEnd, spec.justification),
            call.security,
          );
          const { missing } = checkInitiateAnswer(answer, targets);
          if (missing.length > 0) {
            throw new CloudError('partial', `Azure did not confirm closing ${describePorts(missing)}; it stays open until its end time.`);
          }
        }),
      ),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  enable(vm: VmRef, rules: PortRule[], opts?: CallOptions): Promise<Vm> {
    if (rules.length === 0) return Promise.reject(new CloudError('invalid', `Putting ${vm.name} under JIT needs at least one port rule.`));
    const location = vm.location.replace(/\s+/g, '').toLowerCase();
    // Azure's PUT replaces the policy's whole VM list and has no ETag: two enables in the same
    // policy must not interleave their read-merge-write, at least within this process.
    return this.withLock(`${vm.resourceGroup}|${location}`.toLowerCase(), () =>
      this.run({ action: 'write', scope: vm.name }, opts, async (call) => {
        const policies = this.security.jitNetworkAccessPolicies;
        let existing: JitNetworkAccessPolicy | null = null;
        if (vm.policyName) {
          try {
            existing = await policies.get(vm.resourceGroup, location, vm.policyName, call.security);
          } catch (err) {
            if (!isNotFound(err)) throw err;
          }
        }
        if (!existing) {
          const all = await collect(policies.listByResourceGroupAndRegion(vm.resourceGroup, location, call.security));
          existing =
            all.find((p) => (p.virtualMachines ?? []).some((v) => vmKey(v.id) === vmKey(vm.id))) ??
            all.find((p) => (p.name ?? '').toLowerCase() === 'default') ??
            null;
        }
        const policyName = existing?.name ?? vm.policyName ?? 'default';
        const saved = await policies.createOrUpdate(vm.resourceGroup, location, policyName, mergePolicy(existing, vm, rules), call.security);
        const machine = await this.compute.virtualMachines.get(vm.resourceGroup, vm.name, call.compute);
        const result = vmFromWire(machine, indexPolicies([saved]));
        if (!result || !result.jit) {
          throw new CloudError('partial', `Azure saved the JIT policy ${policyName} but does not list ${vm.name} in it; check the policy in the Azure portal.`);
        }
        return result;
      }),
    );
  }

  async accessRecords(vms: VmRef[], opts?: CallOptions): Promise<CloudAccessRecord[]> {
    const byRegion = new Map<string, { resourceGroup: string; location: string; vms: VmRef[] }>();
    for (const vm of vms) {
      const location = vm.location.replace(/\s+/g, '').toLowerCase();
      const k = `${vm.resourceGroup}|${location}`.toLowerCase();
      const entry = byRegion.get(k) ?? { resourceGroup: vm.resourceGroup, location, vms: [] };
      entry.vms.push(vm);
      byRegion.set(k, entry);
    }
    const lists = await Promise.all(
      [...byRegion.values()].map((g) =>
        this.run({ action: 'read', scope: names(g.vms) }, opts, (call) =>
          collect(this.security.jitNetworkAccessPolicies.listByResourceGroupAndRegion(g.resourceGroup, g.location, call.security)),
        ),
      ),
    );
    return accessRecordsFromPolicies(lists.flat(), vms);
  }

  defenderPlan(opts?: CallOptions): Promise<DefenderPlan> {
    return this.run({ action: 'read', scope: 'the Defender for Servers plan' }, opts, async (call) => {
      const pricing = await this.security.pricings.get('VirtualMachines', call.security);
      return { pricingTier: pricing.pricingTier ?? 'Free', ...(pricing.subPlan ? { subPlan: pricing.subPlan } : {}) };
    });
  }

  // ---- internals ----------------------------------------------------------------------------------

  private closeEndTime(): Date {
    return new Date(Math.ceil((this.clock.now().getTime() + CLOSE_AFTER_MS) / 1000) * 1000);
  }

  private async initiateAll(spec: OpenSpec, opts: CallOptions | undefined, closeOnFailure: boolean): Promise<OpenResult> {
    if (spec.vms.length === 0 || spec.ports.length === 0) {
      throw new CloudError('invalid', 'There is nothing to open: the request names no VM or no port.');
    }
    const ports = [...new Set(spec.ports.map((p) => p.number))];
    const groups = groupByPolicy(spec.vms);
    const outcomes = await Promise.all(
      groups.map(async (group) => {
        const targets = group.vms.map((vm) => ({ vm, ports }));
        try {
          const accepted = await this.initiateGroup(group, targets, spec.sources, spec.endsAt, spec.justification, opts);
          return { group, targets, accepted };
        } catch (err) {
          return { group, targets, error: err instanceof CloudError ? err : toCloudError(err, { action: 'initiate', scope: names(group.vms) }, { callerAborted: false, timedOut: false, timeoutInMs: this.timeoutInMs }) };
        }
      }),
    );
    const accepted: Accepted[] = [];
    const failures: Array<{ group: PolicyGroup; targets: InitiateTarget[]; error: CloudError }> = [];
    for (const o of outcomes) {
      if (o.accepted) accepted.push(o.accepted);
      else if (o.error) failures.push({ group: o.group, targets: o.targets, error: o.error });
    }
    const checks = accepted.map((a) => ({ ...a, ...checkInitiateAnswer(a.answer, a.targets) }));
    const missing = checks.flatMap((c) => c.missing);
    if (failures.length === 0 && missing.length === 0) {
      const ends = checks.flatMap((c) => c.accepted).map((p) => p.endsAt?.getTime() ?? spec.endsAt.getTime());
      const requestIds = accepted.map((a) => a.requestId).filter((id): id is string => Boolean(id));
      return { endsAt: new Date(Math.min(...ends)), ...(requestIds.length > 0 ? { azureRequestId: requestIds.join(',') } : {}) };
    }

    let note = '';
    if (closeOnFailure) {
      // What Azure accepted is closed again, and so is whatever it may have done without telling us
      // (a timeout or an outage after the request went out), so "failed" never leaves a port open.
      const toClose = [
        ...checks.map((c) => ({ group: c.group, targets: regroup(c.accepted) })).filter((c) => c.targets.length > 0),
        ...failures.filter((f) => f.error.kind === 'timeout' || f.error.kind === 'unavailable'),
      ];
      note = await this.closeAgain(toClose, spec);
    }
    if (missing.length > 0) {
      throw new CloudError('partial', `Azure accepted the request but did not open ${describePorts(missing)}.${note}`);
    }
    const first = failures[0].error;
    if (note === '') throw first;
    throw new CloudError(first.kind, `${first.message}${note}`, {
      ...(first.status !== undefined ? { status: first.status } : {}),
      ...(first.azureCode !== undefined ? { azureCode: first.azureCode } : {}),
      ...(first.retryAfterMs !== undefined ? { retryAfterMs: first.retryAfterMs } : {}),
      cause: first,
    });
  }

  private initiateGroup(
    group: PolicyGroup,
    targets: InitiateTarget[],
    sources: string[],
    endsAt: Date,
    justification: string,
    opts: CallOptions | undefined,
  ): Promise<Accepted> {
    return this.run({ action: 'initiate', scope: names(group.vms) }, opts, async (call) => {
      let requestId: string | undefined;
      const answer = await this.security.jitNetworkAccessPolicies.initiate(
        group.resourceGroup,
        group.location,
        group.policyName,
        initiateBody(targets, sources, endsAt, justification),
        { ...call.security, onResponse: (raw) => void (requestId = raw.headers.get('x-ms-request-id') ?? undefined) },
      );
      return { group, targets, answer, ...(requestId ? { requestId } : {}) };
    });
  }

  /** Best effort: returns the sentence to add to the failure message. */
  private async closeAgain(sets: Array<{ group: PolicyGroup; targets: InitiateTarget[] }>, spec: OpenSpec): Promise<string> {
    if (sets.length === 0) return '';
    const closeEnd = this.closeEndTime();
    // Not tied to the caller's signal: the caller giving up is no reason to leave ports open.
    const results = await Promise.allSettled(
      sets.map(({ group, targets }) =>
        this.run({ action: 'initiate', scope: names(group.vms) }, { timeoutInMs: this.timeoutInMs }, (call) =>
          this.security.jitNetworkAccessPolicies.initiate(
            group.resourceGroup,
            group.location,
            group.policyName,
            initiateBody(targets, spec.sources, closeEnd, `closing after a failed open: ${spec.justification}`),
            call.security,
          ),
        ),
      ),
    );
    const stuck = sets.filter((_, i) => results[i].status === 'rejected').flatMap((s) => s.targets);
    if (stuck.length === 0) return ' The bot made sure none of the ports stays open.';
    const outcomes: PortOutcome[] = stuck.flatMap((t) => t.ports.map((port) => ({ vm: t.vm, port })));
    return ` ${describePorts(outcomes)} may stay open until ${formatUtc(spec.endsAt, this.clock.now())}.`;
  }

  private async run<T>(ctx: ErrorContext, opts: CallOptions | undefined, work: (call: Call) => Promise<T>): Promise<T> {
    const timeoutInMs = opts?.timeoutInMs !== undefined && opts.timeoutInMs > 0 ? opts.timeoutInMs : this.timeoutInMs;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), timeoutInMs);
    const abortSignal = opts?.abortSignal ? AbortSignal.any([opts.abortSignal, timeout.signal]) : timeout.signal;
    const budget = this.budgets.begin(timeoutInMs);
    const headers = { [CORRELATION_HEADER]: budget.correlationId };
    try {
      return await raceAbort(
        work({
          abortSignal,
          security: { abortSignal, requestOptions: { customHeaders: headers } },
          compute: { abortSignal, requestOptions: { headers } },
        }),
        abortSignal,
      );
    } catch (err) {
      throw toCloudError(err, ctx, {
        callerAborted: opts?.abortSignal?.aborted === true,
        timedOut: timeout.signal.aborted,
        timeoutInMs,
        ...(budget.last() ? { last: budget.last() } : {}),
      });
    } finally {
      clearTimeout(timer);
      budget.end();
    }
  }

  private withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.locks.set(key, settled);
    void settled.then(() => {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    });
    return next;
  }
}

/** Accepted (VM, port) pairs back into one target per VM. */
function regroup(outcomes: readonly PortOutcome[]): InitiateTarget[] {
  const byVm = new Map<string, InitiateTarget>();
  for (const o of outcomes) {
    const t = byVm.get(o.vm.id) ?? { vm: o.vm, ports: [] };
    t.ports.push(o.port);
    byVm.set(o.vm.id, t);
  }
  return [...byVm.values()];
}

export function createAzureCloud(opts: AzureCloudOptions): Cloud {
  return new AzureCloud(opts);
}

/**
 * The identity the bot runs as in Azure. @azure/identity is loaded only here: local mode and the
 * simulator never need it, and loading it cost every start ~150 ms.
 */
export function defaultAzureCredential(): TokenCredential {
  const { DefaultAzureCredential } = require('@azure/identity') as typeof import('@azure/identity');
  return new DefaultAzureCredential();
}
