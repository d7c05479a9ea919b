// The bot's access rules applied: who a person is, which rule governs a VM, whether a request may be
// made and on what terms, and who may decide it. Pure: the caller passes the policy and the VMs.
import { DEFAULT_SOURCE_LIMITS, describeAddressCount, describeAddressTotal, sourcesText, isPrivatePrefix, isWiderThan, normalizeSource, singleAddress, sourceAllowed, ANY_SOURCE, FROM_ME, type SourceLimits } from './cidr';
import type { RequestCommand } from './command';
import { formatDuration, MAX_DURATION_MINUTES, MIN_DURATION_MINUTES } from './duration';
import { normalizeEmail, sameEmail } from './email';
import { JitError } from './errors';
import { isGlob, matchGlob } from './glob';
import type { AccessPolicy, AccessRule, Person, Principal, UnknownGroup, VmSelector } from './policy';
import { quoteWord } from './text';
import type { AccessRequest, PortRule, PortSpec, Vm } from './types';
import { formatPort } from './views';
import { matchVmName, resolveVmNames, splitVmName, unknownVmError } from './vm-names';

export { resolveVmNames, type VmResolution } from './vm-names';

/** A request that passed every check, ready to become an AccessRequest. */
export interface RequestDraft {
  vms: Vm[];
  /** Protocol resolved to the policy's. */
  ports: PortSpec[];
  /** A prefix, or FROM_ME when the requester's address is to be captured by the one-time link. */
  source: string;
  /** Several prefixes, when the source was not named and the policy lists several; `source` is the first. */
  sources?: string[];
  /** Set when the source was not named and the policy's range was taken: how wide that is. */
  sourceNote?: string;
  durationMinutes: number;
  /** The smallest port maximum, and the rule's `max`: how long the ports may stay open from any moment. */
  maxOpenMinutes: number;
  reason: string;
  rule: AccessRule;
  requiredApprovals: number;
  autoApprove: boolean;
}

export type Evaluation = { ok: true; draft: RequestDraft } | { ok: false; error: JitError };

export type Decidability = { ok: true } | { ok: false; reason: string };

const UNKNOWN_PERSON = "you are not in jitbot's access list; ask an admin";

export function findPerson(policy: AccessPolicy, email: string | null): Person | null {
  const e = normalizeEmail(email);
  if (!e) return null;
  return policy.people.find((p) => normalizeEmail(p.email) === e) ?? null;
}

/** `*` is anyone in the config, `group:<name>` a member of that group, anything else an email. */
export function hasPrincipal(person: Person, principals: readonly Principal[]): boolean {
  const email = person.email.toLowerCase();
  const groups = person.groups.map((g) => g.toLowerCase());
  return principals.some((raw) => {
    const p = raw.trim().toLowerCase();
    if (p === '*') return true;
    if (p.startsWith('group:')) return groups.includes(p.slice('group:'.length));
    return p === email;
  });
}

/**
 * The first group among the principals whose membership the person's directory could not confirm,
 * when nothing else names them: the reason they are refused is then the directory, not the rule.
 */
export function unknownMembership(person: Person, principals: readonly Principal[]): UnknownGroup | null {
  if (!person.unknownGroups?.length || hasPrincipal(person, principals)) return null;
  const named = new Set(principals.map((p) => p.trim().toLowerCase()).filter((p) => p.startsWith('group:')).map((p) => p.slice('group:'.length)));
  return person.unknownGroups.find((u) => named.has(u.group.toLowerCase())) ?? null;
}

/** What the person is told when a directory that holds one of their groups did not answer. */
export function directoryUnreachable(u: UnknownGroup): string {
  if (u.why === 'not-permitted') {
    return `jitbot is not permitted to read the directory (${u.directory}), so your membership of group:${u.group} can't be checked; ask whoever runs jitbot to grant it access`;
  }
  return `the directory (${u.directory}) could not be reached, so your membership of group:${u.group} can't be checked; try again shortly`;
}

/**
 * Said to someone in no `people:` entry while a directory that could make them known did not answer.
 * It names the directory, not its groups: the person may be a stranger.
 */
export function accessUnchecked(unchecked: readonly UnknownGroup[]): string {
  const refused = unchecked.find((u) => u.why === 'not-permitted');
  if (refused) return `jitbot could not check your access: it is not permitted to read the directory (${refused.directory}); ask whoever runs jitbot to grant it access`;
  const directories = [...new Set(unchecked.map((u) => u.directory))].join(', ');
  return `jitbot could not check your access: the directory (${directories}) could not be reached, so your group memberships can't be checked; try again shortly`;
}

/**
 * True when a directory group is among the principals: its members are not all in the file, so a
 * count of the file's people says nothing about how many may approve.
 */
function namesDirectoryGroup(policy: AccessPolicy, principals: readonly Principal[]): boolean {
  const directory = new Set((policy.directoryGroups ?? []).map((g) => g.toLowerCase()));
  return principals.some((p) => {
    const q = p.trim().toLowerCase();
    return q.startsWith('group:') && directory.has(q.slice('group:'.length));
  });
}

export function isAdmin(policy: AccessPolicy, person: Person | null): boolean {
  return person !== null && hasPrincipal(person, policy.admins);
}

function selectorMatches(selector: VmSelector, vm: Vm): boolean {
  const tags = Object.entries(selector.tags ?? {});
  if (selector.names === undefined && selector.resourceGroups === undefined && tags.length === 0) return false;
  if (selector.names !== undefined && !selector.names.some((glob) => matchGlob(glob, vm.name))) return false;
  if (
    selector.resourceGroups !== undefined &&
    !selector.resourceGroups.some((rg) => rg.toLowerCase() === vm.resourceGroup.toLowerCase())
  ) {
    return false;
  }
  // Azure compares tag names without case and tag values with it.
  const vmTags = new Map(Object.entries(vm.tags).map(([k, v]) => [k.toLowerCase(), v]));
  return tags.every(([key, value]) => vmTags.get(key.toLowerCase()) === value);
}

/** The first rule whose selector matches, as in a firewall. */
export function ruleForVm(policy: AccessPolicy, vm: Vm): AccessRule | null {
  return policy.rules.find((rule) => selectorMatches(rule.vms, vm)) ?? null;
}

function mayRequest(policy: AccessPolicy, person: Person, vm: Vm): boolean {
  const rule = ruleForVm(policy, vm);
  return rule !== null && hasPrincipal(person, rule.requesters);
}

/**
 * Whether a VM's grants and refusals may be shown to this person: admins, and whoever its rule lets
 * request or approve it. Everyone else learns nothing about who holds it open, from where or why.
 */
export function maySeeVm(policy: AccessPolicy, person: Person | null, vm: Vm): boolean {
  if (!person) return false;
  if (isAdmin(policy, person)) return true;
  const rule = ruleForVm(policy, vm);
  return rule !== null && (hasPrincipal(person, rule.requesters) || hasPrincipal(person, rule.approvers));
}

/**
 * Whether this person is part of the request: its requester, an approver under its rule (escalation
 * people too, once it was escalated to them), someone who decided it, or an admin. Only they are
 * shown the request itself (who, what, from where, why).
 */
export function isPartOf(policy: AccessPolicy, person: Person | null, request: AccessRequest): boolean {
  if (!person) return false;
  if (isAdmin(policy, person)) return true;
  if (sameEmail(request.requester.email, person.email)) return true;
  const deciders = [...request.approvals, ...(request.extension?.approvals ?? []), ...(request.denial ? [request.denial] : [])];
  if (deciders.some((d) => sameEmail(d.by.email, person.email))) return true;
  const rule = policy.rules.find((r) => r.name === request.rule);
  return rule !== undefined && hasPrincipal(person, decidingPrincipals(rule, request));
}

/** The rule's own source limits, else the defaults. */
export function sourceLimitsOf(rule: AccessRule): SourceLimits {
  return rule.sourceLimits ?? DEFAULT_SOURCE_LIMITS;
}

/** VMs under JIT whose rule lets this person ask for access. */
export function requestableVms(policy: AccessPolicy, person: Person | null, vms: readonly Vm[]): Vm[] {
  if (!person) return [];
  return vms.filter((vm) => vm.jit !== null && mayRequest(policy, person, vm));
}

// ---- escalation ---------------------------------------------------------------------------------

/** Whom the rule escalates to: its `escalateTo`, else its own approvers (asked again). */
export function escalationPrincipals(rule: AccessRule): Principal[] {
  return rule.escalateTo ?? rule.approvers;
}

/**
 * Whether the decision the request is about was escalated: a pending extension's while one waits,
 * else the request's own. Each is escalated on its own: an escalated request does not make its later
 * extension so.
 */
export function isEscalated(request: AccessRequest): boolean {
  if (request.state === 'active' && request.extension) return request.extension.escalation !== undefined;
  return request.escalation !== undefined;
}

/**
 * Who may decide the request now under its rule: the approvers and, once the open decision was
 * escalated, the escalation people too. They were named by an admin to be asked when the approvers
 * are slow, and asking someone who cannot act would only delay the request further.
 */
export function decidingPrincipals(rule: AccessRule, request: AccessRequest): Principal[] {
  return isEscalated(request) ? [...rule.approvers, ...escalationPrincipals(rule)] : rule.approvers;
}

/**
 * The people to tell when the open decision is escalated: the rule's escalation people, except the
 * requester and whoever already approved this decision (they can do no more).
 */
export function escalationTargets(policy: AccessPolicy, request: AccessRequest, others: readonly Person[] = []): Person[] {
  const rule = policy.rules.find((r) => r.name === request.rule);
  if (!rule || rule.escalateAfterMinutes === undefined) return [];
  const approvals = request.state === 'active' ? (request.extension?.approvals ?? []) : request.approvals;
  return mergePeople(policy.people, others).filter(
    (p) =>
      !sameEmail(p.email, request.requester.email) &&
      !approvals.some((a) => sameEmail(a.by.email, p.email)) &&
      hasPrincipal(p, escalationPrincipals(rule)),
  );
}

/**
 * The file's people and `others`, the members a directory listed for some groups: one person per
 * email, with the groups of both.
 */
function mergePeople(people: readonly Person[], others: readonly Person[]): Person[] {
  if (others.length === 0) return [...people];
  const byEmail = new Map<string, Person>();
  for (const p of [...people, ...others]) {
    const key = p.email.toLowerCase();
    const known = byEmail.get(key);
    byEmail.set(key, known ? { ...known, groups: [...new Set([...known.groups, ...p.groups])] } : p);
  }
  return [...byEmail.values()];
}

/**
 * Everyone who may decide the request now (its rule's approvers, and escalation people once
 * escalated), except the requester: the file's people and `others`, the members a directory listed
 * for the rule's groups.
 */
export function approversFor(policy: AccessPolicy, request: AccessRequest, others: readonly Person[] = []): Person[] {
  const rule = policy.rules.find((r) => r.name === request.rule);
  if (!rule) return [];
  const principals = decidingPrincipals(rule, request);
  return mergePeople(policy.people, others).filter((p) => !sameEmail(p.email, request.requester.email) && hasPrincipal(p, principals));
}

/**
 * Whether this person may approve or deny the request (or its pending extension) now. Only rights are
 * judged here; whether the request can still be decided is the lifecycle's answer.
 */
export function canDecide(policy: AccessPolicy, person: Person | null, request: AccessRequest): Decidability {
  if (!person) return { ok: false, reason: UNKNOWN_PERSON };
  if (sameEmail(request.requester.email, person.email)) return { ok: false, reason: "you can't approve your own request" };
  const rule = policy.rules.find((r) => r.name === request.rule);
  if (!rule) {
    return { ok: false, reason: `you can't approve this request: its rule ${request.rule} is no longer in the configuration` };
  }
  const principals = decidingPrincipals(rule, request);
  if (!hasPrincipal(person, principals)) {
    const unknown = unknownMembership(person, principals);
    if (unknown) return { ok: false, reason: `you can't approve this request now: ${directoryUnreachable(unknown)}` };
    const later = !isEscalated(request) && rule.escalateAfterMinutes !== undefined && rule.escalateTo !== undefined ? ` (and ${rule.escalateTo.join(', ')} once it is escalated)` : '';
    return { ok: false, reason: `you can't approve this request: only ${[...new Set(principals)].join(', ')} may approve under rule ${rule.name}${later}` };
  }
  const onExtension = request.state === 'active' && request.extension !== undefined;
  const approvals = onExtension ? request.extension!.approvals : request.approvals;
  if (approvals.some((a) => sameEmail(a.by.email, person.email))) {
    return { ok: false, reason: `you already approved this ${onExtension ? 'extension' : 'request'}` };
  }
  return { ok: true };
}

// ---- evaluating a request -------------------------------------------------------------------

function refuse(code: JitError['code'], message: string): { ok: false; error: JitError } {
  return { ok: false, error: new JitError(code, message) };
}

/** Why this person may not request this VM under the access rules, or null when they may. */
function rightsRefusal(policy: AccessPolicy, person: Person, vm: Vm): JitError | null {
  const rule = ruleForVm(policy, vm);
  if (!rule) return new JitError('not_allowed', `you may not request ${vm.name}: no access rule covers it`);
  if (!hasPrincipal(person, rule.requesters)) {
    const unknown = unknownMembership(person, rule.requesters);
    if (unknown) return new JitError('not_allowed', `you may not request ${vm.name} now: ${directoryUnreachable(unknown)}`);
    return new JitError('not_allowed', `you may not request ${vm.name} (rule ${rule.name}: requesters are ${rule.requesters.join(', ')})`);
  }
  return null;
}

function jitRefusal(vm: Vm): JitError | null {
  return vm.jit === null
    ? new JitError('policy', `${vm.name} is not under JIT; an admin can put it there with /jit enable ${vm.name}`)
    : null;
}

/**
 * Exact names are looked up among every VM, so a VM the person may not request gets a reason rather
 * than "unknown". A glob covers only what the person may request: `web-*` should not fail because of a
 * web VM that belongs to another team.
 */
function resolveRequested(policy: AccessPolicy, person: Person, names: readonly string[], all: readonly Vm[]): { ok: true; vms: Vm[] } | { ok: false; error: JitError } {
  const requestable = requestableVms(policy, person, all);
  const found: Vm[] = [];
  for (const name of names) {
    let vms: Vm[];
    if (isGlob(splitVmName(name).name)) {
      vms = matchVmName(name, requestable);
      if (vms.length === 0) {
        // A glob names no VM, so the answer names none the person may not see: a refusal about a VM
        // they have no rights on would tell them it exists, who may request it, and how.
        const seen = matchVmName(name, all).find((vm) => maySeeVm(policy, person, vm));
        const refusal = seen ? (rightsRefusal(policy, person, seen) ?? jitRefusal(seen)) : null;
        return { ok: false, error: refusal ?? unknownVmError(name, requestable) };
      }
    } else {
      const r = resolveVmNames([name], all, requestable);
      if (!r.ok) return r;
      const refusal = rightsRefusal(policy, person, r.vms[0]);
      if (refusal) return { ok: false, error: refusal };
      vms = r.vms;
    }
    for (const vm of vms) if (!found.some((f) => f.id === vm.id)) found.push(vm);
  }
  return { ok: true, vms: found };
}

function compatible(a: PortSpec['protocol'], b: PortSpec['protocol']): boolean {
  return a === '*' || b === '*' || a === b;
}

interface Opening {
  vm: Vm;
  port: PortSpec;
  rule: PortRule;
}

/** Each requested port on each VM, paired with the policy's port rule; the first port a VM lacks is an error. */
function pairPorts(vms: readonly Vm[], ports: readonly PortSpec[]): { ok: true; openings: Opening[] } | { ok: false; error: JitError } {
  const openings: Opening[] = [];
  for (const vm of vms) {
    const rules = vm.jit ?? [];
    for (const port of ports) {
      const rule = rules.find((r) => r.number === port.number && compatible(r.protocol, port.protocol));
      if (!rule) {
        const offered = rules.map((r) => formatPort(r)).join(', ') || 'no ports';
        return refuse('policy', `port ${formatPort(port)} is not under JIT on ${vm.name}; it allows ${offered}`);
      }
      openings.push({ vm, port, rule });
    }
  }
  return { ok: true, openings };
}

/**
 * The protocol to record per port: the policy's when every VM agrees, what the requester named when they
 * named one, else `*` (each VM opens as its own policy says).
 */
function resolvedPorts(ports: readonly PortSpec[], openings: readonly Opening[]): PortSpec[] {
  const out: PortSpec[] = [];
  for (const port of ports) {
    const protocols = new Set(openings.filter((o) => o.port === port).map((o) => o.rule.protocol));
    const protocol = protocols.size === 1 ? [...protocols][0] : port.protocol;
    if (!out.some((p) => p.number === port.number && p.protocol === protocol)) out.push({ number: port.number, protocol });
  }
  return out;
}

function checkDuration(minutes: number, rule: AccessRule, openings: readonly Opening[]): JitError | null {
  const asked = formatDuration(minutes);
  if (!Number.isInteger(minutes) || minutes < MIN_DURATION_MINUTES || minutes > MAX_DURATION_MINUTES) {
    return new JitError('bad_command', `${asked} is out of range; a duration is ${formatDuration(MIN_DURATION_MINUTES)} to ${formatDuration(MAX_DURATION_MINUTES)}`);
  }
  for (const o of openings) {
    if (minutes > o.rule.maxDurationMinutes) {
      return new JitError('policy', `${asked} is longer than the ${formatDuration(o.rule.maxDurationMinutes)} maximum for port ${o.port.number} on ${o.vm.name}`);
    }
  }
  if (rule.maxDurationMinutes !== undefined && minutes > rule.maxDurationMinutes) {
    return new JitError('policy', `${asked} is longer than the ${formatDuration(rule.maxDurationMinutes)} maximum of rule ${rule.name}`);
  }
  return null;
}

const NAME_A_SOURCE = 'name your address with from <ip>, or use from me';

type SourceChoice = { ok: true; source: string; sources?: string[]; note?: string } | { ok: false; error: JitError };

/** `10.0.0.0/8 and 192.168.0.0/16, the policy's whole range: 16,842,752 addresses`. */
export function breadthNote(prefixes: string | readonly string[]): string {
  const list = typeof prefixes === 'string' ? [prefixes] : prefixes;
  return `${sourcesText(list)}, the policy's whole range: ${list.length === 1 ? describeAddressCount(list[0]) : describeAddressTotal(list)}`;
}

/**
 * The given source checked against every port; without one, what Azure's portal would take: the
 * policy's own prefix where it lists one, and the requester's own address (`from me`) where a port
 * allows any source, since jitbot never opens a port to the whole internet by default.
 */
function chooseSource(given: string | undefined, rule: AccessRule, openings: readonly Opening[]): SourceChoice {
  if (given === FROM_ME) return { ok: true, source: FROM_ME };
  if (given !== undefined) {
    const source = normalizeSource(given);
    if (source === null) return refuse('bad_command', `${quoteWord(given)} is not an IP address or CIDR`);
    for (const o of openings) {
      if (!sourceAllowed(source, o.rule.allowedSourcePrefixes)) {
        return refuse('policy', `${source} is not inside the allowed sources for port ${o.port.number} on ${o.vm.name} (${o.rule.allowedSourcePrefixes.join(', ')})`);
      }
    }
    const limits = sourceLimitsOf(rule);
    if (isWiderThan(source, limits) && !rule.allowAnySource) {
      const wide = source === ANY_SOURCE ? source : `${source}, ${describeAddressCount(source)}: wider than /${source.includes(':') ? limits.ipv6 : limits.ipv4} counts as any`;
      return refuse('policy', `rule ${rule.name} does not open ports to any source (${wide}); ${NAME_A_SOURCE}`);
    }
    return { ok: true, source };
  }
  // Ports restricted to prefixes decide the source: all of their prefixes, as Azure's portal takes
  // a policy's whole list, provided every other port allows each of them too.
  const listed: string[] = [];
  for (const o of openings) {
    const prefixes = o.rule.allowedSourcePrefixes.filter((p) => p.trim() !== ANY_SOURCE);
    if (prefixes.length > 0 && prefixes.length === o.rule.allowedSourcePrefixes.length) {
      for (const p of prefixes) {
        const normal = normalizeSource(p) ?? p.trim();
        if (!listed.includes(normal)) listed.push(normal);
      }
    }
  }
  if (listed.length > 0 && listed.every((source) => openings.every((o) => sourceAllowed(source, o.rule.allowedSourcePrefixes)))) {
    return listed.length === 1 ? { ok: true, source: listed[0], note: breadthNote(listed[0]) } : { ok: true, source: listed[0], sources: listed, note: breadthNote(listed) };
  }
  if (listed.length === 0) return { ok: true, source: FROM_ME };
  const o = openings.find((x) => !x.rule.allowedSourcePrefixes.some((p) => p.trim() === ANY_SOURCE)) ?? openings[0];
  return refuse('policy', `port ${o.port.number} on ${o.vm.name} allows ${o.rule.allowedSourcePrefixes.join(', ')}, which the other ports do not all allow; ${NAME_A_SOURCE}`);
}

export type AddressCheck = { ok: true; source: string } | { ok: false; message: string };

/**
 * Whether the address the one-time link captured may be opened for this request, against the VMs'
 * policies now and the request's rule. A refusal names the ranges the policy allows and, when they
 * are private ranges that no address seen from the internet can fall in, says how to get in anyway.
 */
export function checkCapturedAddress(input: { request: AccessRequest; vms: readonly Vm[]; address: string }): AddressCheck {
  const { request } = input;
  const source = singleAddress(input.address);
  if (source === null) return { ok: false, message: 'jitbot could not read the address your browser came from; use from <your address> instead' };
  const current = input.vms.filter((vm) => request.vms.some((r) => r.id.toLowerCase() === vm.id.toLowerCase()));
  if (current.length !== request.vms.length) return { ok: false, message: `${request.vms.map((v) => v.name).join(', ')} is no longer under JIT as requested; ask again` };
  const paired = pairPorts(current, request.ports);
  if (!paired.ok) return { ok: false, message: paired.error.message };
  const outside = paired.openings.find((o) => !sourceAllowed(source, o.rule.allowedSourcePrefixes));
  if (!outside) return { ok: true, source };
  const allowed = outside.rule.allowedSourcePrefixes;
  const hint = allowed.every((p) => isPrivatePrefix(p))
    ? `; those are private ranges, which an address seen from the internet never falls in: connect through the VPN first and open the link again with a new request, or ask with an explicit from <address>`
    : '; ask from inside one of them, or with an explicit from <address>';
  return {
    ok: false,
    message: `your address ${source} is outside what the policy allows for port ${outside.port.number} on ${outside.vm.name} (${allowed.join(', ')})${hint}`,
  };
}

/**
 * Every check a request must pass before anyone is asked to approve it, in the order a person fixes
 * them: who they are, which VMs, JIT, one rule, ports, duration, source, and whether anyone can approve.
 */
export function evaluateRequest(input: { policy: AccessPolicy; person: Person | null; command: RequestCommand; vms: readonly Vm[] }): Evaluation {
  const { policy, person, command } = input;
  if (!person) return refuse('unknown_person', UNKNOWN_PERSON);
  if (command.vms.length === 0) return refuse('bad_command', 'name at least one VM, as in /jit ssh web-01 1h');
  if (command.ports.length === 0) return refuse('bad_command', 'name at least one port, as in /jit ssh web-01 1h');

  const resolved = resolveRequested(policy, person, command.vms, input.vms);
  if (!resolved.ok) return resolved;
  const vms = resolved.vms;

  for (const vm of vms) {
    const refusal = jitRefusal(vm);
    if (refusal) return { ok: false, error: refusal };
  }

  const rules = vms.map((vm) => ruleForVm(policy, vm)!);
  const rule = rules[0];
  const other = rules.findIndex((r) => r.name !== rule.name);
  if (other >= 0) {
    return refuse('policy', `${vms[0].name} and ${vms[other].name} fall under different access rules (${rule.name}, ${rules[other].name}); request them separately`);
  }

  const paired = pairPorts(vms, command.ports);
  if (!paired.ok) return paired;
  const openings = paired.openings;

  const durationProblem = checkDuration(command.durationMinutes, rule, openings);
  if (durationProblem) return { ok: false, error: durationProblem };

  const source = chooseSource(command.source, rule, openings);
  if (!source.ok) return source;

  if (!rule.autoApprove && !namesDirectoryGroup(policy, rule.approvers)) {
    const approvers = policy.people.filter((p) => !sameEmail(p.email, person.email) && hasPrincipal(p, rule.approvers));
    if (approvers.length < rule.approvals) {
      return refuse(
        'config',
        `rule ${rule.name} needs ${rule.approvals} approval${rule.approvals === 1 ? '' : 's'} but only ${approvers.length} other ${approvers.length === 1 ? 'person' : 'people'} may approve; ask an admin`,
      );
    }
  }

  return {
    ok: true,
    draft: {
      vms,
      ports: resolvedPorts(command.ports, openings),
      source: source.source,
      ...(source.sources ? { sources: source.sources } : {}),
      ...(source.note ? { sourceNote: source.note } : {}),
      durationMinutes: command.durationMinutes,
      maxOpenMinutes: Math.min(...openings.map((o) => o.rule.maxDurationMinutes), rule.maxDurationMinutes ?? Number.POSITIVE_INFINITY),
      reason: command.reason ?? '',
      rule,
      requiredApprovals: rule.approvals,
      autoApprove: rule.autoApprove,
    },
  };
}

// ---- extending an open grant --------------------------------------------------------------------

export type ExtensionTerms = { ok: true; autoApprove: boolean; totalMinutes: number } | { ok: false; error: JitError };

/**
 * On what terms an open grant may be extended. An extension must not stretch a rule: once the
 * grant's total open time would pass what one request may ask for (the rule's `max`, else the
 * smallest port maximum), it needs the rule's approvers like a new request and is never approved
 * automatically; past the rule's `maxTotal` nobody can approve it. Azure's own per-port bound on each
 * window is the caller's to check, since it is measured from now.
 */
export function extensionTerms(input: { policy: AccessPolicy; request: AccessRequest; minutes: number; vms: readonly Vm[] }): ExtensionTerms {
  const { policy, request: r, minutes } = input;
  const rule = policy.rules.find((x) => x.name === r.rule);
  if (!rule) return refuse('config', `rule ${r.rule} of ${r.id} is no longer in the configuration; ask for access again`);
  const openedAt = (r.openedAt ?? r.createdAt).getTime();
  const endsAt = (r.endsAt ?? r.openedAt ?? r.createdAt).getTime();
  const heldMinutes = Math.ceil((endsAt - openedAt) / 60_000);
  const totalMinutes = heldMinutes + minutes;
  if (rule.maxTotalMinutes !== undefined && totalMinutes > rule.maxTotalMinutes) {
    const room = rule.maxTotalMinutes - heldMinutes;
    const hint = room >= MIN_DURATION_MINUTES ? `ask for at most ${formatDuration(room)}` : 'ask for new access when it ends';
    return refuse(
      'policy',
      `extending ${r.id} by ${formatDuration(minutes)} would keep it open ${formatDuration(totalMinutes)} in total, over the ${formatDuration(rule.maxTotalMinutes)} maximum of rule ${rule.name}; ${hint}`,
    );
  }
  const portMaxes = r.vms.flatMap((ref) => {
    const vm = input.vms.find((v) => v.id.toLowerCase() === ref.id.toLowerCase());
    return r.ports.map((p) => vm?.jit?.find((x) => x.number === p.number)?.maxDurationMinutes).filter((m): m is number => m !== undefined);
  });
  const oneRequest = Math.min(rule.maxDurationMinutes ?? Infinity, ...portMaxes, portMaxes.length || rule.maxDurationMinutes !== undefined ? Infinity : r.durationMinutes);
  const beyond = totalMinutes > oneRequest;
  const autoApprove = rule.autoApprove && !beyond;
  if (!autoApprove && !namesDirectoryGroup(policy, rule.approvers)) {
    const approvers = policy.people.filter((p) => !sameEmail(p.email, r.requester.email) && hasPrincipal(p, rule.approvers));
    if (approvers.length < r.requiredApprovals) {
      const room = oneRequest - heldMinutes;
      const hint = room >= MIN_DURATION_MINUTES ? `; ask for at most ${formatDuration(room)}` : '';
      return refuse(
        'config',
        `extending ${r.id} past ${formatDuration(oneRequest)} in total needs ${r.requiredApprovals} approval${r.requiredApprovals === 1 ? '' : 's'} under rule ${rule.name}, and only ${approvers.length} other ${approvers.length === 1 ? 'person' : 'people'} may approve${hint}`,
      );
    }
  }
  return { ok: true, autoApprove, totalMinutes };
}
