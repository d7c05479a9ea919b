// What every use case shares: the ports, the compare-and-set write of a request together with its
// audit events and announcement jobs, and the audit helpers.
import { JitError, CloudError } from '../core/errors';
import { transition, type LifecycleEvent } from '../core/lifecycle';
import type { AccessPolicy } from '../core/policy';
import type { AccessRequest, Actor, AuditEvent, Platform, Vm } from '../core/types';
import { requestView, type RequestView } from '../core/views';
import { errorFields, type Logger } from './logger';
import type { AppObserver } from './observer';
import { announceJobs, transitionJobs, type Announce } from './outbox';
import type { People } from './people';
import type { ChatPort, Clock, Cloud, Commit, Job, JobLease, JobSpec, Store } from './ports';

/** How long a platform's delivery id is remembered (Slack and Teams retry within minutes). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

export interface UseCaseSettings {
  /** How long the VM list from Azure is reused. */
  vmCacheTtlMs?: number;
  /** Per Azure call. */
  cloudTimeoutInMs?: number;
  /** After this long since approval, a port that still would not open makes the request fail. */
  openDeadlineMs?: number;
  /** The `from me` page for a request and its one-time token, under JITBOT_PUBLIC_URL (or the console's URL). */
  addressLink?: (requestId: string, token: string) => string;
  /** After Azure accepted an initiate, how long it may take to apply it before the request fails. */
  applyDeadlineMs?: number;
  /** Signed download links for audit CSVs (Teams and the console cannot take a file upload). */
  auditLink?: (query: { vm?: string; days: number; email: string }) => string | undefined;
}

/** One per app; every use-case module gets the same object, so caches and platforms are shared. */
export interface UseCaseContext {
  policy: AccessPolicy;
  store: Store;
  cloud: Cloud;
  clock: Clock;
  log: Logger;
  observer: AppObserver;
  settings: UseCaseSettings;
  chats: Map<Platform, ChatPort>;
  vmCache: { current: { at: number; vms: Promise<Vm[]> } | null };
  /** Run what just became due without waiting for the next poll (set once the scheduler exists). */
  kick: () => Promise<void>;
  /** A lease for a commit's due jobs, so this process runs them without claiming them (see Scheduler). */
  leaseJobs?: () => JobLease | undefined;
  /** Who a person is: the file's people and the directory groups they are in. */
  people: People;
  /** Step-up sign-ins for approvals, when a sign-in provider is configured. */
  stepUps?: { ask(actor: Actor, r: AccessRequest): Promise<string> };
}

export interface ApplyOptions {
  /** The request as the caller just read it, for the first try. */
  current?: AccessRequest;
}

export interface AfterTransition {
  schedule?: JobSpec[];
  announce?: Announce;
  cancelKinds?: Job['kind'][];
  audit?: AuditEvent[];
}

export abstract class UseCase {
  protected readonly policy: AccessPolicy;
  protected readonly store: Store;
  protected readonly cloud: Cloud;
  protected readonly clock: Clock;
  protected readonly log: Logger;
  protected readonly observer: AppObserver;
  protected readonly settings: UseCaseSettings;
  protected readonly chats: Map<Platform, ChatPort>;
  protected readonly people: People;

  constructor(protected readonly ctx: UseCaseContext) {
    this.policy = ctx.policy;
    this.store = ctx.store;
    this.cloud = ctx.cloud;
    this.clock = ctx.clock;
    this.log = ctx.log;
    this.observer = ctx.observer;
    this.settings = ctx.settings;
    this.chats = ctx.chats;
    this.people = ctx.people;
  }

  get platforms(): Platform[] {
    return [...this.chats.keys()];
  }

  protected get cloudTimeoutInMs(): number {
    return this.settings.cloudTimeoutInMs ?? 15_000;
  }

  protected kick(): void {
    this.ctx.kick().catch((err: unknown) => this.log.warn(errorFields(err), 'scheduler kick failed'));
  }

  /** Every VM the bot can see, cached briefly: Azure list calls are slow and rate limited. */
  async vms(opts: { fresh?: boolean } = {}): Promise<Vm[]> {
    const ttl = this.settings.vmCacheTtlMs ?? 60_000;
    const now = Date.now();
    const cached = this.ctx.vmCache.current;
    if (!opts.fresh && cached && now - cached.at < ttl) return cached.vms;
    const started = Date.now();
    const vms = this.cloud.listVms({ timeoutInMs: this.cloudTimeoutInMs }).then(
      (v) => {
        this.observer.cloudCall('listVms', (Date.now() - started) / 1000, 'ok');
        return v;
      },
      (err: unknown) => {
        this.observer.cloudCall('listVms', (Date.now() - started) / 1000, 'error', err instanceof CloudError ? err.kind : 'unknown');
        this.ctx.vmCache.current = null;
        throw err;
      },
    );
    this.ctx.vmCache.current = { at: now, vms };
    return vms;
  }

  protected forgetVms(): void {
    this.ctx.vmCache.current = null;
  }

  /** The card as it is now. */
  async view(requestId: string): Promise<RequestView | null> {
    const r = await this.store.getRequest(requestId.trim().toUpperCase());
    return r ? requestView(r, this.clock.now()) : null;
  }

  protected async load(id: string): Promise<AccessRequest> {
    const r = await this.store.getRequest(id);
    if (!r) throw new JitError('not_found', `There is no request ${id}. Use /jit status to see yours.`);
    return r;
  }

  /**
   * Compare-and-set loop: read, apply the pure transition, write if the version did not move.
   * `after` adds jobs, cancellations and announcements for the new state, in the same transaction.
   */
  protected async apply(
    id: string,
    event: (r: AccessRequest) => LifecycleEvent | JitError,
    after: (next: AccessRequest, prev: AccessRequest) => AfterTransition,
    opts: ApplyOptions = {},
  ): Promise<{ prev: AccessRequest; next: AccessRequest }> {
    for (let attempt = 0; attempt < 20; attempt++) {
      // The caller's copy saves a read on the first try; if it is out of date the write fails its
      // compare-and-set and the next try reads the request afresh.
      const prev = attempt === 0 && opts.current?.id === id ? opts.current : await this.load(id);
      const ev = event(prev);
      if (ev instanceof JitError) throw ev;
      const result = transition(prev, ev);
      if (!result.ok) throw result.error;
      const next = result.next;
      const x = after(next, prev);
      const schedule = [
        ...(x.schedule ?? []),
        ...(x.announce ? announceJobs(next, await this.platformsWithCard(id), x.announce, this.clock.now()) : []),
        ...transitionJobs(next, prev, ev, this.clock.now()),
      ];
      const ok = await this.commitAndRun({
        request: next,
        expectedVersion: prev.version,
        audit: [...result.audit, ...(x.audit ?? [])],
        schedule,
        ...(x.cancelKinds ? { cancelJobs: { requestId: id, kinds: x.cancelKinds } } : {}),
      });
      if (ok) return { prev, next };
    }
    throw new JitError('conflict', 'The request is changing right now; try again.');
  }

  /**
   * Commit, and run what the commit schedules that is already due: in this process, leased to it in
   * the same statement (see Scheduler.leaseForNewJobs), or, without a lease, through a claim now.
   */
  protected async commitAndRun(change: Commit): Promise<boolean> {
    const lease = this.ctx.leaseJobs?.();
    const ok = await this.store.commit(lease ? { ...change, lease } : change);
    if (ok && !lease) this.kick();
    return ok;
  }

  /**
   * The platforms a request's card and thread replies go to: all but those where posting the card
   * found no place for it (recorded once, for good), whose redraws and replies would only look and
   * give up. In local mode, with three platforms, that was nearly half of each expiry's jobs.
   */
  protected async platformsWithCard(id: string): Promise<readonly Platform[]> {
    const cards = (await this.store.listMessageRefs(id)).filter((m) => m.kind === 'card');
    const nowhere = (p: Platform) => {
      const mine = cards.filter((m) => m.ref.platform === p);
      return mine.length > 0 && mine.every((m) => m.ref.data.none);
    };
    return this.platforms.filter((p) => !nowhere(p));
  }

  /**
   * Run once per idempotency key (a platform's redelivery, a double click). The key is given back
   * when the run changed nothing (a refusal, an error), so a redelivery is answered, not ignored.
   */
  protected async once<T>(key: string | undefined, run: () => Promise<T>, opts: { changed: (result: T) => boolean; duplicate: () => T | Promise<T> }): Promise<T> {
    if (!key) return run();
    if (!(await this.store.claimKey(key, IDEMPOTENCY_TTL_MS, this.clock.now()))) return opts.duplicate();
    let result: T;
    try {
      result = await run();
    } catch (err) {
      await this.store.releaseKey(key).catch(() => undefined);
      throw err;
    }
    if (!opts.changed(result)) await this.store.releaseKey(key);
    return result;
  }

  /** Azure records the bot's identity as requestor; the justification names the person and the request. */
  protected justification(r: AccessRequest, what = r.reason || 'no reason given'): string {
    return `jitbot ${r.id} for ${r.requester.name} <${r.requester.email ?? r.requester.userId}> via ${r.requester.platform}: ${what}`.slice(0, 500);
  }

  protected auditEvent(type: string, r: AccessRequest, actor: Actor | null, details: Record<string, unknown>): AuditEvent {
    return { at: this.clock.now(), requestId: r.id, type, actor, platform: actor?.platform ?? null, vmNames: r.vms.map((v) => v.name), details };
  }

  protected freeAudit(type: string, actor: Actor, vmNames: string[], details: Record<string, unknown>): AuditEvent {
    return { at: this.clock.now(), requestId: null, type, actor, platform: actor.platform, vmNames, details };
  }

  protected async auditRefusal(actor: Actor, what: string, reason: string, vmNames: string[], requestId: string | null = null): Promise<void> {
    await this.store.appendAudit([{ at: this.clock.now(), requestId, type: 'command.refused', actor, platform: actor.platform, vmNames, details: { what, reason } }]);
  }
}
