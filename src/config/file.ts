// The access-rule file (YAML), validated once at start. Every problem is reported on its own line
// with the path that holds it, so a broken file is fixed in one pass.
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseDuration, MAX_DURATION_MINUTES, MIN_DURATION_MINUTES } from '../core/duration';
import { JitError } from '../core/errors';
import type { AccessPolicy } from '../core/policy';
import type { PortRule, Protocol } from '../core/types';
import type { SimWorld } from '../azure-sim/world';
import type { DirectoryGroupRef } from '../app/ports';
import { DEFAULT_SOURCE_LIMITS, normalizeSource } from '../core/cidr';
import { normalizeEmail } from '../core/email';

const DEFAULT_PENDING_TIMEOUT_MINUTES = 60;

const NOT_MAIL = 'must be an email address in plain ASCII (look-alike and non-ASCII characters are refused)';

const email = z.string().transform((text, ctx) => {
  const e = normalizeEmail(text);
  if (e === null) {
    ctx.addIssue({ code: 'custom', message: NOT_MAIL });
    return z.NEVER;
  }
  return e;
});

const principal = z
  .string()
  .trim()
  .transform((p, ctx) => {
    if (p === '*' || /^group:[\w.-]+$/.test(p)) return p;
    const e = p.includes('@') ? normalizeEmail(p) : null;
    if (e === null) {
      ctx.addIssue({ code: 'custom', message: p.includes('@') ? NOT_MAIL : 'must be "*", "group:<name>" or an email' });
      return z.NEVER;
    }
    return e;
  });

/** The shortest prefix length that still names a network; wider sources count as "any source". */
const widestSource = z
  .object({
    ipv4: z.number().int('must be a whole number').min(0, 'must be 0 to 32').max(32, 'must be 0 to 32').default(DEFAULT_SOURCE_LIMITS.ipv4),
    ipv6: z.number().int('must be a whole number').min(0, 'must be 0 to 128').max(128, 'must be 0 to 128').default(DEFAULT_SOURCE_LIMITS.ipv6),
  })
  .strict();

const isoDuration = z.string().transform((text, ctx) => {
  const minutes = parseDuration(text);
  if (minutes === null || minutes < MIN_DURATION_MINUTES || minutes > MAX_DURATION_MINUTES) {
    ctx.addIssue({ code: 'custom', message: 'must be a duration from PT5M to PT24H' });
    return z.NEVER;
  }
  return minutes;
});

const sourcePrefix = z
  .string()
  .trim()
  .transform((text, ctx) => {
    if (text === '*') return text;
    const n = normalizeSource(text);
    if (n === null) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not "*", an IP address or a CIDR` });
      return z.NEVER;
    }
    return n;
  });

const portRule = z
  .object({
    port: z.number().int().min(1, 'must be 1 to 65535').max(65535, 'must be 1 to 65535'),
    protocol: z.enum(['TCP', 'UDP', '*']).default('*'),
    from: z.array(sourcePrefix).min(1, 'must list at least one source prefix ("*" for any)').default(['*']),
    max: isoDuration.default(180), // Azure's portal default, PT3H
  })
  .strict();

const route = z
  .object({
    slack: z.string().trim().min(1).optional(),
    teams: z.string().trim().min(1).optional(),
  })
  .strict();

const rule = z
  .object({
    name: z.string().trim().min(1, 'must not be empty'),
    vms: z
      .object({
        names: z.array(z.string().trim().min(1)).optional(),
        resourceGroups: z.array(z.string().trim().min(1)).optional(),
        tags: z.record(z.string(), z.string()).optional(),
      })
      .strict()
      .refine((s) => Boolean(s.names?.length || s.resourceGroups?.length || (s.tags && Object.keys(s.tags).length)), {
        message: 'must select VMs by names, resourceGroups or tags',
      }),
    requesters: z.array(principal).min(1, 'must name at least one requester'),
    approvers: z.array(principal).default([]),
    approvals: z.number().int('must be a whole number').min(1, 'must be ≥ 1').default(1),
    autoApprove: z.boolean().default(false),
    allowAnySource: z.boolean().default(false),
    route: route.default({}),
    max: isoDuration.optional(),
    maxTotal: z
      .string()
      .transform((text, ctx) => {
        const minutes = parseDuration(text);
        if (minutes === null || minutes < MIN_DURATION_MINUTES) {
          ctx.addIssue({ code: 'custom', message: 'must be a duration of at least PT5M, such as PT8H or PT72H' });
          return z.NEVER;
        }
        return minutes;
      })
      .optional(),
    widestSource: widestSource.optional(),
    stepUp: z.union([z.boolean(), z.array(principal).min(1, 'must name at least one principal, or be true')]).optional(),
    escalateAfterMinutes: z.number().int('must be a whole number of minutes').min(1, 'must be ≥ 1').optional(),
    escalateTo: z.array(principal).min(1, 'must name at least one principal ("*", group:<name> or an email)').optional(),
  })
  .strict();

const simVm = z
  .object({
    name: z.string().trim().regex(/^[A-Za-z0-9][\w.-]{0,63}$/, 'must be a VM name'),
    resourceGroup: z.string().trim().min(1),
    location: z.string().trim().min(1).default('westeurope'),
    os: z.enum(['linux', 'windows']),
    tags: z.record(z.string(), z.string()).default({}),
    jit: z.array(portRule).optional(),
    /** Behind Azure Firewall: the firewall's public address and its DNAT ports per VM port. */
    firewall: z
      .object({
        publicIp: z.string().trim().refine((v) => isIP(v) !== 0, 'must be an IP address'),
        ports: z.record(z.string().regex(/^\d{1,5}$/, 'must be a port number'), z.number().int().min(1).max(65535)).default({}),
      })
      .strict()
      .optional(),
    /** Simulator only: every initiate for this VM fails when Azure writes the NSG rule, with these words. */
    applyFails: z.string().trim().min(1).optional(),
  })
  .strict();

/** The Defender for Servers plan the simulator reports; JIT needs Standard with P2. */
const simDefender = z
  .object({ tier: z.enum(['Free', 'Standard']), subPlan: z.enum(['P1', 'P2']).optional() })
  .strict();

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A group whose members a directory keeps: `{ entra: <group object id> }` or `{ slack: <user group
 * handle or id> }`. Exactly one of the two.
 */
const directoryGroup = z
  .object({
    entra: z.string().trim().regex(GUID, 'must be the Entra group\'s object id (a GUID)').optional(),
    slack: z
      .string()
      .trim()
      .regex(/^(@?[a-z0-9][a-z0-9._-]{0,79}|S[A-Z0-9]{2,})$/, 'must be a Slack user group handle (as in @sre) or id (S…)')
      .optional(),
  })
  .strict()
  .refine((g) => (g.entra === undefined) !== (g.slack === undefined), { message: 'must name exactly one directory: entra or slack' });

const fileSchema = z
  .object({
    people: z
      .array(
        z
          .object({ email, name: z.string().trim().min(1), groups: z.array(z.string().trim().min(1)).default([]) })
          .strict(),
      )
      .default([]),
    /** Groups kept in a directory, by the name rules use after `group:`. */
    // Names are checked with the other cross-entry checks: zod reports a bad record key without its own words.
    groups: z.record(z.string(), directoryGroup).default({}),
    admins: z.array(principal).default([]),
    rules: z.array(rule).default([]),
    reminderMinutes: z.number().int().min(1, 'must be ≥ 1').max(120, 'must be ≤ 120').default(10),
    pendingTimeoutMinutes: z.number().int().min(1, 'must be ≥ 1').max(7 * 24 * 60, 'must be ≤ 10080').default(DEFAULT_PENDING_TIMEOUT_MINUTES),
    azure: z
      .object({
        subscriptionId: z.string().trim().default('00000000-0000-0000-0000-000000000000'),
        guard: z.boolean().default(false),
        vms: z.array(simVm).default([]),
        defender: simDefender.optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

type Issue = { path: Array<string | number>; message: string };

const listOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const fieldOf = (v: unknown, k: string): unknown => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined);
const text = (v: unknown): string | null => (typeof v === 'string' ? v.trim() : null);

/**
 * The checks across entries (duplicates, approvers), run on the raw document beside the schema
 * rather than after it, so a file with a wrong field and a duplicate hears of both at once.
 */
function crossIssues(doc: unknown): Issue[] {
  const issues: Issue[] = [];
  const seen = new Map<string, number>();
  listOf(fieldOf(doc, 'people')).forEach((p, i) => {
    const e = text(fieldOf(p, 'email'))?.toLowerCase();
    if (!e) return;
    if (seen.has(e)) issues.push({ path: ['people', i, 'email'], message: `duplicates people[${seen.get(e)}]` });
    else seen.set(e, i);
  });
  const names = new Map<string, number>();
  const timeout = fieldOf(doc, 'pendingTimeoutMinutes');
  const pendingTimeout = typeof timeout === 'number' ? timeout : DEFAULT_PENDING_TIMEOUT_MINUTES;
  listOf(fieldOf(doc, 'rules')).forEach((r, i) => {
    const name = text(fieldOf(r, 'name'));
    if (name) {
      if (names.has(name)) issues.push({ path: ['rules', i, 'name'], message: `duplicates rules[${names.get(name)}].name` });
      else names.set(name, i);
    }
    const max = typeof fieldOf(r, 'max') === 'string' ? parseDuration(fieldOf(r, 'max') as string) : null;
    const maxTotal = typeof fieldOf(r, 'maxTotal') === 'string' ? parseDuration(fieldOf(r, 'maxTotal') as string) : null;
    if (max !== null && maxTotal !== null && maxTotal < max) issues.push({ path: ['rules', i, 'maxTotal'], message: 'must not be shorter than max' });
    if (fieldOf(r, 'autoApprove') === true && fieldOf(r, 'stepUp') === true) {
      issues.push({ path: ['rules', i, 'stepUp'], message: 'has no effect with autoApprove: nobody approves, so nobody signs in' });
    }
    const escalateAfter = fieldOf(r, 'escalateAfterMinutes');
    // An escalation time chosen for the admin would be a surprise; an escalation with no one named
    // asks the approvers again, which is the nudge most teams want.
    if (fieldOf(r, 'escalateTo') !== undefined && escalateAfter === undefined) {
      issues.push({ path: ['rules', i, 'escalateTo'], message: 'needs escalateAfterMinutes: how long a decision may wait before these people are asked' });
    }
    if (typeof escalateAfter === 'number' && escalateAfter >= pendingTimeout) {
      issues.push({
        path: ['rules', i, 'escalateAfterMinutes'],
        message: `must be shorter than pendingTimeoutMinutes (${pendingTimeout}): a request times out before it would be escalated`,
      });
    }
    const approvers = fieldOf(r, 'approvers');
    if (fieldOf(r, 'autoApprove') !== true && (approvers === undefined || (Array.isArray(approvers) && approvers.length === 0))) {
      issues.push({ path: ['rules', i, 'approvers'], message: 'must name approvers unless autoApprove is true' });
    }
  });
  // Names that differ only in case would be one group to the rules.
  const groupNames = new Map<string, string>();
  for (const name of Object.keys((fieldOf(doc, 'groups') as Record<string, unknown> | undefined) ?? {})) {
    const key = name.toLowerCase();
    if (!/^[\w.-]+$/.test(name)) issues.push({ path: ['groups', name], message: 'must be a group name as rules write it after group: (letters, digits, . _ -)' });
    else if (groupNames.has(key)) issues.push({ path: ['groups', name], message: `is the same group as ${groupNames.get(key)} (names ignore case)` });
    else groupNames.set(key, name);
  }
  const vmKeys = new Set<string>();
  listOf(fieldOf(fieldOf(doc, 'azure'), 'vms')).forEach((v, i) => {
    const name = text(fieldOf(v, 'name'));
    const group = text(fieldOf(v, 'resourceGroup'));
    if (!name || !group) return;
    const key = `${group}/${name}`.toLowerCase();
    if (vmKeys.has(key)) issues.push({ path: ['azure', 'vms', i, 'name'], message: 'duplicates another VM in the same resource group' });
    vmKeys.add(key);
  });
  return issues;
}

export interface LoadedConfig {
  policy: AccessPolicy;
  /** Groups whose members a directory keeps (`groups:`). */
  groups: DirectoryGroupRef[];
  /** The simulated subscription, when the file has an `azure:` section. */
  world: SimWorld | null;
}

/** `rules[1].approvals` from zod's path array. */
export function formatIssuePath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(file)' : out;
}

/** Validate a parsed document; throws a JitError('config') whose message has one line per problem. */
export function configFromDocument(doc: unknown, source = 'config'): LoadedConfig {
  const parsed = fileSchema.safeParse(doc ?? {});
  const issues: Issue[] = [...(parsed.success ? [] : parsed.error.issues.map((i) => ({ path: i.path as Array<string | number>, message: i.message }))), ...crossIssues(doc)];
  if (!parsed.success || issues.length > 0) {
    const lines = issues.map((i) => `${source}: ${formatIssuePath(i.path)}: ${i.message}`);
    throw new JitError('config', [...new Set(lines)].join('\n'));
  }
  const c = parsed.data;
  const groups: DirectoryGroupRef[] = Object.entries(c.groups).map(([name, g]) =>
    g.entra !== undefined ? { name: name.toLowerCase(), kind: 'entra', id: g.entra.toLowerCase() } : { name: name.toLowerCase(), kind: 'slack', id: g.slack!.replace(/^@/, '') },
  );
  const policy: AccessPolicy = {
    people: c.people,
    ...(groups.length ? { directoryGroups: groups.map((g) => g.name) } : {}),
    admins: c.admins,
    rules: c.rules.map((r) => ({
      name: r.name,
      vms: r.vms,
      requesters: r.requesters,
      approvers: r.approvers,
      approvals: r.approvals,
      autoApprove: r.autoApprove,
      allowAnySource: r.allowAnySource,
      route: r.route,
      ...(r.max !== undefined ? { maxDurationMinutes: r.max } : {}),
      ...(r.maxTotal !== undefined ? { maxTotalMinutes: r.maxTotal } : {}),
      ...(r.widestSource !== undefined ? { sourceLimits: r.widestSource } : {}),
      ...(r.stepUp === true ? { stepUp: true as const } : Array.isArray(r.stepUp) ? { stepUp: r.stepUp } : {}),
      ...(r.escalateAfterMinutes !== undefined ? { escalateAfterMinutes: r.escalateAfterMinutes } : {}),
      ...(r.escalateTo !== undefined ? { escalateTo: r.escalateTo } : {}),
    })),
    reminderMinutes: c.reminderMinutes,
    pendingTimeoutMinutes: c.pendingTimeoutMinutes,
  };
  const world: SimWorld | null = c.azure
    ? {
        subscriptionId: c.azure.subscriptionId,
        guard: c.azure.guard,
        vms: c.azure.vms.map((v) => ({
          name: v.name,
          resourceGroup: v.resourceGroup,
          location: v.location,
          os: v.os,
          tags: v.tags,
          jit: v.jit ? v.jit.map(toPortRule) : null,
          ...(v.firewall
            ? { firewall: { publicIpAddress: v.firewall.publicIp, mappedPorts: Object.fromEntries(Object.entries(v.firewall.ports).map(([k, to]) => [Number(k), to])) } }
            : {}),
          ...(v.applyFails ? { applyFails: v.applyFails } : {}),
        })),
        ...(c.azure.defender ? { defender: { pricingTier: c.azure.defender.tier, ...(c.azure.defender.subPlan ? { subPlan: c.azure.defender.subPlan } : {}) } } : {}),
      }
    : null;
  return { policy, groups, world };
}

function toPortRule(p: { port: number; protocol: Protocol; from: string[]; max: number }): PortRule {
  return { number: p.port, protocol: p.protocol, allowedSourcePrefixes: p.from, maxDurationMinutes: p.max };
}

export function loadConfigFile(path: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new JitError('config', `${path}: cannot read the config file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  // Every YAML error at once, each with its line, rather than the first one only.
  const parsedDoc = YAML.parseDocument(text, { prettyErrors: true });
  if (parsedDoc.errors.length > 0) {
    const lines = parsedDoc.errors.map((e) => `${path}: ${e.linePos?.[0] ? `line ${e.linePos[0].line}` : 'YAML'}: ${e.message.split('\n')[0]}`);
    throw new JitError('config', lines.join('\n'));
  }
  const doc: unknown = parsedDoc.toJS();
  return configFromDocument(doc, path);
}
