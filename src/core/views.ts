// View models: what a card or message shows, derived purely from domain data and the time.
// Renderers (Block Kit, Adaptive Cards) turn these into platform JSON; they add no facts of their own.
import type { WhoisView } from './whois';
import { describeAddressTotal, isSetWiderThan, sourcesOf, sourcesText } from './cidr';
import { formatDuration, formatUtc } from './duration';
import { FROM_ME } from './cidr';
import type { AccessRequest, Actor, Approval, OsType, PortSpec, RequestState } from './types';

/** Buttons the platforms draw. Their ids are stable: Slack `jit_<verb>`, Teams `Action.Execute` verb. */
export type Verb = 'approve' | 'deny' | 'extend' | 'release' | 'cancel';

export interface PersonView {
  name: string;
  email: string | null;
  platform: Actor['platform'];
  userId: string;
}

export interface RequestView {
  id: string;
  state: RequestState;
  /** One line for the top of the card: `Waiting for approval (1 of 2)`, `Open until 14:05 UTC`… */
  headline: string;
  requester: PersonView;
  vms: string[];
  /** `22/TCP`, `3389` (any protocol). */
  ports: string[];
  source: string;
  /** How many addresses the source covers (several prefixes: all of them together), for the approver: `1 address`, `65,536 addresses`, `every address`. */
  sourceSize: string;
  /** The source is wider than a /16 (IPv4) or /48 (IPv6): as good as any source; cards flag it. */
  sourceWide: boolean;
  /** `1h30m`. */
  duration: string;
  reason: string;
  /** `1 of 2`. */
  approvalsText: string;
  approvedBy: string[];
  /** The approvers as the card shows them, with step-up sign-ins marked (`Bob, MFA; Carol`). */
  approvedByText?: string;
  /** Who decided and when, once decided: `Approved by Bob at 13:05 UTC`. */
  decision: string | null;
  /** `14:05 UTC`, once open. */
  endsAt: string | null;
  /** Behind Azure Firewall, where to connect: `22 on web-fw-01 at 203.0.113.50:50022`. */
  connect?: string[];
  failure: string | null;
  /** Pending extension: `+1h, 0 of 1 approvals`. */
  extension: string | null;
  /** `Escalated to Dave and Erin at 13:35 UTC`, once the decision open now was escalated. */
  escalation?: string | null;
  /** Buttons for people who may decide (approve/deny while pending, or while an extension waits). */
  approverActions: Verb[];
  /** Buttons for the requester (cancel while pending, extend/release while active). */
  requesterActions: Verb[];
  /** While active: the extensions the policy and the rule still allow, in minutes, shortest first. */
  extendChoices: Array<{ minutes: number; label: string }>;
  /** While active: `at most 2h 30m more`, or null when the limit is not known. */
  extendLimit: string | null;
  createdAt: string;
  /** True once nothing can change any more: cards drop every button. */
  final: boolean;
}

export type NoticeKind =
  | 'address-link'
  | 'address'
  | 'submitted'
  | 'approval'
  | 'approved'
  | 'denied'
  | 'opened'
  | 'failed'
  | 'reminder'
  | 'expired'
  | 'released'
  | 'cancelled'
  | 'timed-out'
  | 'extension-requested'
  | 'extended'
  | 'extension-denied'
  | 'extension-failed'
  | 'release-failed'
  | 'superseded'
  | 'step-up'
  | 'escalated';

/** A thread reply or direct message. Text is plain; adapters format it and resolve the mention. */
export interface Notice {
  kind: NoticeKind;
  requestId: string;
  text: string;
  /** The person the notice speaks to (the reminder mentions the requester). */
  mention?: PersonView;
  /**
   * More people to mention, known only by email (an escalation names people who may never have
   * used the bot): each adapter finds them on its platform, and the text names them anyway.
   */
  mentionEmails?: Array<{ name: string; email: string }>;
  /** Buttons to draw under the notice, for the mentioned person. */
  actions?: Verb[];
  /** A link the bot made (never user text), drawn as a button or link: the step-up sign-in. */
  link?: { url: string; label: string };
}

export interface PortRuleView {
  port: string;
  protocol: string;
  sources: string[];
  max: string;
}

export interface VmView {
  name: string;
  resourceGroup: string;
  location: string;
  os: OsType;
  /** False when the VM has no JIT policy. */
  jit: boolean;
  ports: PortRuleView[];
  /** `2 of 1 approvals needed`… from the governing rule. */
  approvals: number | null;
  lastAccess: string | null;
  /** Active grants on this VM right now: `22/TCP from 10.1.2.3 until 14:05 UTC`. */
  open: string[];
  /** Why Azure cannot open this VM (its policy and VM names are over Azure's 56-character limit). */
  warning?: string;
}

/** Which slice of the VMs a `vms` reply shows: `/jit vms web- page 2`. */
export interface VmPage {
  /** What the names were filtered by, as typed; null for all. */
  filter: string | null;
  /** 1-based. */
  page: number;
  pages: number;
  /** VMs matching the filter, on every page. */
  total: number;
  pageSize: number;
}

/** How to ask for another page of a `vms` reply, as a command the person can type. */
export function vmPageCommand(filter: string | null, page: number): string {
  return `/jit vms${filter ? ` ${filter}` : ''}${page > 1 ? ` page ${page}` : ''}`;
}

/** `Showing 21–40 of 150 VMs matching "web-". Next: /jit vms web- page 3` */
export function vmPageText(p: VmPage, shown: number): string {
  const first = (p.page - 1) * p.pageSize + 1;
  const range = p.pages > 1 ? `${first}–${first + shown - 1} of ` : '';
  const matching = p.filter ? ` matching "${p.filter}"` : '';
  const next = p.page < p.pages ? ` Next: ${vmPageCommand(p.filter, p.page + 1)}` : '';
  const narrow = p.pages > 1 && !p.filter ? ' Narrow it with /jit vms <start of a name>.' : '';
  return `Showing ${range}${p.total} VMs${matching}.${next}${narrow}`;
}

export interface HelpView {
  commands: Array<{ usage: string; description: string }>;
  examples: string[];
}

/** The request form (`/jit` alone): choices limited to what this person may request. */
export interface FormView {
  vms: Array<{ name: string; ports: Array<{ value: string; label: string }>; maxMinutes: number; sources: string[] }>;
  durations: Array<{ value: string; label: string }>;
  defaults: { vm?: string; port?: string; duration?: string; source?: string; reason?: string };
}

export type FormField = 'vm' | 'ports' | 'duration' | 'source' | 'reason';

export interface FormInput {
  vm: string;
  /** Comma-separated port words, as in the command grammar (`ssh`, `22`, `5986/tcp`). */
  ports: string;
  duration: string;
  source?: string;
  reason?: string;
}

/** What the bot answers to the person who typed a command (ephemeral in Slack). */
export type Reply =
  | { kind: 'text'; text: string }
  | { kind: 'error'; message: string; usage?: string }
  | { kind: 'help'; help: HelpView }
  /** `version`: the request's version this answer draws, so a platform that keeps it as the copy redraws it only if it moved on. */
  | { kind: 'submitted'; text: string; request: RequestView; version?: number }
  /** `from me`: the one-time link to open on the machine the requester will connect from; for them alone. */
  | { kind: 'address-link'; text: string; url: string; request: RequestView }
  | { kind: 'status'; mine: RequestView[]; awaiting: RequestView[] }
  | { kind: 'vms'; vms: VmView[]; page?: VmPage }
  /** `note`: after `/jit enable`, which rule (if any) lets people request the VM. */
  | { kind: 'policy'; vm: VmView; note?: string }
  /** `link`: the bot's own signed download address; renderers draw it as a link the bot made, never from `text`. */
  | { kind: 'audit'; csv: string; filename: string; rows: number; text: string; link?: string }
  | { kind: 'form'; form: FormView }
  /** `/jit whois`, for admins: a person's groups and rules and where each comes from. */
  | { kind: 'whois'; whois: WhoisView };

/** The answer to a button click, for the person who clicked (ephemeral), and the card as it now is. */
export interface ActionResult {
  ok: boolean;
  message: string;
  view: RequestView | null;
}

// ---------------------------------------------------------------------------------------------

export function personView(a: Actor): PersonView {
  return { name: a.name, email: a.email, platform: a.platform, userId: a.userId };
}

export function formatPort(p: PortSpec): string {
  return p.protocol === '*' ? String(p.number) : `${p.number}/${p.protocol}`;
}

function namesOf(actors: Array<{ by: Actor }>): string[] {
  return actors.map((a) => a.by.name);
}

/** `22 on web-fw-01 at 203.0.113.50:50022`: the address and port a person types, per VM port. */
export function connectLines(r: AccessRequest): string[] {
  return (r.connect ?? []).map((c) => `${c.port} on ${c.vm} at ${c.address.includes(':') ? `[${c.address}]` : c.address}:${c.mappedPort}`);
}

/** `Bob, MFA; Carol`: who approved, and who proved it with a fresh sign-in and a second factor. */
function approversText(approvals: readonly Approval[]): string {
  const anyStepUp = approvals.some((a) => a.stepUp);
  return approvals.map((a) => (a.stepUp ? `${a.by.name}, MFA` : a.by.name)).join(anyStepUp ? '; ' : ', ');
}

export function headlineFor(r: AccessRequest, now: Date): string {
  const approvals = `${r.approvals.length} of ${r.requiredApprovals}`;
  switch (r.state) {
    case 'awaiting-address':
      return 'Waiting for the requester to open the link that records their address';
    case 'pending':
      return `Waiting for approval (${approvals})`;
    case 'opening':
      return 'Approved; opening… (waiting for Azure to apply the rules)';
    case 'active': {
      const open = r.endsAt ? `Open until ${formatUtc(r.endsAt, now)}` : 'Open';
      const via = connectLines(r);
      return via.length > 0 ? `${open}; connect to ${via.join(', ')}` : open;
    }
    case 'denied':
      return `Denied by ${r.denial?.by.name ?? 'an approver'}`;
    case 'cancelled':
      return 'Cancelled by the requester';
    case 'timed-out':
      return 'Timed out waiting for approval';
    case 'failed':
      return 'Failed: ports were not opened';
    case 'expired':
      return 'Expired, ports closed';
    case 'released':
      return `Released${r.releasedBy ? ` by ${r.releasedBy.name}` : ''}${r.closedAt ? ` at ${formatUtc(r.closedAt, now)}` : ''}; ports closing`;
  }
}

function decisionFor(r: AccessRequest, now: Date): string | null {
  if (r.state === 'awaiting-address') return null;
  if (r.denial) return `Denied by ${r.denial.by.name} at ${formatUtc(r.denial.at, now)}${r.denial.reason ? `: ${r.denial.reason}` : ''}`;
  if (r.autoApproved) return 'Approved automatically by rule';
  if (r.approvals.length >= r.requiredApprovals && r.approvals.length > 0) {
    const last = r.approvals[r.approvals.length - 1];
    return `Approved by ${namesOf(r.approvals).join(', ')} at ${formatUtc(last.at, now)}`;
  }
  if (r.state === 'cancelled' && r.cancelledAt) return `Cancelled at ${formatUtc(r.cancelledAt, now)}`;
  return null;
}

/** The source as people read it: the captured address, the policy's range with its breadth, or what is awaited. */
export function sourceText(r: Pick<AccessRequest, 'source' | 'sources' | 'sourceNote' | 'state'>): string {
  if (r.source === FROM_ME) return r.state === 'awaiting-address' ? 'your address, once you open the link' : 'your address (the link was not used)';
  return r.sourceNote ?? sourcesText(sourcesOf(r));
}

/** The prefixes a grant is open to, as a notice says them: `10.0.0.0/8 and 192.168.0.0/16`. */
export function openSourcesText(r: Pick<AccessRequest, 'source' | 'sources'>): string {
  return sourcesText(sourcesOf(r));
}

const EXTEND_STEPS = [15, 30, 60, 90, 120, 180, 240, 360, 480, 720, 1440];

/** `2 hours 30 minutes`, `45 minutes`, `1 hour`. */
export function hoursAndMinutes(minutes: number): string {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  const hs = h === 0 ? '' : `${h} hour${h === 1 ? '' : 's'}`;
  const ms = m === 0 ? '' : `${m} minute${m === 1 ? '' : 's'}`;
  return [hs, ms].filter(Boolean).join(' ') || '0 minutes';
}

/**
 * How much longer the grant may still be extended: the request's maximum from now, less what is
 * already left, and never past the rule's `maxTotal` for the whole grant. Null when the request does
 * not know its maximum (requests from older versions).
 */
export function extensionRoomMinutes(r: AccessRequest, now: Date): number | null {
  if (r.state !== 'active' || !r.endsAt || r.maxOpenMinutes === undefined) return null;
  const left = Math.ceil((r.endsAt.getTime() - now.getTime()) / 60_000);
  const fromNow = r.maxOpenMinutes - Math.max(0, left);
  if (r.maxTotalMinutes === undefined) return Math.max(0, fromNow);
  const held = Math.ceil((r.endsAt.getTime() - (r.openedAt ?? r.createdAt).getTime()) / 60_000);
  return Math.max(0, Math.min(fromNow, r.maxTotalMinutes - held));
}

function extendChoicesFor(r: AccessRequest, now: Date): { choices: RequestView['extendChoices']; limit: string | null } {
  const room = extensionRoomMinutes(r, now);
  if (room === null) return { choices: [], limit: null };
  if (room < 5) return { choices: [], limit: 'no more time: the policy maximum is reached' };
  const minutes = EXTEND_STEPS.filter((m) => m < room);
  minutes.push(room);
  return { choices: minutes.map((m) => ({ minutes: m, label: `+${formatDuration(m)}` })), limit: `at most ${hoursAndMinutes(room)} more` };
}

/** `Dave, Erin and Frank`, or `Dave, Erin, … and 12 more` past a handful. */
export function peopleText(names: readonly string[], maxNames = 5): string {
  if (names.length === 0) return 'nobody';
  if (names.length > maxNames) return `${names.slice(0, maxNames).join(', ')} and ${names.length - maxNames} more`;
  return names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/**
 * The escalation of the decision this card is about: the pending extension's while one waits, else
 * the request's (while it waits, and afterwards as its history).
 */
function escalationText(r: AccessRequest, now: Date): string | null {
  const onExtension = r.state === 'active' && r.extension !== undefined;
  const e = onExtension ? r.extension?.escalation : r.escalation;
  if (!e) return null;
  const what = onExtension ? 'Extension escalated' : 'Escalated';
  const to = e.to.length > 0 ? ` to ${peopleText(e.to.map((p) => p.name))}` : ' (nobody else to ask)';
  return `${what}${to} at ${formatUtc(e.at, now)}`;
}

export function requestView(r: AccessRequest, now: Date): RequestView {
  const extend = extendChoicesFor(r, now);
  const final = r.state !== 'awaiting-address' && r.state !== 'pending' && r.state !== 'opening' && r.state !== 'active';
  const approverActions: Verb[] =
    r.state === 'pending' || (r.state === 'active' && r.extension && !r.extension.opening) ? ['approve', 'deny'] : [];
  const requesterActions: Verb[] = r.state === 'pending' || r.state === 'awaiting-address' ? ['cancel'] : r.state === 'active' ? ['extend', 'release'] : [];
  return {
    id: r.id,
    state: r.state,
    headline: headlineFor(r, now),
    requester: personView(r.requester),
    vms: r.vms.map((v) => v.name),
    ports: r.ports.map(formatPort),
    source: sourceText(r),
    // `from me` is one address once captured; before that there is no range to count.
    // Several prefixes count as one range: their total, and wide when together they are.
    sourceSize: r.source === FROM_ME ? '1 address' : describeAddressTotal(sourcesOf(r)),
    sourceWide: r.source === FROM_ME ? false : isSetWiderThan(sourcesOf(r)),
    duration: formatDuration(r.durationMinutes),
    reason: r.reason,
    approvalsText: `${r.approvals.length} of ${r.requiredApprovals}`,
    approvedBy: namesOf(r.approvals),
    approvedByText: approversText(r.approvals),
    decision: decisionFor(r, now),
    // A released grant ended when it was released, not at the end it had planned.
    endsAt: r.state === 'released' && r.closedAt ? formatUtc(r.closedAt, now) : r.endsAt && (r.state === 'active' || r.state === 'expired' || r.state === 'released') ? formatUtc(r.endsAt, now) : null,
    connect: r.state === 'active' ? connectLines(r) : [],
    failure: r.failure ?? null,
    extension: r.extension
      ? r.extension.opening
        ? `+${formatDuration(r.extension.durationMinutes)}, extending… (waiting for Azure to apply it)`
        : `+${formatDuration(r.extension.durationMinutes)}, ${r.extension.approvals.length} of ${r.requiredApprovals} approvals`
      : null,
    escalation: escalationText(r, now),
    approverActions,
    requesterActions,
    extendChoices: extend.choices,
    extendLimit: extend.limit,
    createdAt: formatUtc(r.createdAt, now),
    final,
  };
}
