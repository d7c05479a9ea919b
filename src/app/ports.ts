// The ports the use cases drive. Adapters implement them; nothing here names Slack, Teams or Azure.
import type { DefenderPlan } from '../core/azure-limits';
import type { AccessRequest, AuditEvent, Platform, PortRule, PortSpec, RequestState, Route, Vm, VmRef, Actor } from '../core/types';
import type { Notice, RequestView } from '../core/views';
import type { SignInClaims } from '../core/step-up';

/** Every outbound call takes these, as the Azure SDK does. */
export interface CallOptions {
  abortSignal?: AbortSignal;
  timeoutInMs?: number;
}

// ---- Clock ------------------------------------------------------------------------------------

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

// ---- Cloud (Azure JIT) ------------------------------------------------------------------------

export interface OpenSpec {
  vms: VmRef[];
  ports: PortSpec[];
  /** One prefix, or several (the policy's list, taken when the requester named none). */
  sources: string[];
  endsAt: Date;
  /** Names the chat user and the reason: Azure records the bot as requestor. */
  justification: string;
}

export interface OpenResult {
  /** Azure's id for the initiate request, when it returned one. */
  azureRequestId?: string;
  /** The end time Azure accepted (the earliest over all ports). */
  endsAt: Date;
}

/** What Azure's policy `requests` history says about one VM port (for reconcile). */
export interface CloudAccessRecord {
  vmId: string;
  port: number;
  /** What Azure shows, for people: one prefix, or several joined with commas. */
  source: string;
  /** Each prefix the grant allows. */
  sources: string[];
  startedAt: Date;
  endsAt: Date;
  /** `Initiating` (accepted, NSG not written yet), `Initiated`, `Expired`, `NewerRequestInitiated`, … */
  status: string;
  /** Azure's own reason next to the status, when it gives one (the words of a failed apply). */
  statusReason?: string;
  justification?: string;
  /** Behind Azure Firewall: where people connect (the firewall's public address and mapped port). */
  connectTo?: { address: string; port: number };
}

export interface Cloud {
  /** Every VM the bot can see, with its JIT policy (null when none). */
  listVms(opts?: CallOptions): Promise<Vm[]>;
  /** Initiate JIT access for exactly these ports. Resolves only when Azure accepted every port. */
  open(spec: OpenSpec, opts?: CallOptions): Promise<OpenResult>;
  /** A later end time for ports already open (a new initiate; Azure supersedes the older request). */
  extend(spec: OpenSpec, opts?: CallOptions): Promise<OpenResult>;
  /** Close now: a new initiate with the shortest end time Azure accepts. */
  close(spec: Omit<OpenSpec, 'endsAt'>, opts?: CallOptions): Promise<void>;
  /** Put a VM under JIT with these port rules, keeping every other VM's rules in the policy. */
  enable(vm: VmRef, rules: PortRule[], opts?: CallOptions): Promise<Vm>;
  /** One cheap read (the first page of JIT policies) that shows ARM answers our credentials (readiness). */
  probe(opts?: CallOptions): Promise<void>;
  /** Azure's request history for the VMs: whether an initiate has been applied yet, reconcile. */
  accessRecords(vms: VmRef[], opts?: CallOptions): Promise<CloudAccessRecord[]>;
  /** The subscription's Defender for Servers plan (JIT needs Plan 2). */
  defenderPlan(opts?: CallOptions): Promise<DefenderPlan>;
}

// ---- Chat -------------------------------------------------------------------------------------

/** Where a card or message lives on a platform. Versioned JSON, opaque to everyone but its adapter. */
export interface MessageRef {
  platform: Platform;
  v: 1;
  data: Record<string, unknown>;
}

/**
 * One per platform. Each method throws ChatError on failure (retryable or not); the scheduler retries.
 * A platform that cannot do something returns null/false rather than throwing.
 */
export interface ChatPort {
  readonly platform: Platform;
  /** Post the approval card where the route says on this platform; null when the route names no place here. */
  postCard(route: Route, view: RequestView, opts?: CallOptions): Promise<MessageRef | null>;
  /** Redraw a posted card for everyone. */
  updateCard(ref: MessageRef, view: RequestView, opts?: CallOptions): Promise<void>;
  /** Reply in the card's thread; the reply's own reference, so it can be redrawn once its buttons are stale. */
  replyInThread(ref: MessageRef, notice: Notice, opts?: CallOptions): Promise<MessageRef | null>;
  /**
   * A direct message; false when this platform cannot reach the person. A person known only by
   * email (`userId` empty) is looked up by email on this platform.
   */
  notifyPerson(person: Actor, notice: Notice, opts?: CallOptions): Promise<boolean>;
  /** A direct message, and where it landed; null when this platform cannot reach the person. */
  messagePerson(person: Actor, notice: Notice, opts?: CallOptions): Promise<MessageRef | null>;
  /** Redraw a thread reply or direct message this port sent (a reminder whose grant ended loses its buttons). */
  updateNotice(ref: MessageRef, notice: Notice, opts?: CallOptions): Promise<void>;
  /**
   * The requester's own copy of the request, in their direct messages, kept up to date with
   * updateCopy. Null when this platform keeps the copy elsewhere (the answer to the command itself)
   * or cannot reach the person.
   */
  postCopy(person: Actor, view: RequestView, opts?: CallOptions): Promise<MessageRef | null>;
  /** Redraw the requester's copy: posted by postCopy, or the platform's own answer kept with JitApi.keepCopy. */
  updateCopy(ref: MessageRef, view: RequestView, opts?: CallOptions): Promise<void>;
}

// ---- Directory (Entra ID, Slack user groups) -----------------------------------------------------

export type DirectoryKind = 'entra' | 'slack';

/** A group of the access rules (`group:<name>`) whose members a directory keeps. */
export interface DirectoryGroupRef {
  /** The name used in rules, lower-cased. */
  name: string;
  kind: DirectoryKind;
  /** Entra: the group's object id. Slack: the user group's id (`S…`) or handle. */
  id: string;
}

export interface DirectoryMember {
  email: string;
  name?: string;
}

/**
 * One directory the bot reads group membership from. Every method throws DirectoryError when the
 * directory cannot answer (unreachable, throttled, no consent); a person it does not know is in no group.
 */
export interface Directory {
  readonly kind: DirectoryKind;
  /** Its name for people: `Microsoft Entra ID`, `Slack`. */
  readonly label: string;
  /**
   * Which of `groups` the person (by email) is in, directly or through nested groups, their name when
   * the directory knows them, and the age of the oldest data the answer rests on.
   */
  membership(email: string, groups: readonly DirectoryGroupRef[], opts?: CallOptions): Promise<{ name?: string; groupIds: string[]; asOf: Date }>;
  /** Everyone in the group, nested groups included (for approver lists). */
  members(group: DirectoryGroupRef, opts?: CallOptions): Promise<DirectoryMember[]>;
}

// ---- Sign-in (OpenID Connect, for step-up approvals) --------------------------------------------

export interface SignInChecks {
  state: string;
  nonce: string;
  codeVerifier: string;
}

export interface SignInPort {
  /** Where to send the approver's browser for a fresh sign-in (authorization code + PKCE). */
  authorizationUrl(input: SignInChecks & { maxAgeSeconds: number; loginHint?: string; acr?: string }, opts?: CallOptions): Promise<URL>;
  /**
   * Redeem the provider's redirect back to us: checks state, exchanges the code with the PKCE
   * verifier, validates the ID token (signature, issuer, audience, nonce) and returns its claims.
   * Throws SignInError with a sentence for the person when any of that fails.
   */
  redeem(callbackQuery: URLSearchParams, checks: SignInChecks, opts?: CallOptions): Promise<SignInClaims>;
}

// ---- Store ------------------------------------------------------------------------------------

export interface StoreHealth {
  /** The newest migration applied to the database. */
  schemaVersion: number;
  /** The newest migration this build ships. */
  expectedVersion: number;
}

export type JobKind =
  | 'open' // initiate after approval
  | 'extend-open' // initiate the later end time after an extension is approved
  | 'confirm' // poll Azure until it has applied an accepted initiate (open, extend, close); payload: ConfirmPayload
  | 'remind' // warn the requester before endsAt
  | 'expire' // endsAt reached
  | 'pending-timeout' // nobody decided in time
  | 'escalate' // still undecided after the rule's escalateAfterMinutes; payload: { phase, askedAt? }
  | 'post-card' // payload: { platforms, copy? } (one job for every platform and the requester's copy; { platform } from older versions)
  | 'update-card' // payload: { platforms } (likewise)
  | 'thread' // payload: { platform, notice }
  | 'dm' // payload: { notice, to? (an Actor) or toPerson? ({ name, email }: tried on each platform) }
  | 'post-copy' // the requester's own copy, on their platform (while a request waits for its address; older versions)
  | 'update-copy' // redraw the requester's copies after a transition
  | 'close-notices'; // payload: { refKind?, notice? }: redraw reminders (the grant ended) or asks (decided) without buttons

export interface JobSpec {
  kind: JobKind;
  requestId: string | null;
  dueAt: Date;
  /** Unique: scheduling the same key twice keeps one job. */
  key: string;
  payload?: Record<string, unknown>;
}

export interface Job extends JobSpec {
  id: string;
  attempts: number;
  payload: Record<string, unknown>;
}

export interface Commit {
  request: AccessRequest;
  /** null: insert (fails if the id exists); otherwise compare-and-set on this version. */
  expectedVersion: number | null;
  audit?: AuditEvent[];
  schedule?: JobSpec[];
  /** Cancel not-yet-done jobs of this request, of these kinds (all kinds when omitted). */
  cancelJobs?: { requestId: string; kinds?: JobKind[] };
  /** The scheduled jobs already due are written leased to this process, and handed to it once committed. */
  lease?: JobLease;
}

/**
 * A lease on the jobs a commit schedules, taken in the same statement that writes them. The process
 * that committed runs them without claiming them first; should it die, the lease lapses and any
 * process claims them, as with any other job.
 */
export interface JobLease {
  owner: string;
  /** Jobs due at or before this moment are leased. */
  now: Date;
  until: Date;
  /** Called after the commit with the jobs it leased (not those a duplicate key kept out). */
  adopt(jobs: Job[]): void;
}

export interface RequestQuery {
  states?: RequestState[];
  requesterEmail?: string;
  /** Requests touching this VM name. */
  vmName?: string;
  limit?: number;
}

export interface AuditQuery {
  since?: Date;
  vmName?: string;
  requestId?: string;
  limit?: number;
}

/** `ask:` and the decision's name (core/lifecycle openDecision). */
export type AskRefKind = `ask:${string}`;

export interface StoredMessageRef {
  requestId: string;
  /**
   * `card`: the approval card; `copy`: the requester's own copy; `notice`: a thread reply or direct
   * message with buttons (a reminder), redrawn without them once the grant ends; `ask:<decision>`: a
   * direct message asking one person to decide (an escalation, a step-up link), redrawn without its
   * buttons once that decision is made.
   */
  kind: 'card' | 'dm' | 'copy' | 'notice' | AskRefKind;
  ref: MessageRef;
}

export interface Store {
  /** Apply pending SQL migrations (idempotent; safe with several processes). */
  migrate(): Promise<void>;
  /** Answers, and says whether the schema holds every migration this build knows (readiness). */
  ping(): Promise<StoreHealth>;
  close(): Promise<void>;

  getRequest(id: string): Promise<AccessRequest | null>;
  listRequests(query: RequestQuery): Promise<AccessRequest[]>;
  /**
   * Atomically write the request (insert, or compare-and-set on expectedVersion), append the audit
   * events, schedule and cancel jobs. Returns false, having written nothing, when the version moved.
   */
  commit(change: Commit): Promise<boolean>;

  appendAudit(events: AuditEvent[]): Promise<void>;
  listAudit(query: AuditQuery): Promise<AuditEvent[]>;
  /** Last time each VM (by name) was opened. */
  lastAccessByVm(): Promise<Map<string, Date>>;

  saveMessageRef(ref: StoredMessageRef): Promise<void>;
  listMessageRefs(requestId: string): Promise<StoredMessageRef[]>;

  /** Idempotency: true the first time a key is claimed, false ever after (until ttl passes). */
  claimKey(key: string, ttlMs: number, now: Date): Promise<boolean>;
  /** Give a claimed key back when nothing was done, so a redelivery is answered afresh. */
  releaseKey(key: string): Promise<void>;

  /** Small key-value space for adapters (Teams conversation references, user caches). */
  getValue<T = unknown>(namespace: string, key: string): Promise<T | null>;
  setValue(namespace: string, key: string, value: unknown): Promise<void>;
  listValues<T = unknown>(namespace: string): Promise<Array<{ key: string; value: T }>>;

  scheduleJobs(jobs: JobSpec[]): Promise<void>;
  /** Lease up to `limit` due jobs (`FOR UPDATE SKIP LOCKED`), for `leaseMs`. */
  claimJobs(owner: string, now: Date, leaseMs: number, limit: number): Promise<Job[]>;
  /** When the earliest unfinished job nobody holds a lease on at `now` is (or was) due; null when there is none. */
  nextDueAt(now: Date): Promise<Date | null>;
  /** Lease one job by id if it is due and free (run-now after a commit). */
  claimJob(id: string, owner: string, now: Date, leaseMs: number): Promise<Job | null>;
  completeJob(id: string, owner: string): Promise<void>;
  /** Put the job back for a later try. */
  retryJob(id: string, owner: string, dueAt: Date, error: string): Promise<void>;
  /** Give up on a job; it stays for inspection. */
  failJob(id: string, owner: string, error: string): Promise<void>;
  /** Drop every lease this owner holds (graceful shutdown). */
  releaseLeases(owner: string): Promise<void>;
  /** Ids of jobs with these keys that are still to run. */
  findJobIds(keys: string[]): Promise<Map<string, string>>;
}
