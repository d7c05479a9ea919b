// The `azure:` section of a world file (examples/local.yaml) → SimWorld. Every mistake names its
// place in the file (`azure.vms[2].jit[0].max`) so a wrong world fails at start with one clear line.
import { isIP } from 'node:net';
import { describeSourceProblem, normalizeSource } from '../core/cidr';
import { MAX_DURATION_MINUTES, MIN_DURATION_MINUTES, parseDuration } from '../core/duration';
import { JitError } from '../core/errors';
import type { OsType, PortRule, Protocol } from '../core/types';
import type { SimDefender, SimFirewall, SimVm, SimWorld } from './world';

const SUBSCRIPTION_ID = /^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i;
const RESOURCE_GROUP = /^[-\w._()]{1,90}$/;
const VM_NAME = /^[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$/;
const NAMED_PORTS: Record<string, number> = { ssh: 22, rdp: 3389, winrm: 5985, 'winrm-https': 5986 };
/** Azure's own defaults for a port enabled from the portal. */
const DEFAULT_PROTOCOL: Protocol = '*';
const DEFAULT_MAX_MINUTES = 180;

function fail(path: string, problem: string): never {
  throw new JitError('config', `${path}: ${problem}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requireString(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.trim() === '') fail(path, 'is required and must be text');
  return value.trim();
}

/** Reads the `azure:` section of a parsed world/config document. */
export function worldFromYaml(doc: unknown): SimWorld {
  if (!isRecord(doc) || !isRecord(doc.azure)) fail('azure', 'the world file needs an `azure:` section with subscriptionId and vms');
  const azure = doc.azure;
  // The same default as the config loader: a world file for local mode need not invent a GUID.
  const subscriptionId = azure.subscriptionId === undefined ? '00000000-0000-0000-0000-000000000000' : requireString(azure.subscriptionId, 'azure.subscriptionId');
  if (!SUBSCRIPTION_ID.test(subscriptionId)) fail('azure.subscriptionId', `"${subscriptionId}" is not a subscription id (a GUID)`);
  if (azure.guard !== undefined && typeof azure.guard !== 'boolean') fail('azure.guard', 'must be true or false');
  const vmsValue = azure.vms ?? [];
  if (!Array.isArray(vmsValue)) fail('azure.vms', 'must be a list of VMs');
  const vms = vmsValue.map((value, i) => readVm(value, `azure.vms[${i}]`));
  const seen = new Map<string, string>();
  vms.forEach((vm, i) => {
    const k = `${vm.resourceGroup}/${vm.name}`.toLowerCase();
    const earlier = seen.get(k);
    if (earlier !== undefined) fail(`azure.vms[${i}].name`, `"${vm.name}" is already used by ${earlier} in resource group ${vm.resourceGroup}`);
    seen.set(k, `azure.vms[${i}]`);
  });
  const defender = azure.defender === undefined ? undefined : readDefender(azure.defender);
  return { subscriptionId, guard: azure.guard === true, vms, ...(defender ? { defender } : {}) };
}

/** `defender: { tier: Standard, subPlan: P2 }` or `defender: { tier: Free }`. */
function readDefender(value: unknown): SimDefender {
  if (!isRecord(value)) fail('azure.defender', 'must be a map like { tier: Standard, subPlan: P2 }');
  const tier = requireString(value.tier, 'azure.defender.tier');
  if (tier !== 'Free' && tier !== 'Standard') fail('azure.defender.tier', `"${tier}" is not Free or Standard`);
  if (value.subPlan === undefined) return { pricingTier: tier };
  const subPlan = requireString(value.subPlan, 'azure.defender.subPlan');
  if (!/^P[12]$/.test(subPlan)) fail('azure.defender.subPlan', `"${subPlan}" is not P1 or P2`);
  return { pricingTier: tier, subPlan };
}

/** `firewall: { publicIp: 203.0.113.50, ports: { 22: 50022 } }`. */
function readFirewall(value: unknown, path: string): SimFirewall {
  if (!isRecord(value)) fail(path, 'must be a map like { publicIp: 203.0.113.50, ports: { 22: 50022 } }');
  const publicIpAddress = requireString(value.publicIp, `${path}.publicIp`);
  if (isIP(publicIpAddress) === 0) {
    fail(`${path}.publicIp`, `"${publicIpAddress}" is not an IP address`);
  }
  const mappedPorts: Record<number, number> = {};
  if (value.ports !== undefined) {
    if (!isRecord(value.ports)) fail(`${path}.ports`, 'must map VM ports to firewall ports, like { 22: 50022 }');
    for (const [from, to] of Object.entries(value.ports)) {
      const vmPort = Number(from);
      if (!Number.isInteger(vmPort) || vmPort < 1 || vmPort > 65535) fail(`${path}.ports.${from}`, 'is not a port number');
      if (typeof to !== 'number' || !Number.isInteger(to) || to < 1 || to > 65535) fail(`${path}.ports.${from}`, `${JSON.stringify(to)} is not a port number`);
      mappedPorts[vmPort] = to;
    }
  }
  return { publicIpAddress, mappedPorts };
}

function readVm(value: unknown, path: string): SimVm {
  if (!isRecord(value)) fail(path, 'must be a map with name, resourceGroup, location and os');
  const name = requireString(value.name, `${path}.name`);
  if (!VM_NAME.test(name)) fail(`${path}.name`, `"${name}" is not a valid VM name`);
  const resourceGroup = requireString(value.resourceGroup, `${path}.resourceGroup`);
  if (!RESOURCE_GROUP.test(resourceGroup)) fail(`${path}.resourceGroup`, `"${resourceGroup}" is not a valid resource group name`);
  const location = requireString(value.location, `${path}.location`).replace(/\s+/g, '').toLowerCase();
  const osText = requireString(value.os, `${path}.os`).toLowerCase();
  if (osText !== 'linux' && osText !== 'windows') fail(`${path}.os`, `"${osText}" is not linux or windows`);
  const os: OsType = osText;
  const tags: Record<string, string> = {};
  if (value.tags !== undefined && value.tags !== null) {
    if (!isRecord(value.tags)) fail(`${path}.tags`, 'must be a map of tag names to values');
    for (const [k, v] of Object.entries(value.tags)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') fail(`${path}.tags.${k}`, 'must be text');
      tags[k] = String(v);
    }
  }
  let jit: PortRule[] | null = null;
  if (value.jit !== undefined && value.jit !== null) {
    if (!Array.isArray(value.jit) || value.jit.length === 0) fail(`${path}.jit`, 'must be a non-empty list of port rules (leave it out for a VM without JIT)');
    jit = value.jit.map((rule, j) => readRule(rule, `${path}.jit[${j}]`));
    const ports = new Set<number>();
    jit.forEach((rule, j) => {
      if (ports.has(rule.number)) fail(`${path}.jit[${j}].port`, `port ${rule.number} is listed twice`);
      ports.add(rule.number);
    });
  }
  const firewall = value.firewall === undefined ? undefined : readFirewall(value.firewall, `${path}.firewall`);
  let applyFails: string | undefined;
  if (value.applyFails !== undefined) applyFails = requireString(value.applyFails, `${path}.applyFails`);
  return { name, resourceGroup, location, os, tags, jit, ...(firewall ? { firewall } : {}), ...(applyFails ? { applyFails } : {}) };
}

function readRule(value: unknown, path: string): PortRule {
  if (!isRecord(value)) fail(path, 'must be a map like { port: 22, protocol: TCP, from: [10.0.0.0/8], max: PT3H }');
  let number: number;
  if (typeof value.port === 'string' && NAMED_PORTS[value.port.toLowerCase()] !== undefined) {
    number = NAMED_PORTS[value.port.toLowerCase()];
  } else if (typeof value.port === 'number' && Number.isInteger(value.port) && value.port >= 1 && value.port <= 65535) {
    number = value.port;
  } else {
    fail(`${path}.port`, `${JSON.stringify(value.port)} is not a port (1-65535, ssh, rdp, winrm or winrm-https)`);
  }
  let protocol: Protocol = DEFAULT_PROTOCOL;
  if (value.protocol !== undefined) {
    const text = String(value.protocol).toUpperCase();
    if (text !== 'TCP' && text !== 'UDP' && text !== '*') fail(`${path}.protocol`, `"${String(value.protocol)}" is not TCP, UDP or *`);
    protocol = text;
  }
  const fromValue = value.from ?? ['*'];
  const fromList = typeof fromValue === 'string' ? [fromValue] : fromValue;
  if (!Array.isArray(fromList) || fromList.length === 0) fail(`${path}.from`, 'must be * or a list of addresses and CIDRs');
  const allowedSourcePrefixes = fromList.map((entry, k) => {
    const text = typeof entry === 'string' ? entry : String(entry);
    const problem = describeSourceProblem(text);
    if (problem !== null) fail(`${path}.from[${k}]`, problem);
    return normalizeSource(text) ?? text;
  });
  let maxDurationMinutes = DEFAULT_MAX_MINUTES;
  if (value.max !== undefined) {
    const minutes = typeof value.max === 'string' ? parseDuration(value.max) : null;
    if (minutes === null || minutes < MIN_DURATION_MINUTES || minutes > MAX_DURATION_MINUTES) {
      fail(`${path}.max`, `${JSON.stringify(value.max)} is not a duration from 5 minutes to 24 hours (like PT3H or 90m)`);
    }
    maxDurationMinutes = minutes;
  }
  return { number, protocol, allowedSourcePrefixes, maxDurationMinutes };
}
