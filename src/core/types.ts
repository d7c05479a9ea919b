// The domain's words (DESIGN §2). Pure data: no platform, Azure or storage types appear here.

export type Platform = 'slack' | 'teams' | 'console';

/** A person on a chat platform. Email is the identity that joins platforms and access rules. */
export interface Actor {
  platform: Platform;
  /** The platform's own user id (Slack `U…`, Teams `29:…`, console: the email). */
  userId: string;
  /** Lower-cased; null when the platform would not tell us (then the person is unknown). */
  email: string | null;
  name: string;
  /** Teams only: the Entra object id, used for card refresh `userIds`. */
  aadObjectId?: string;
}

export type Protocol = 'TCP' | 'UDP' | '*';

/** A port as asked for in a command. */
export interface PortSpec {
  number: number;
  /** What the requester named; '*' when they did not name one (then any protocol the policy allows). */
  protocol: Protocol;
}

/** One port rule of a VM's JIT policy. */
export interface PortRule {
  number: number;
  protocol: Protocol;
  /** '*' or IPv4/IPv6 addresses and CIDRs. */
  allowedSourcePrefixes: string[];
  maxDurationMinutes: number;
}

export type OsType = 'linux' | 'windows';

/** A VM as the bot knows it: identity plus its JIT policy (null when the VM is not under JIT). */
export interface Vm {
  /** ARM resource id. */
  id: string;
  name: string;
  resourceGroup: string;
  location: string;
  os: OsType;
  tags: Record<string, string>;
  jit: PortRule[] | null;
  /** Name of the jitNetworkAccessPolicies resource holding this VM (usually `default`). */
  policyName?: string;
  /** Last time the bot opened access to this VM (from the store), for `/jit vms`. */
  lastAccessAt?: Date;
}

export type VmRef = Pick<Vm, 'id' | 'name' | 'resourceGroup' | 'location'> & { policyName?: string };

export type RequestState =
  /** `from me`: waiting for the requester to open the one-time link from where they will connect. */
  | 'awaiting-address'
  | 'pending'
  | 'opening'
  | 'active'
  | 'denied'
  | 'cancelled'
  | 'timed-out'
  | 'failed'
  | 'expired'
  | 'released';

export const TERMINAL_STATES: readonly RequestState[] = ['denied', 'cancelled', 'timed-out', 'failed', 'expired', 'released'];

export interface Approval {
  by: Actor;
  at: Date;
  /** Set when the rule asked for a fresh sign-in with a second factor and the approver gave one. */
  stepUp?: StepUpProof;
}

/** What a step-up sign-in proved: who the provider said it was, how, and when. */
export interface StepUpProof {
  issuer: string;
  subject: string;
  amr: string[];
  acr?: string;
  authTime: Date;
}

export interface Decision {
  by: Actor;
  at: Date;
  reason?: string;
}

/**
 * A decision nobody made in time, announced again to the rule's escalation people (who may then
 * decide it). `to` is who was asked, as they were named then; rights come from the rule as it is now.
 */
export interface Escalation {
  at: Date;
  to: Array<{ name: string; email: string }>;
}

/** An extension asked for on an active grant; it needs the same approvals as the request. */
export interface Extension {
  durationMinutes: number;
  requestedAt: Date;
  approvals: Approval[];
  /** Set once the extension waited past the rule's `escalateAfterMinutes`. */
  escalation?: Escalation;
  /** Set while the new initiate is in flight, so a second approval does not initiate twice. */
  opening?: boolean;
}

/** Where the approval card goes, per platform; the adapter resolves it to a concrete place. */
export interface Route {
  /** Slack channel id. */
  slack?: string;
  /** A stored Teams channel key, or `installed` for the team channels the bot was installed in. */
  teams?: string;
}

/** Behind Azure Firewall, people connect to the firewall's public address on a mapped port. */
export interface ConnectDetail {
  vm: string;
  /** The VM's port. */
  port: number;
  address: string;
  mappedPort: number;
}

export interface AccessRequest {
  /** Short, human-typable id (`R4K7QX`). */
  id: string;
  /** Compare-and-set version; every stored change increments it. */
  version: number;
  state: RequestState;
  requester: Actor;
  vms: VmRef[];
  /** The ports to open, each resolved against the policy (protocol as the policy has it). */
  ports: PortSpec[];
  /**
   * The source prefix to allow (an address, CIDR or `*` only when a rule allows any source), or
   * FROM_ME while the request waits for the requester's address.
   */
  source: string;
  /**
   * Every prefix to allow, when the source was not named and the policy lists several (as Azure's
   * portal takes them all); `source` is then the first. Absent on single-source requests, and on
   * every request stored before requests could carry several.
   */
  sources?: string[];
  /** Said to the requester and on the card when the source was not named: how wide the default is. */
  sourceNote?: string;
  /** `from me`: the one-time link's token (hashed) and when it lapses; dropped once used. */
  addressLink?: { tokenHash: string; expiresAt: Date };
  durationMinutes: number;
  /**
   * The longest the ports may stay open from any moment: the smallest port maximum of the policy and
   * the rule's `max`, as they were at request time. Extensions offer only what still fits.
   */
  maxOpenMinutes?: number;
  /** The rule's `maxTotal` at request time: the longest the grant may stay open, extensions included. */
  maxTotalMinutes?: number;
  reason: string;
  /** Name of the access rule that governs this request. */
  rule: string;
  requiredApprovals: number;
  route: Route;
  approvals: Approval[];
  denial?: Decision;
  cancelledAt?: Date;
  createdAt: Date;
  /** When the ports opened (the clock starts here, DESIGN §3). */
  openedAt?: Date;
  endsAt?: Date;
  closedAt?: Date;
  /** Azure's (or the bot's) reason, when state is `failed`. */
  failure?: string;
  extension?: Extension;
  /** Set once the request waited for approval past the rule's `escalateAfterMinutes`. */
  escalation?: Escalation;
  /** Who released early. */
  releasedBy?: Actor;
  /** Where to connect, for ports behind Azure Firewall (set when Azure shows the ports open). */
  connect?: ConnectDetail[];
  autoApproved?: boolean;
}

/** One line of the append-only audit trail. */
export interface AuditEvent {
  at: Date;
  requestId: string | null;
  /** Dotted name: `request.created`, `request.approved`, `azure.initiate`, `command.refused`, … */
  type: string;
  actor: Actor | null;
  platform: Platform | null;
  vmNames: string[];
  details: Record<string, unknown>;
}
