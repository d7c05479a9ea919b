// The one place where Azure's generated models meet the bot's words. Everything outside src/azure
// sees Vm, PortRule and CloudAccessRecord only.
import type {
  JitNetworkAccessPolicy,
  JitNetworkAccessPolicyInitiateRequest,
  JitNetworkAccessPolicyVirtualMachine,
  JitNetworkAccessPortRule,
  JitNetworkAccessRequest,
} from '@azure/arm-security';
import type { VirtualMachine } from '@azure/arm-compute';
import { toIsoDuration } from '../core/duration';
import type { OsType, PortRule, Protocol, Vm, VmRef } from '../core/types';
import type { CloudAccessRecord } from '../app/ports';

export interface ResourceIdParts {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

export function parseVmResourceId(id: string): ResourceIdParts | null {
  const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/virtualMachines\/([^/]+)\/?$/i.exec(id.trim());
  return m ? { subscriptionId: m[1], resourceGroup: m[2], name: m[3] } : null;
}

/**
 * How VMs are matched across Compute, the JIT policy and initiate answers: resource group and name,
 * case-insensitively. ARM ids differ in casing between resource providers, and Azure's published
 * initiate example even answers with a different subscription id than it was asked about; every
 * call here is scoped to one subscription, so group and name identify the VM.
 */
export function vmKey(id: string): string {
  const parts = parseVmResourceId(id);
  return parts ? `${parts.resourceGroup}/${parts.name}`.toLowerCase() : id.trim().toLowerCase();
}

const ISO_DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/i;

/** `PT3H` → 180, `P1D` → 1440, `PT1H30M` → 90; null for anything else or for seconds that are not whole minutes. */
export function parseIsoDurationMinutes(text: string): number | null {
  const t = text.trim();
  const m = ISO_DURATION.exec(t);
  if (!m || /T$/i.test(t) || m.slice(1).every((g) => g === undefined)) return null;
  const totalSeconds = ((Number(m[1] ?? 0) * 24 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 60 + Number(m[4] ?? 0);
  return totalSeconds % 60 === 0 ? totalSeconds / 60 : null;
}

function toProtocol(value: string | undefined): Protocol {
  const upper = (value ?? '').toUpperCase();
  return upper === 'TCP' || upper === 'UDP' ? upper : '*';
}

/**
 * Port rules as the bot reads them. A rule whose maximum duration cannot be read is left out: the
 * bot cannot check a request against it, and Azure would be the only judge.
 */
export function portRulesFromWire(ports: readonly JitNetworkAccessPortRule[]): PortRule[] {
  const rules: PortRule[] = [];
  for (const port of ports) {
    const maxDurationMinutes = parseIsoDurationMinutes(port.maxRequestAccessDuration ?? '');
    if (maxDurationMinutes === null) continue;
    const several = port.allowedSourceAddressPrefixes?.filter((p) => p.trim() !== '');
    // A rule naming no source is the portal's "Any"; the bot still makes requesters name a source.
    const allowedSourcePrefixes = several && several.length > 0 ? several : [port.allowedSourceAddressPrefix?.trim() || '*'];
    rules.push({ number: port.number, protocol: toProtocol(port.protocol), allowedSourcePrefixes, maxDurationMinutes });
  }
  return rules;
}

export function portRulesToWire(rules: readonly PortRule[]): JitNetworkAccessPortRule[] {
  return rules.map((rule) => ({
    number: rule.number,
    protocol: rule.protocol,
    ...(rule.allowedSourcePrefixes.length === 1
      ? { allowedSourceAddressPrefix: rule.allowedSourcePrefixes[0] }
      : { allowedSourceAddressPrefixes: [...rule.allowedSourcePrefixes] }),
    maxRequestAccessDuration: toIsoDuration(rule.maxDurationMinutes),
  }));
}

export interface PolicyEntry {
  policyName: string;
  rules: PortRule[];
}

/** VM key → the policy that protects it. The first policy listing a VM wins, as the portal shows it. */
export function indexPolicies(policies: readonly JitNetworkAccessPolicy[]): Map<string, PolicyEntry> {
  const index = new Map<string, PolicyEntry>();
  for (const policy of policies) {
    for (const vm of policy.virtualMachines ?? []) {
      const k = vmKey(vm.id);
      if (!index.has(k)) index.set(k, { policyName: policy.name ?? 'default', rules: portRulesFromWire(vm.ports ?? []) });
    }
  }
  return index;
}

function osOf(vm: VirtualMachine): OsType {
  // Compute reports the OS disk's type; a VM without one (rare: specialized images) is treated as
  // Linux, which only changes the default port `/jit enable` suggests.
  return vm.storageProfile?.osDisk?.osType?.toLowerCase() === 'windows' ? 'windows' : 'linux';
}

/** A Compute VM with its JIT rules; null when Compute's answer lacks an id or name. */
export function vmFromWire(vm: VirtualMachine, policies: ReadonlyMap<string, PolicyEntry>): Vm | null {
  if (!vm.id || !vm.name) return null;
  const parts = parseVmResourceId(vm.id);
  if (!parts) return null;
  const entry = policies.get(vmKey(vm.id));
  return {
    id: vm.id,
    name: vm.name,
    resourceGroup: parts.resourceGroup,
    location: (vm.location ?? '').replace(/\s+/g, '').toLowerCase(),
    os: osOf(vm),
    tags: { ...(vm.tags ?? {}) },
    jit: entry ? entry.rules : null,
    ...(entry ? { policyName: entry.policyName } : {}),
  };
}

/** What one initiate asks for: per VM, the ports to open. */
export interface InitiateTarget {
  vm: VmRef;
  ports: number[];
}

/**
 * The initiate body as the SDK's model has it. Its port has only the singular
 * `allowedSourceAddressPrefix`, so several prefixes are written there joined with commas, and
 * sourcesPolicy (pipeline.ts) moves them into Azure's `allowedSourceAddressPrefixes` on the wire.
 */
export function initiateBody(targets: readonly InitiateTarget[], sources: readonly string[], endsAt: Date, justification: string): JitNetworkAccessPolicyInitiateRequest {
  if (sources.length === 0 || sources.some((s) => s.includes(','))) throw new Error('initiateBody: every source is one prefix, and there is at least one');
  return {
    virtualMachines: targets.map((t) => ({
      id: t.vm.id,
      ports: t.ports.map((number) => ({ number, endTimeUtc: endsAt, allowedSourceAddressPrefix: sources.join(',') })),
    })),
    justification,
  };
}

export interface PortOutcome {
  vm: VmRef;
  port: number;
  endsAt?: Date;
}

/** Splits the requested (VM, port) pairs into those the 202 answer lists and those it does not. */
export function checkInitiateAnswer(answer: JitNetworkAccessRequest, targets: readonly InitiateTarget[]): { accepted: PortOutcome[]; missing: PortOutcome[] } {
  const accepted: PortOutcome[] = [];
  const missing: PortOutcome[] = [];
  for (const { vm, ports } of targets) {
    const answered = (answer.virtualMachines ?? []).find((v) => vmKey(v.id) === vmKey(vm.id));
    for (const port of ports) {
      const listed = answered?.ports?.find((p) => p.number === port);
      const endsAt = listed ? new Date(listed.endTimeUtc) : undefined;
      if (listed) accepted.push({ vm, port, ...(endsAt && !Number.isNaN(endsAt.getTime()) ? { endsAt } : {}) });
      else missing.push({ vm, port });
    }
  }
  return { accepted, missing };
}

/** `port 22 on web-01`, `ports 22, 3389 on sql-01 and port 22 on web-02`. */
export function describePorts(outcomes: readonly PortOutcome[]): string {
  const byVm = new Map<string, { name: string; ports: number[] }>();
  for (const o of outcomes) {
    const entry = byVm.get(o.vm.id) ?? { name: o.vm.name, ports: [] };
    entry.ports.push(o.port);
    byVm.set(o.vm.id, entry);
  }
  const parts = [...byVm.values()].map((e) => `${e.ports.length === 1 ? 'port' : 'ports'} ${e.ports.join(', ')} on ${e.name}`);
  return parts.length <= 1 ? (parts[0] ?? 'no ports') : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

function statusWord(status: string | undefined, reason: string | undefined): string {
  // Azure marks ended requests `Revoked` and says why in statusReason; the reason is the useful word.
  if ((status ?? '').toLowerCase() === 'revoked' && reason) return reason;
  return status ?? 'Unknown';
}

function sourcesOfPort(port: { allowedSourceAddressPrefix?: string; allowedSourceAddressPrefixes?: string[] }): string[] {
  if (port.allowedSourceAddressPrefix) return [port.allowedSourceAddressPrefix];
  return [...(port.allowedSourceAddressPrefixes ?? [])];
}

function sourceOf(port: { allowedSourceAddressPrefix?: string; allowedSourceAddressPrefixes?: string[] }): string {
  return sourcesOfPort(port).join(',');
}

/** The policies' request history for these VMs, oldest request first. */
export function accessRecordsFromPolicies(policies: readonly JitNetworkAccessPolicy[], vms: readonly VmRef[]): CloudAccessRecord[] {
  const wanted = new Map(vms.map((vm) => [vmKey(vm.id), vm] as const));
  const records: CloudAccessRecord[] = [];
  for (const policy of policies) {
    const firewalls = new Map((policy.virtualMachines ?? []).filter((v) => v.publicIpAddress).map((v) => [vmKey(v.id), v.publicIpAddress!] as const));
    for (const request of policy.requests ?? []) {
      for (const requestVm of request.virtualMachines ?? []) {
        const vm = wanted.get(vmKey(requestVm.id));
        if (!vm) continue;
        const address = firewalls.get(vmKey(requestVm.id));
        for (const port of requestVm.ports ?? []) {
          records.push({
            vmId: vm.id,
            port: port.number,
            source: sourceOf(port),
            sources: sourcesOfPort(port),
            startedAt: new Date(request.startTimeUtc),
            endsAt: new Date(port.endTimeUtc),
            status: statusWord(port.status, port.statusReason),
            ...(port.statusReason ? { statusReason: port.statusReason } : {}),
            ...(request.justification ? { justification: request.justification } : {}),
            ...(address && port.mappedPort !== undefined ? { connectTo: { address, port: port.mappedPort } } : {}),
          });
        }
      }
    }
  }
  return records.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
}

/**
 * The request that governs a VM port now: the latest one that is still open. Only the newest
 * request for a VM port counts, since a newer one supersedes the older (NewerRequestInitiated).
 */
export function currentAccess(policy: JitNetworkAccessPolicy, vm: VmRef, port: number, now: Date): { sources: string[]; endsAt: Date } | null {
  let latest: { sources: string[]; endsAt: Date; startedAt: number; open: boolean } | null = null;
  // Later entries win ties: Azure appends requests in the order they arrive.
  for (const request of policy.requests ?? []) {
    const requestVm = (request.virtualMachines ?? []).find((v) => vmKey(v.id) === vmKey(vm.id));
    const p = requestVm?.ports?.find((x) => x.number === port);
    if (!p) continue;
    const startedAt = new Date(request.startTimeUtc).getTime();
    if (latest && startedAt < latest.startedAt) continue;
    const endsAt = new Date(p.endTimeUtc);
    const status = (p.status ?? '').toLowerCase();
    const open = (status === 'initiated' || status === 'initiating') && endsAt.getTime() > now.getTime();
    latest = { sources: sourcesOfPort(p), endsAt, startedAt, open };
  }
  return latest && latest.open ? { sources: latest.sources, endsAt: latest.endsAt } : null;
}

/**
 * The PUT body that puts one VM under these rules: the VM's entry is replaced in place (keeping its
 * firewall address), every other VM's entry is sent back untouched. Azure's PUT replaces the whole
 * VM list, so leaving one out would drop its protection. The request history is not sent back,
 * as PowerShell's Set-AzJitNetworkAccessPolicy does not send it either.
 */
export function mergePolicy(existing: JitNetworkAccessPolicy | null, vm: VmRef, rules: readonly PortRule[]): JitNetworkAccessPolicy {
  const entry: JitNetworkAccessPolicyVirtualMachine = { id: vm.id, ports: portRulesToWire(rules) };
  const current = existing?.virtualMachines ?? [];
  const at = current.findIndex((v) => vmKey(v.id) === vmKey(vm.id));
  const virtualMachines =
    at < 0
      ? [...current, entry]
      : current.map((v, i) => (i === at ? { ...entry, ...(v.publicIpAddress ? { publicIpAddress: v.publicIpAddress } : {}) } : v));
  return { kind: existing?.kind ?? 'Basic', virtualMachines };
}
