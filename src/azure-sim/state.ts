// The simulated subscription: JIT policies with their request history, the VMs Compute lists, and a
// network security group per VM derived from both. Request statuses and NSG rules are computed from
// the clock when read, so moving the clock is all it takes for an initiate to be applied (Azure
// writes the NSG rule seconds after its 202) and for access to expire.
import type { Clock } from '../app/ports';
import { normalizeSource, prefixContains } from '../core/cidr';
import { toIsoDuration } from '../core/duration';
import type { OsType, Protocol } from '../core/types';
import {
  ArmError,
  JIT_POLICY_TYPE,
  VM_TYPE,
  badRequest,
  hexTag,
  normalizeLocation,
  parseIsoDurationMs,
  parseVmId,
  policyId,
  sameName,
  vmId,
} from './arm';
import type { SimDefender, SimFirewall, SimWorld } from './world';

/** One rule of a VM's simulated network security group (inbound only; JIT touches nothing else). */
export interface NsgRule {
  name: string;
  priority: number;
  direction: 'Inbound';
  access: 'Allow' | 'Deny';
  protocol: Protocol;
  sourceAddressPrefix: string;
  /** As Azure writes it for a grant to several prefixes (then sourceAddressPrefix is empty). */
  sourceAddressPrefixes?: string[];
  destinationAddressPrefix: string;
  /** A port number, or `*`. */
  destinationPortRange: string;
  description: string;
  /** Allow rules written by an initiate: when JIT takes the rule away again. */
  expiresAt?: string;
}

export interface AccessCheck {
  allowed: boolean;
  /** When the allow rule that let the source in goes away. */
  until?: string;
}

export interface WirePortRule {
  number: number;
  protocol: Protocol;
  allowedSourceAddressPrefix?: string;
  allowedSourceAddressPrefixes?: string[];
  maxRequestAccessDuration: string;
}

export interface WirePolicyVm {
  id: string;
  ports: WirePortRule[];
  publicIpAddress?: string;
}

interface StoredRequestPort {
  number: number;
  /** One source, or (as Azure spells it) several in allowedSourceAddressPrefixes; never both. */
  allowedSourceAddressPrefix?: string;
  allowedSourceAddressPrefixes?: string[];
  endTimeUtc: Date;
  /** Behind Azure Firewall: the DNAT port on the firewall's public address. */
  mappedPort?: number;
}

interface StoredRequestVm {
  id: string;
  ports: StoredRequestPort[];
  /** Set when writing the NSG rule fails: Azure's words, shown once the apply time has come. */
  failure?: string;
}

interface StoredRequest {
  /** Order of arrival: with a clock that stands still, start times alone cannot order requests. */
  seq: number;
  startTimeUtc: Date;
  /** When Azure has written the NSG rules: until then every port says `Initiating`. */
  appliesAt: Date;
  requestor: string;
  justification?: string;
  virtualMachines: StoredRequestVm[];
}

interface StoredPolicy {
  resourceGroup: string;
  location: string;
  name: string;
  kind: string;
  virtualMachines: WirePolicyVm[];
  requests: StoredRequest[];
}

/** What local mode saves of the simulator (see SimState.snapshot). */
export interface SimSnapshot {
  version: 1;
  subscriptionId: string;
  seq: number;
  policies: Array<Omit<StoredPolicy, 'requests'> & { requests: Array<Omit<StoredRequest, 'startTimeUtc' | 'appliesAt' | 'virtualMachines'> & { startTimeUtc: string; appliesAt: string; virtualMachines: Array<Omit<StoredRequestVm, 'ports'> & { ports: Array<Omit<StoredRequestPort, 'endTimeUtc'> & { endTimeUtc: string }> }> }> }>;
}

interface VmRecord {
  id: string;
  name: string;
  resourceGroup: string;
  location: string;
  os: OsType;
  tags: Record<string, string>;
  privateIp: string;
  firewall?: SimFirewall;
}

/**
 * `Initiating` until the apply time, then `Initiated`, `Revoked` or, when writing the NSG rule
 * failed, `Failed` with the reason in statusReason. Azure documents no failed status (the spec's
 * enum is Initiated/Revoked, modelled as a string); this is the simulator's stand-in for it.
 */
type PortStatus =
  | { status: 'Initiating' | 'Initiated'; statusReason: 'UserRequested' }
  | { status: 'Revoked'; statusReason: 'Expired' | 'NewerRequestInitiated' }
  | { status: 'Failed'; statusReason: string };

/** Azure's documented limit on the policy name plus the VM name, enforced when the rule is written. */
export const MAX_POLICY_AND_VM_NAME = 56;

export interface SimApplyOptions {
  /** How long after an initiate the NSG rules are in place (0: at once). */
  applyDelayMs?: number;
}

const MIN_MAX_DURATION_MS = 5 * 60_000;
const MAX_MAX_DURATION_MS = 24 * 3_600_000;
/** History is kept per policy; the oldest finished requests go first. */
const MAX_REQUESTS_PER_POLICY = 200;
const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', '*'];

function key(...parts: string[]): string {
  return parts.map((p) => p.toLowerCase()).join('|');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPortNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535;
}

export class SimState {
  readonly subscriptionId: string;
  private readonly vms: VmRecord[];
  private readonly resourceGroups: Set<string>;
  private readonly policies = new Map<string, StoredPolicy>();
  private seq = 0;
  private readonly changeListeners = new Set<() => void>();
  private readonly writeListeners = new Set<() => void>();
  private applyDelayMs: number;
  /** VM name (lower case) → the words every later initiate for it fails with. */
  private readonly applyFailures = new Map<string, string>();
  private defender: SimDefender;

  constructor(
    world: SimWorld,
    private readonly clock: Clock,
    private readonly requestor: string,
    opts: SimApplyOptions = {},
  ) {
    this.subscriptionId = world.subscriptionId;
    this.applyDelayMs = Math.max(0, opts.applyDelayMs ?? 0);
    this.defender = world.defender ?? { pricingTier: 'Standard', subPlan: 'P2' };
    for (const vm of world.vms) if (vm.applyFails) this.applyFailures.set(vm.name.toLowerCase(), vm.applyFails);
    this.vms = world.vms.map((vm, i) => ({
      id: vmId(world.subscriptionId, vm.resourceGroup, vm.name),
      name: vm.name,
      resourceGroup: vm.resourceGroup,
      location: normalizeLocation(vm.location),
      os: vm.os,
      tags: { ...vm.tags },
      privateIp: `10.0.${Math.floor(i / 250)}.${(i % 250) + 4}`,
      ...(vm.firewall ? { firewall: vm.firewall } : {}),
    }));
    this.resourceGroups = new Set(world.vms.map((vm) => vm.resourceGroup.toLowerCase()));
    for (const vm of world.vms) {
      if (!vm.jit) continue;
      const policy = this.policyFor(vm.resourceGroup, normalizeLocation(vm.location), 'default');
      policy.virtualMachines.push({
        id: vmId(world.subscriptionId, vm.resourceGroup, vm.name),
        ports: vm.jit.map((rule) => ({
          number: rule.number,
          protocol: rule.protocol,
          ...(rule.allowedSourcePrefixes.length === 1
            ? { allowedSourceAddressPrefix: rule.allowedSourcePrefixes[0] }
            : { allowedSourceAddressPrefixes: [...rule.allowedSourcePrefixes] }),
          maxRequestAccessDuration: toIsoDuration(rule.maxDurationMinutes),
        })),
        ...(vm.firewall ? { publicIpAddress: vm.firewall.publicIpAddress } : {}),
      });
    }
  }

  // ---- Controls (tests and local mode) ------------------------------------------------------------

  /** Applies to initiates from now on; those already accepted keep the apply time they were given. */
  setApplyDelay(ms: number): void {
    this.applyDelayMs = Math.max(0, ms);
  }

  /** Later initiates for the VM fail at apply time with these words; null makes them succeed again. */
  setApplyFailure(vmName: string, message: string | null): void {
    this.requireVm(vmName);
    if (message === null) this.applyFailures.delete(vmName.toLowerCase());
    else this.applyFailures.set(vmName.toLowerCase(), message);
  }

  setDefender(defender: SimDefender): void {
    this.defender = { ...defender };
  }

  // ---- Defender for Cloud pricing -----------------------------------------------------------------

  /** GET …/providers/Microsoft.Security/pricings/{name}: only the servers plan is simulated. */
  getPricing(name: string): object {
    if (!sameName(name, 'VirtualMachines')) {
      throw new ArmError(404, 'PricingNotFound', `The pricing '${name}' is not simulated; only VirtualMachines (Defender for Servers) is.`);
    }
    return {
      id: `/subscriptions/${this.subscriptionId}/providers/Microsoft.Security/pricings/VirtualMachines`,
      name: 'VirtualMachines',
      type: 'Microsoft.Security/pricings',
      properties: {
        pricingTier: this.defender.pricingTier,
        ...(this.defender.subPlan ? { subPlan: this.defender.subPlan } : {}),
        freeTrialRemainingTime: 'PT0S',
      },
    };
  }

  /** Called after every policy write (the guard opens listeners for newly protected ports). */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Called after every write of policies or request history (local mode saves the state then). */
  onWrite(listener: () => void): () => void {
    this.writeListeners.add(listener);
    return () => this.writeListeners.delete(listener);
  }

  /** Policies and their request history as JSON-safe data, to be restored by a later process. */
  snapshot(): SimSnapshot {
    return {
      version: 1,
      subscriptionId: this.subscriptionId,
      seq: this.seq,
      policies: [...this.policies.values()].map((p) => ({
        ...p,
        virtualMachines: p.virtualMachines.map((v) => ({ ...v, ports: v.ports.map((x) => ({ ...x })) })),
        requests: p.requests.map((r) => ({
          ...r,
          startTimeUtc: r.startTimeUtc.toISOString(),
          appliesAt: r.appliesAt.toISOString(),
          virtualMachines: r.virtualMachines.map((v) => ({ ...v, ports: v.ports.map((x) => ({ ...x, endTimeUtc: x.endTimeUtc.toISOString() })) })),
        })),
      })),
    };
  }

  /**
   * Take over a saved state: its policies and history replace the world's seeded ones. A snapshot of
   * another subscription, or one this version cannot read, is refused (false) and changes nothing.
   */
  restore(saved: unknown): boolean {
    if (!isObject(saved) || saved.version !== 1 || saved.subscriptionId !== this.subscriptionId || !Array.isArray(saved.policies)) return false;
    const policies = new Map<string, StoredPolicy>();
    for (const p of saved.policies as unknown[]) {
      if (!isObject(p) || typeof p.resourceGroup !== 'string' || typeof p.location !== 'string' || typeof p.name !== 'string') return false;
      if (!Array.isArray(p.virtualMachines) || !Array.isArray(p.requests)) return false;
      const requests: StoredRequest[] = [];
      for (const r of p.requests as unknown[]) {
        if (!isObject(r) || typeof r.seq !== 'number' || typeof r.startTimeUtc !== 'string' || !Array.isArray(r.virtualMachines)) return false;
        requests.push({
          seq: r.seq,
          startTimeUtc: new Date(r.startTimeUtc),
          // A request saved before it was applied is applied when it would have been.
          appliesAt: new Date(typeof r.appliesAt === 'string' ? r.appliesAt : r.startTimeUtc),
          requestor: typeof r.requestor === 'string' ? r.requestor : this.requestor,
          ...(typeof r.justification === 'string' ? { justification: r.justification } : {}),
          virtualMachines: (r.virtualMachines as Array<{ id: string; failure?: string; ports: Array<{ number: number; allowedSourceAddressPrefix?: string; allowedSourceAddressPrefixes?: string[]; endTimeUtc: string; mappedPort?: number }> }>).map((v) => ({
            id: v.id,
            ...(typeof v.failure === 'string' ? { failure: v.failure } : {}),
            ports: v.ports.map((x) => ({
              number: x.number,
              ...wireSources(portSources(x)),
              endTimeUtc: new Date(x.endTimeUtc),
              ...(typeof x.mappedPort === 'number' ? { mappedPort: x.mappedPort } : {}),
            })),
          })),
        });
      }
      policies.set(key(p.resourceGroup, p.location, p.name), {
        resourceGroup: p.resourceGroup,
        location: p.location,
        name: p.name,
        kind: typeof p.kind === 'string' ? p.kind : 'Basic',
        virtualMachines: p.virtualMachines as WirePolicyVm[],
        requests,
      });
    }
    this.policies.clear();
    for (const [k, v] of policies) this.policies.set(k, v);
    this.seq = typeof saved.seq === 'number' ? saved.seq : 0;
    this.changed();
    return true;
  }

  isSubscription(id: string): boolean {
    return sameName(id, this.subscriptionId);
  }

  requireResourceGroup(resourceGroup: string): void {
    if (!this.resourceGroups.has(resourceGroup.toLowerCase())) {
      throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${resourceGroup}' could not be found.`);
    }
  }

  // ---- JIT policies ---------------------------------------------------------------------------

  listPolicies(filter: { resourceGroup?: string; location?: string }): object[] {
    const location = filter.location === undefined ? undefined : normalizeLocation(filter.location);
    return [...this.policies.values()]
      .filter((p) => filter.resourceGroup === undefined || sameName(p.resourceGroup, filter.resourceGroup))
      .filter((p) => location === undefined || p.location === location)
      .sort((a, b) => key(a.resourceGroup, a.location, a.name).localeCompare(key(b.resourceGroup, b.location, b.name)))
      .map((p) => this.renderPolicy(p));
  }

  getPolicy(resourceGroup: string, location: string, name: string): object {
    return this.renderPolicy(this.requirePolicy(resourceGroup, location, name));
  }

  /** PUT: the body's VM list replaces the stored one; the request history stays the server's. */
  putPolicy(resourceGroup: string, location: string, name: string, body: unknown): object {
    this.requireResourceGroup(resourceGroup);
    const loc = normalizeLocation(location);
    const virtualMachines = this.readPolicyBody(body, resourceGroup, loc, name);
    const policy = this.policyFor(resourceGroup, loc, name);
    policy.kind = isObject(body) && typeof body.kind === 'string' ? body.kind : 'Basic';
    policy.virtualMachines = virtualMachines;
    this.changed();
    return this.renderPolicy(policy);
  }

  deletePolicy(resourceGroup: string, location: string, name: string): boolean {
    const existed = this.policies.delete(key(resourceGroup, normalizeLocation(location), name));
    if (existed) this.changed();
    return existed;
  }

  /** POST initiate: validated as a subset of the policy, recorded, and answered with the request. */
  initiate(resourceGroup: string, location: string, name: string, body: unknown, callerIp: string): object {
    const policy = this.requirePolicy(resourceGroup, location, name);
    const now = this.clock.now();
    const id = policyId(this.subscriptionId, policy.resourceGroup, policy.location, policy.name);
    const notSubset = (reason: string) =>
      badRequest(`The given access request is not a subset of policy '${id}': ${reason}. Please make sure that the access request is within the allowed policy properties.`);

    if (!isObject(body) || !Array.isArray(body.virtualMachines) || body.virtualMachines.length === 0) {
      throw badRequest("The request must name at least one virtual machine in 'virtualMachines'.", 'InvalidRequestContent');
    }
    if (body.justification !== undefined && body.justification !== null && typeof body.justification !== 'string') {
      throw badRequest("'justification' must be a string.", 'InvalidRequestContent');
    }
    const request: StoredRequest = {
      seq: ++this.seq,
      startTimeUtc: now,
      appliesAt: new Date(now.getTime() + this.applyDelayMs),
      requestor: this.requestor,
      ...(typeof body.justification === 'string' ? { justification: body.justification } : {}),
      virtualMachines: [],
    };
    for (const vmBody of body.virtualMachines as unknown[]) {
      if (!isObject(vmBody) || typeof vmBody.id !== 'string') {
        throw badRequest("Every virtual machine needs an 'id'.", 'InvalidRequestContent');
      }
      const vmName = parseVmId(vmBody.id)?.name ?? vmBody.id;
      const policyVm = policy.virtualMachines.find((v) => sameName(v.id, vmBody.id as string));
      if (!policyVm) throw notSubset(`virtual machine '${vmName}' is not in the policy`);
      if (request.virtualMachines.some((v) => sameName(v.id, policyVm.id))) {
        throw badRequest(`Virtual machine '${vmName}' appears twice in the request.`, 'InvalidRequestContent');
      }
      if (!Array.isArray(vmBody.ports) || vmBody.ports.length === 0) {
        throw badRequest(`The request for virtual machine '${vmName}' must name at least one port.`, 'InvalidRequestContent');
      }
      const ports: StoredRequestPort[] = [];
      for (const portBody of vmBody.ports as unknown[]) {
        if (!isObject(portBody) || !isPortNumber(portBody.number)) {
          throw badRequest(`Every port of virtual machine '${vmName}' needs a 'number' from 0 to 65535.`, 'InvalidRequestContent');
        }
        const number = portBody.number;
        const rule = policyVm.ports.find((p) => p.number === number);
        if (!rule) {
          throw notSubset(`port ${number} is not configured for virtual machine '${vmName}' (configured: ${policyVm.ports.map((p) => p.number).join(', ')})`);
        }
        if (ports.some((p) => p.number === number)) {
          throw badRequest(`Port ${number} appears twice for virtual machine '${vmName}'.`, 'InvalidRequestContent');
        }
        const endTimeUtc = this.readEndTime(portBody, now, vmName, number);
        const maxMs = parseIsoDurationMs(rule.maxRequestAccessDuration) ?? 0;
        const latest = new Date(now.getTime() + maxMs);
        if (endTimeUtc.getTime() > latest.getTime()) {
          throw notSubset(
            `the end time ${endTimeUtc.toISOString()} for port ${number} of virtual machine '${vmName}' is beyond the maximum request duration ${rule.maxRequestAccessDuration} (latest allowed: ${latest.toISOString()})`,
          );
        }
        const single = portBody.allowedSourceAddressPrefix;
        const several = portBody.allowedSourceAddressPrefixes;
        if (single !== undefined && several !== undefined) {
          throw badRequest(`Port ${number} of virtual machine '${vmName}' names both allowedSourceAddressPrefix and allowedSourceAddressPrefixes; they are mutually exclusive.`, 'InvalidRequestContent');
        }
        if (several !== undefined && (!Array.isArray(several) || several.length === 0)) {
          throw badRequest(`'allowedSourceAddressPrefixes' for port ${number} must be a non-empty list of address prefixes.`, 'InvalidRequestContent');
        }
        const requested: unknown[] = several !== undefined ? (several as unknown[]) : [single ?? callerIp];
        const allowed = allowedPrefixes(rule);
        for (const one of requested) {
          if (typeof one !== 'string' || normalizeSource(one) === null) {
            throw badRequest(`The allowed source address prefix '${String(one)}' for port ${number} must be a valid IPv4 Address Prefix, IPv6 Address Prefix or '*'.`, 'InvalidRequestContent');
          }
          if (!allowed.some((prefix) => prefixContains(prefix, one))) {
            throw notSubset(`source '${one}' for port ${number} of virtual machine '${vmName}' is not within the allowed source prefixes (${allowed.join(', ')})`);
          }
        }
        const mappedPort = policyVm.publicIpAddress ? this.mappedPort(policyVm.id, number) : undefined;
        ports.push({ number, ...wireSources(requested as string[]), endTimeUtc, ...(mappedPort !== undefined ? { mappedPort } : {}) });
      }
      const failure = this.applyFailure(policy, policyVm.id);
      request.virtualMachines.push({ id: policyVm.id, ports, ...(failure ? { failure } : {}) });
    }
    policy.requests.push(request);
    this.trimHistory(policy);
    this.written();
    return {
      virtualMachines: request.virtualMachines.map((v) => ({
        id: v.id,
        ports: v.ports.map((p) => ({
          number: p.number,
          ...wireSources(portSources(p)),
          endTimeUtc: p.endTimeUtc.toISOString(),
          // Azure answers before its NSG change is applied, even when that takes no time at all.
          status: 'Initiating',
          statusReason: 'UserRequested',
          ...(p.mappedPort !== undefined ? { mappedPort: p.mappedPort } : {}),
        })),
      })),
      startTimeUtc: request.startTimeUtc.toISOString(),
      requestor: request.requestor,
      ...(request.justification !== undefined ? { justification: request.justification } : {}),
    };
  }

  // ---- Compute ------------------------------------------------------------------------------------

  listComputeVms(resourceGroup?: string): object[] {
    return this.vms.filter((vm) => resourceGroup === undefined || sameName(vm.resourceGroup, resourceGroup)).map((vm) => this.renderVm(vm));
  }

  getComputeVm(resourceGroup: string, name: string): object {
    const vm = this.vms.find((v) => sameName(v.resourceGroup, resourceGroup) && sameName(v.name, name));
    if (!vm) {
      throw new ArmError(404, 'ResourceNotFound', `The Resource '${VM_TYPE}/${name}' under resource group '${resourceGroup}' was not found.`);
    }
    return this.renderVm(vm);
  }

  // ---- Network ------------------------------------------------------------------------------------

  /** The VM's inbound rules in priority order: JIT allow rules, JIT deny rules, Azure's final deny-all. */
  nsg(vmName: string): NsgRule[] {
    const vm = this.requireVm(vmName);
    const now = this.clock.now();
    const allow: NsgRule[] = [];
    const deny: NsgRule[] = [];
    for (const policy of this.policies.values()) {
      const policyVm = policy.virtualMachines.find((v) => sameName(v.id, vm.id));
      if (policyVm) {
        for (const port of policyVm.ports) {
          deny.push({
            name: `SecurityCenter-JITRule_${hashInt(`${vm.id}|${port.number}`)}_${hexTag(`deny|${vm.id}|${port.number}`)}`,
            priority: 0,
            direction: 'Inbound',
            access: 'Deny',
            protocol: '*',
            sourceAddressPrefix: '*',
            destinationAddressPrefix: vm.privateIp,
            destinationPortRange: String(port.number),
            description: `ASC JIT Network Access rule for policy '${policy.name}' of VM '${vm.name}'.`,
          });
        }
      }
      for (const request of policy.requests) {
        for (const requestVm of request.virtualMachines) {
          if (!sameName(requestVm.id, vm.id)) continue;
          for (const port of requestVm.ports) {
            if (this.portStatus(policy, request, requestVm, port, now).status !== 'Initiated') continue;
            const protocol = policyVm?.ports.find((p) => p.number === port.number)?.protocol ?? '*';
            allow.push({
              name: `SecurityCenter-JITRule-${hashInt(`${request.seq}|${port.number}`) >>> 0}-${hexTag(`allow|${vm.id}|${request.seq}|${port.number}`)}`,
              priority: 0,
              direction: 'Inbound',
              access: 'Allow',
              protocol,
              ...nsgSources(portSources(port)),
              destinationAddressPrefix: vm.privateIp,
              destinationPortRange: String(port.number),
              description: `ASC JIT Network Access rule created by an initiation request for policy '${policy.name}' of VM '${vm.name}'.`,
              expiresAt: port.endTimeUtc.toISOString(),
            });
          }
        }
      }
    }
    allow.forEach((rule, i) => (rule.priority = 100 + i));
    deny.forEach((rule, i) => (rule.priority = 1000 + i));
    const denyAll: NsgRule = {
      name: 'DenyAllInBound',
      priority: 65500,
      direction: 'Inbound',
      access: 'Deny',
      protocol: '*',
      sourceAddressPrefix: '*',
      destinationAddressPrefix: '*',
      destinationPortRange: '*',
      description: 'Deny all inbound traffic',
    };
    return [...allow, ...deny, denyAll];
  }

  /** Would the NSG let `source` reach `port` of the VM now? The first matching rule by priority decides. */
  check(vmName: string, port: number, source: string): AccessCheck {
    if (normalizeSource(source) === null || source.trim() === '*') {
      throw badRequest(`'${source}' is not an IP address.`, 'InvalidRequestContent');
    }
    for (const rule of this.nsg(vmName)) {
      if (rule.destinationPortRange !== '*' && rule.destinationPortRange !== String(port)) continue;
      if (!(rule.sourceAddressPrefixes ?? [rule.sourceAddressPrefix]).some((prefix) => prefixContains(prefix, source))) continue;
      return rule.access === 'Allow' ? { allowed: true, ...(rule.expiresAt ? { until: rule.expiresAt } : {}) } : { allowed: false };
    }
    return { allowed: false };
  }

  /** Every (VM name, port) a policy covers now. */
  protectedPorts(): Array<{ vmName: string; port: number }> {
    const out: Array<{ vmName: string; port: number }> = [];
    for (const policy of this.policies.values()) {
      for (const policyVm of policy.virtualMachines) {
        const vm = this.vms.find((v) => sameName(v.id, policyVm.id));
        if (!vm) continue;
        for (const port of policyVm.ports) out.push({ vmName: vm.name, port: port.number });
      }
    }
    return out;
  }

  // ---- internals ----------------------------------------------------------------------------------

  private changed(): void {
    for (const listener of this.changeListeners) listener();
    this.written();
  }

  private written(): void {
    for (const listener of this.writeListeners) listener();
  }

  private requireVm(vmName: string): VmRecord {
    const matches = this.vms.filter((v) => sameName(v.name, vmName) || sameName(v.id, vmName));
    if (matches.length === 0) throw new ArmError(404, 'ResourceNotFound', `No virtual machine named '${vmName}'.`);
    if (matches.length > 1) throw badRequest(`'${vmName}' names several virtual machines; use the resource id.`);
    return matches[0];
  }

  private requirePolicy(resourceGroup: string, location: string, name: string): StoredPolicy {
    this.requireResourceGroup(resourceGroup);
    const policy = this.policies.get(key(resourceGroup, normalizeLocation(location), name));
    if (!policy) {
      throw new ArmError(404, 'ResourceNotFound', `The Resource '${JIT_POLICY_TYPE}/${name}' under resource group '${resourceGroup}' was not found.`);
    }
    return policy;
  }

  /** The stored policy, created empty on first write (keeping the casing of that first write). */
  private policyFor(resourceGroup: string, location: string, name: string): StoredPolicy {
    const k = key(resourceGroup, location, name);
    let policy = this.policies.get(k);
    if (!policy) {
      policy = { resourceGroup, location, name, kind: 'Basic', virtualMachines: [], requests: [] };
      this.policies.set(k, policy);
    }
    return policy;
  }

  private readEndTime(portBody: Record<string, unknown>, now: Date, vmName: string, number: number): Date {
    let end: Date;
    if (typeof portBody.endTimeUtc === 'string') {
      end = new Date(portBody.endTimeUtc);
      if (Number.isNaN(end.getTime())) {
        throw badRequest(`The end time '${portBody.endTimeUtc}' for port ${number} of virtual machine '${vmName}' is not a date-time.`, 'InvalidRequestContent');
      }
    } else if (typeof portBody.duration === 'string' && parseIsoDurationMs(portBody.duration) !== null) {
      // Scripts and the portal's Connect blade send `duration` instead of `endTimeUtc`.
      end = new Date(now.getTime() + (parseIsoDurationMs(portBody.duration) ?? 0));
    } else {
      throw badRequest(`Port ${number} of virtual machine '${vmName}' needs an 'endTimeUtc'.`, 'InvalidRequestContent');
    }
    if (end.getTime() <= now.getTime()) {
      throw badRequest(`The end time ${end.toISOString()} for port ${number} of virtual machine '${vmName}' is not in the future.`, 'InvalidRequestContent');
    }
    return end;
  }

  /** Validates a PUT body the way Azure does and keeps only the fields Azure keeps. */
  private readPolicyBody(body: unknown, resourceGroup: string, location: string, name: string): WirePolicyVm[] {
    const properties = isObject(body) ? body.properties : undefined;
    if (!isObject(properties) || !Array.isArray(properties.virtualMachines)) {
      throw badRequest("The policy must have 'properties.virtualMachines'.", 'InvalidRequestContent');
    }
    const out: WirePolicyVm[] = [];
    for (const vmBody of properties.virtualMachines as unknown[]) {
      if (!isObject(vmBody) || typeof vmBody.id !== 'string') {
        throw badRequest("Every virtual machine in the policy needs an 'id'.", 'InvalidRequestContent');
      }
      const parts = parseVmId(vmBody.id);
      const vm = this.vms.find((v) => sameName(v.id, vmBody.id as string));
      if (!parts || !vm) {
        throw badRequest(`Virtual machine '${vmBody.id}' was not found in subscription '${this.subscriptionId}'.`, 'InvalidResourceId');
      }
      if (!sameName(vm.resourceGroup, resourceGroup) || vm.location !== location) {
        throw badRequest(`Virtual machine '${vm.name}' is in resource group '${vm.resourceGroup}', region '${vm.location}'; a policy in '${resourceGroup}', '${location}' cannot protect it.`);
      }
      if (out.some((v) => sameName(v.id, vm.id))) {
        throw badRequest(`Virtual machine '${vm.name}' appears twice in the policy.`, 'InvalidRequestContent');
      }
      for (const other of this.policies.values()) {
        const sameTarget = sameName(other.resourceGroup, resourceGroup) && other.location === location && sameName(other.name, name);
        if (!sameTarget && other.virtualMachines.some((v) => sameName(v.id, vm.id))) {
          throw new ArmError(409, 'Conflict', `Virtual machine '${vm.name}' is already protected by policy '${other.name}' in '${other.resourceGroup}'.`);
        }
      }
      if (!Array.isArray(vmBody.ports) || vmBody.ports.length === 0) {
        throw badRequest(`Virtual machine '${vm.name}' must have at least one port rule.`, 'InvalidRequestContent');
      }
      const ports = (vmBody.ports as unknown[]).map((p) => readPortRule(p, vm.name));
      const numbers = new Set<number>();
      for (const p of ports) {
        if (numbers.has(p.number)) throw badRequest(`Port ${p.number} appears twice for virtual machine '${vm.name}'.`, 'InvalidRequestContent');
        numbers.add(p.number);
      }
      // Azure fills in the firewall's address for a VM behind one, whatever the client sent.
      const publicIpAddress = vm.firewall?.publicIpAddress ?? (typeof vmBody.publicIpAddress === 'string' ? vmBody.publicIpAddress : undefined);
      out.push({ id: vm.id, ports, ...(publicIpAddress ? { publicIpAddress } : {}) });
    }
    return out;
  }

  /**
   * A port of a request is superseded when a later request for the same VM and port arrived while it
   * was still open, and expired once the clock passes its end.
   */
  private portStatus(policy: StoredPolicy, request: StoredRequest, requestVm: StoredRequestVm, port: StoredRequestPort, now: Date): PortStatus {
    if (now.getTime() < request.appliesAt.getTime()) return { status: 'Initiating', statusReason: 'UserRequested' };
    if (requestVm.failure !== undefined) return { status: 'Failed', statusReason: requestVm.failure };
    // A newer request replaces this one once Azure has written the newer rule, not before.
    const superseded = policy.requests.some(
      (later) =>
        later.seq > request.seq &&
        later.startTimeUtc.getTime() < port.endTimeUtc.getTime() &&
        now.getTime() >= later.appliesAt.getTime() &&
        later.virtualMachines.some((v) => sameName(v.id, requestVm.id) && v.failure === undefined && v.ports.some((p) => p.number === port.number)),
    );
    if (superseded) return { status: 'Revoked', statusReason: 'NewerRequestInitiated' };
    if (now.getTime() >= port.endTimeUtc.getTime()) return { status: 'Revoked', statusReason: 'Expired' };
    return { status: 'Initiated', statusReason: 'UserRequested' };
  }

  /**
   * Why writing the NSG rule for this VM will fail, if it will. Azure checks the 56-character limit
   * on policy name plus VM name here, not when the policy is saved.
   */
  private applyFailure(policy: StoredPolicy, vmIdText: string): string | undefined {
    const vm = this.vms.find((v) => sameName(v.id, vmIdText));
    if (!vm) return undefined;
    if (policy.name.length + vm.name.length > MAX_POLICY_AND_VM_NAME) {
      return `The policy name '${policy.name}' together with the virtual machine name '${vm.name}' exceeds ${MAX_POLICY_AND_VM_NAME} characters, so the network security group rule could not be created.`;
    }
    return this.applyFailures.get(vm.name.toLowerCase());
  }

  private mappedPort(vmIdText: string, port: number): number | undefined {
    const vm = this.vms.find((v) => sameName(v.id, vmIdText));
    if (!vm?.firewall) return undefined;
    const mapped = vm.firewall.mappedPorts[port];
    if (mapped !== undefined) return mapped;
    return port + 50_000 <= 65_535 ? port + 50_000 : port;
  }

  private trimHistory(policy: StoredPolicy): void {
    const now = this.clock.now();
    while (policy.requests.length > MAX_REQUESTS_PER_POLICY) {
      const index = policy.requests.findIndex((r) =>
        r.virtualMachines.every((v) => v.ports.every((p) => !/^Initiat/.test(this.portStatus(policy, r, v, p, now).status))),
      );
      if (index < 0) return;
      policy.requests.splice(index, 1);
    }
  }

  private renderPolicy(policy: StoredPolicy): object {
    const now = this.clock.now();
    return {
      id: policyId(this.subscriptionId, policy.resourceGroup, policy.location, policy.name),
      name: policy.name,
      type: JIT_POLICY_TYPE,
      location: policy.location,
      kind: policy.kind,
      properties: {
        virtualMachines: structuredClone(policy.virtualMachines),
        requests: policy.requests.map((r) => ({
          virtualMachines: r.virtualMachines.map((v) => ({
            id: v.id,
            ports: v.ports.map((p) => ({
              number: p.number,
              ...wireSources(portSources(p)),
              endTimeUtc: p.endTimeUtc.toISOString(),
              ...this.portStatus(policy, r, v, p, now),
              ...(p.mappedPort !== undefined ? { mappedPort: p.mappedPort } : {}),
            })),
          })),
          startTimeUtc: r.startTimeUtc.toISOString(),
          requestor: r.requestor,
          ...(r.justification !== undefined ? { justification: r.justification } : {}),
        })),
        provisioningState: 'Succeeded',
      },
    };
  }

  private renderVm(vm: VmRecord): object {
    const osType = vm.os === 'windows' ? 'Windows' : 'Linux';
    return {
      id: vm.id,
      name: vm.name,
      type: VM_TYPE,
      location: vm.location,
      tags: { ...vm.tags },
      properties: {
        vmId: uuidFrom(vm.id),
        provisioningState: 'Succeeded',
        hardwareProfile: { vmSize: vm.os === 'windows' ? 'Standard_D2s_v5' : 'Standard_B2s' },
        storageProfile: { osDisk: { osType, name: `${vm.name}_OsDisk_1_${hexTag(vm.id)}`, createOption: 'FromImage', caching: 'ReadWrite' } },
      },
    };
  }
}

function readPortRule(value: unknown, vmName: string): WirePortRule {
  if (!isObject(value) || !isPortNumber(value.number)) {
    throw badRequest(`Every port rule of virtual machine '${vmName}' needs a 'number' from 0 to 65535.`, 'InvalidRequestContent');
  }
  const number = value.number;
  const protocolText = typeof value.protocol === 'string' ? value.protocol.toUpperCase() : '';
  const protocol = PROTOCOLS.find((p) => p === protocolText);
  if (!protocol) {
    throw badRequest(`Port ${number} of virtual machine '${vmName}' has protocol '${String(value.protocol)}'; use TCP, UDP or *.`, 'InvalidRequestContent');
  }
  const single = value.allowedSourceAddressPrefix;
  const several = value.allowedSourceAddressPrefixes;
  if (single !== undefined && single !== null && several !== undefined && several !== null) {
    throw badRequest(`Port ${number} of virtual machine '${vmName}' sets both allowedSourceAddressPrefix and allowedSourceAddressPrefixes; use one.`, 'InvalidRequestContent');
  }
  const prefixes = several ?? (single === undefined || single === null ? [] : [single]);
  if (Array.isArray(several) && several.length === 0) {
    throw badRequest(`Port ${number} of virtual machine '${vmName}' has an empty allowedSourceAddressPrefixes; name at least one prefix or '*'.`, 'InvalidRequestContent');
  }
  if (!Array.isArray(prefixes) || prefixes.some((p) => typeof p !== 'string' || normalizeSource(p) === null)) {
    throw badRequest(`Port ${number} of virtual machine '${vmName}' has an allowed source that is not '*', an IP address or a CIDR.`, 'InvalidRequestContent');
  }
  const maxText = value.maxRequestAccessDuration;
  const maxMs = typeof maxText === 'string' ? parseIsoDurationMs(maxText) : null;
  if (typeof maxText !== 'string' || maxMs === null || maxMs < MIN_MAX_DURATION_MS || maxMs > MAX_MAX_DURATION_MS) {
    throw badRequest(
      `Port ${number} of virtual machine '${vmName}' has maxRequestAccessDuration '${String(maxText)}'; use an ISO 8601 duration from PT5M to PT24H.`,
      'InvalidRequestContent',
    );
  }
  return {
    number,
    protocol,
    ...(several !== undefined && several !== null
      ? { allowedSourceAddressPrefixes: [...(several as string[])] }
      : single !== undefined && single !== null
        ? { allowedSourceAddressPrefix: single as string }
        : {}),
    maxRequestAccessDuration: maxText,
  };
}

/** A policy port without any source field allows any source, as the portal's "Any" default does. */
/** The sources of a request port, whichever of Azure's two spellings it came in. */
function portSources(p: { allowedSourceAddressPrefix?: string; allowedSourceAddressPrefixes?: string[] }): string[] {
  return p.allowedSourceAddressPrefixes ?? (p.allowedSourceAddressPrefix !== undefined ? [p.allowedSourceAddressPrefix] : []);
}

/** Azure's spelling for a request port: the singular field for one source, the list for several. */
function wireSources(sources: string[]): { allowedSourceAddressPrefix: string } | { allowedSourceAddressPrefixes: string[] } {
  return sources.length === 1 ? { allowedSourceAddressPrefix: sources[0] } : { allowedSourceAddressPrefixes: [...sources] };
}

/** And for a security rule: one rule covers every source of the grant, as Azure writes it. */
function nsgSources(sources: string[]): Pick<NsgRule, 'sourceAddressPrefix' | 'sourceAddressPrefixes'> {
  return sources.length === 1 ? { sourceAddressPrefix: sources[0] } : { sourceAddressPrefix: '', sourceAddressPrefixes: [...sources] };
}

function allowedPrefixes(rule: WirePortRule): string[] {
  if (rule.allowedSourceAddressPrefixes && rule.allowedSourceAddressPrefixes.length > 0) return rule.allowedSourceAddressPrefixes;
  return [rule.allowedSourceAddressPrefix ?? '*'];
}

function hashInt(text: string): number {
  return parseInt(hexTag(text, 8), 16) | 0;
}

function uuidFrom(text: string): string {
  const h = hexTag(text, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
