// The use cases: request, decide, cancel, release, extend, expire, remind, time out, list VMs,
// status, policy, enable, audit. Every state change is a compare-and-set on the request's version,
// written together with its audit events and the jobs that announce it.
import { randomInt } from 'node:crypto';
import {
  canDecide,
  evaluateRequest,
  findPerson,
  hasPrincipal,
  isAdmin,
  resolveVmNames,
  ruleForVm,
  approversFor,
} from '../core/access';
import { HELP_EXAMPLES, HELP_LINES, USAGE, type Command, type RequestCommand } from '../core/command';
import { parseDuration } from '../core/duration';
import { ChatError, CloudError, JitError, isJitError } from '../core/errors';
import { parseCommand } from '../core/grammar';
import { createRequest, transition, type LifecycleEvent } from '../core/lifecycle';
import * as notices from '../core/notices';
import type { Person } from '../core/policy';
import type { AccessPolicy } from '../core/policy';
import type { AccessRequest, Actor, AuditEvent, Platform, PortRule, Vm } from '../core/types';
import {
  requestView,
  type ActionResult,
  type FormField,
  type FormInput,
  type FormView,
  type Notice,
  type Reply,
  type RequestView,
  type Verb,
} from '../core/views';
import type { ActOptions, CommandOptions, FormSubmitResult, HomeView, JitApi } from './api';
import { auditCsv } from './audit-csv';
import { errorFields, silentLogger, type Logger } from './logger';
import { nullObserver, type AppObserver } from './observer';
import { announceJobs, postCardJobs, type Announce } from './outbox';
import type { ChatPort, Clock, Cloud, Job, JobSpec, MessageRef, Store } from './ports';
import { Scheduler } from './scheduler';
import { formView, vmView } from './vm-views';

export interface JitAppOptions {
  policy: AccessPolicy;
  store: Store;
  cloud: Cloud;
  clock: Clock;
  logger?: Logger;
  observer?: AppObserver;
  /** Identifies this process's scheduler leases. */
  owner?: string;
  /** How long the VM list from Azure is reused. */
  vmCacheTtlMs?: number;
  /** Per Azure call. */
  cloudTimeoutInMs?: number;
  /** After this long since approval, a port that still would not open makes the request fail. */
  openDeadlineMs?: number;
  scheduler?: { pollIntervalMs?: number; leaseMs?: number; batchSize?: number; maxAttempts?: number };
  /** Signed download links for audit CSVs (Teams and the console cannot take a file upload). */
  auditLink?: (query: { vm?: string; days: number; email: string }) => string | undefined;
}

const ID_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const ACTIVE_STATES = ['pending', 'opening', 'active'] as const;

function newRequestId(): string {
  let id = 'R';
  for (let i = 0; i < 5; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

function errorReply(err: JitError, usage?: string): Reply {
  return usage ? { kind: 'error', message: err.message, usage } : { kind: 'error', message: err.message };
}

export class JitApp implements JitApi {
  readonly scheduler: Scheduler;
  private readonly chats = new Map<Platform, ChatPort>();
  private readonly policy: AccessPolicy;
  private readonly store: Store;
  private readonly cloud: Cloud;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly observer: AppObserver;
  private readonly opts: JitAppOptions;
  private vmCache: { at: number; vms: Promise<Vm[]> } | null = null;

  constructor(opts: JitAppOptions) {
    this.opts = opts;
    this.policy = opts.policy;
    this.store = opts.store;
    this.cloud = opts.cloud;
    this.clock = opts.clock;
    this.log = opts.logger ?? silentLogger;
    this.observer = opts.observer ?? nullObserver;
    this.scheduler = new Scheduler({
      store: opts.store,
      clock: opts.clock,
      owner: opts.owner ?? `jitbot-${process.pid}-${randomInt(1e9)}`,
      logger: this.log,
      ...opts.scheduler,
      handlers: {
        open: (job) => this.runOpen(job),
        'extend-open': (job) => this.runExtendOpen(job),
        remind: (job) => this.runRemind(job),
        expire: (job) => this.runExpire(job),
        'pending-timeout': (job) => this.runPendingTimeout(job),
        'post-card': (job) => this.runPostCard(job),
        'update-card': (job) => this.runUpdateCard(job),
        thread: (job) => this.runThread(job),
        dm: (job) => this.runDm(job),
      },
    });
  }

  /** Register a platform; cards of new requests go to every registered platform. */
  addChat(chat: ChatPort): void {
    this.chats.set(chat.platform, chat);
  }

  get platforms(): Platform[] {
    return [...this.chats.keys()];
  }

  start(): void {
    this.scheduler.start();
  }

  async stop(opts: { timeoutMs?: number } = {}): Promise<void> {
    await this.scheduler.stop({ timeoutMs: opts.timeoutMs ?? 8000 });
  }

  knows(email: string | null): boolean {
    return findPerson(this.policy, email) !== null;
  }

  // ---- commands ---------------------------------------------------------------------------

  async command(actor: Actor, text: string, opts: CommandOptions = {}): Promise<Reply> {
    const parsed = parseCommand(text);
    if (!parsed.ok) {
      this.observer.command('unknown', 'invalid');
      return { kind: 'error', message: parsed.error.message, usage: parsed.error.usage };
    }
    const command = parsed.command;
    if (command.kind === 'help') {
      this.observer.command('help', 'ok');
      return this.help(actor);
    }
    const person = findPerson(this.policy, actor.email);
    if (!person) {
      this.observer.command(command.kind, 'refused');
      await this.auditRefusal(actor, command.kind, 'unknown person', []);
      return { kind: 'error', message: `You are not in jitbot's access list${actor.email ? ` (${actor.email})` : ''}; ask an admin to add you. Try /jit help.` };
    }
    if (opts.idempotencyKey && !(await this.store.claimKey(`cmd:${opts.idempotencyKey}`, IDEMPOTENCY_TTL_MS, this.clock.now()))) {
      return { kind: 'text', text: 'Already received; nothing was done twice. Use /jit status to see your requests.' };
    }
    try {
      const reply = await this.dispatch(actor, person, command);
      this.observer.command(command.kind, reply.kind === 'error' ? 'refused' : 'ok');
      return reply;
    } catch (err) {
      if (isJitError(err)) {
        this.observer.command(command.kind, 'refused');
        return errorReply(err);
      }
      this.observer.command(command.kind, 'error');
      this.log.error({ ...errorFields(err), command: command.kind }, 'command failed');
      return { kind: 'error', message: 'Something went wrong on our side; nothing was changed. Try again in a minute.' };
    }
  }

  private async dispatch(actor: Actor, person: Person, command: Command): Promise<Reply> {
    switch (command.kind) {
      case 'form': {
        const f = await this.form(actor);
        return f.ok ? { kind: 'form', form: f.form } : f.reply;
      }
      case 'help':
        return this.help(actor);
      case 'request':
        return this.request(actor, person, command);
      case 'vms':
        return this.listVms(person);
      case 'status':
        return this.status(person);
      case 'policy': {
        const vms = await this.vms();
        const resolved = resolveVmNames([command.vm], vms);
        if (!resolved.ok) return errorReply(resolved.error, USAGE.policy);
        return { kind: 'policy', vm: await this.describeVm(resolved.vms[0]) };
      }
      case 'cancel':
        return this.actionReply(await this.act(actor, 'cancel', command.id));
      case 'release':
        return this.actionReply(await this.act(actor, 'release', command.id));
      case 'extend':
        return this.actionReply(await this.act(actor, 'extend', command.id, { durationMinutes: command.durationMinutes }));
      case 'enable':
        return this.enable(actor, person, command);
      case 'audit':
        return this.audit(actor, person, command.vm, command.days ?? 7);
    }
  }

  private actionReply(r: ActionResult): Reply {
    return r.ok ? { kind: 'text', text: r.message } : { kind: 'error', message: r.message };
  }

  private help(actor: Actor): Reply {
    const person = findPerson(this.policy, actor.email);
    const admin = person ? isAdmin(this.policy, person) : false;
    return {
      kind: 'help',
      help: {
        commands: HELP_LINES.filter((l) => admin || !l.admin).map((l) => ({ usage: l.usage, description: l.description })),
        examples: [...HELP_EXAMPLES],
      },
    };
  }

  /** Every VM the bot can see, cached briefly: Azure list calls are slow and rate limited. */
  async vms(opts: { fresh?: boolean } = {}): Promise<Vm[]> {
    const ttl = this.opts.vmCacheTtlMs ?? 60_000;
    const now = Date.now();
    if (!opts.fresh && this.vmCache && now - this.vmCache.at < ttl) return this.vmCache.vms;
    const started = Date.now();
    const vms = this.cloud.listVms({ timeoutInMs: this.opts.cloudTimeoutInMs ?? 15_000 }).then(
      (v) => {
        this.observer.cloudCall('listVms', (Date.now() - started) / 1000, 'ok');
        return v;
      },
      (err: unknown) => {
        this.observer.cloudCall('listVms', (Date.now() - started) / 1000, 'error', err instanceof CloudError ? err.kind : 'unknown');
        this.vmCache = null;
        throw err;
      },
    );
    this.vmCache = { at: now, vms };
    return vms;
  }

  private async request(actor: Actor, person: Person, command: RequestCommand): Promise<Reply> {
    const vms = await this.vms();
    const evaluated = evaluateRequest({ policy: this.policy, person, command, vms });
    if (!evaluated.ok) {
      await this.auditRefusal(actor, 'request', evaluated.error.message, command.vms);
      return errorReply(evaluated.error, USAGE.request);
    }
    const request = await this.createFromDraft(actor, evaluated.draft);
    const view = requestView(request, this.clock.now());
    const text = request.state === 'opening'
      ? `Request ${request.id} was approved automatically by rule ${request.rule}; opening ${view.ports.join(', ')} on ${view.vms.join(', ')} now.`
      : `Sent for approval: ${request.id} (${view.ports.join(', ')} on ${view.vms.join(', ')} from ${view.source} for ${view.duration}). It needs ${request.requiredApprovals} approval${request.requiredApprovals > 1 ? 's' : ''}.`;
    return { kind: 'submitted', text, request: view };
  }

  private async createFromDraft(actor: Actor, draft: Parameters<typeof createRequest>[0]['draft']): Promise<AccessRequest> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const now = this.clock.now();
      const { request, audit } = createRequest({ id: newRequestId(), draft, requester: actor, now });
      const schedule: JobSpec[] = [...postCardJobs(request, this.platforms, now)];
      if (request.state === 'opening') {
        schedule.push({ kind: 'open', requestId: request.id, dueAt: now, key: `${request.id}:open` });
      } else {
        schedule.push({
          kind: 'pending-timeout',
          requestId: request.id,
          dueAt: new Date(now.getTime() + this.policy.pendingTimeoutMinutes * 60_000),
          key: `${request.id}:pending-timeout`,
        });
      }
      if (await this.store.commit({ request, expectedVersion: null, audit, schedule })) {
        this.kick();
        return request;
      }
    }
    throw new JitError('internal', 'Could not store the request; try again.');
  }

  /** Run what just became due without waiting for the next poll. */
  private kick(): void {
    this.scheduler.kick().catch((err: unknown) => this.log.warn(errorFields(err), 'scheduler kick failed'));
  }

  // ---- buttons and decisions --------------------------------------------------------------

  async act(actor: Actor, verb: Verb, requestId: string, opts: ActOptions = {}): Promise<ActionResult> {
    const id = requestId.trim().toUpperCase();
    const person = findPerson(this.policy, actor.email);
    if (!person) {
      await this.auditRefusal(actor, verb, 'unknown person', [], id);
      return { ok: false, message: "You are not in jitbot's access list; ask an admin to add you.", view: null };
    }
    if (opts.idempotencyKey && !(await this.store.claimKey(`act:${opts.idempotencyKey}`, IDEMPOTENCY_TTL_MS, this.clock.now()))) {
      return { ok: true, message: 'Already received; nothing was done twice.', view: await this.view(id) };
    }
    try {
      switch (verb) {
        case 'approve':
        case 'deny':
          return await this.decide(actor, person, verb, id);
        case 'cancel':
          return await this.cancel(actor, person, id);
        case 'release':
          return await this.release(actor, person, id);
        case 'extend':
          return await this.extend(actor, person, id, opts.durationMinutes);
      }
    } catch (err) {
      if (isJitError(err)) return { ok: false, message: err.message, view: await this.view(id) };
      this.log.error({ ...errorFields(err), verb, requestId: id }, 'action failed');
      return { ok: false, message: 'Something went wrong on our side; nothing was changed. Try again in a minute.', view: await this.view(id) };
    }
  }

  private async load(id: string): Promise<AccessRequest> {
    const r = await this.store.getRequest(id);
    if (!r) throw new JitError('not_found', `There is no request ${id}. Use /jit status to see yours.`);
    return r;
  }

  /**
   * Compare-and-set loop: read, apply the pure transition, write if the version did not move.
   * `extra` adds jobs and announcements for the new state.
   */
  private async apply(
    id: string,
    event: (r: AccessRequest) => LifecycleEvent | JitError,
    extra: (next: AccessRequest, prev: AccessRequest) => { schedule?: JobSpec[]; announce?: Announce; cancelKinds?: Job['kind'][] | 'all'; audit?: AuditEvent[] },
  ): Promise<{ prev: AccessRequest; next: AccessRequest }> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const prev = await this.load(id);
      const ev = event(prev);
      if (ev instanceof JitError) throw ev;
      const result = transition(prev, ev);
      if (!result.ok) throw result.error;
      const next = result.next;
      const now = this.clock.now();
      const x = extra(next, prev);
      const schedule = [...(x.schedule ?? []), ...(x.announce ? announceJobs(next, this.platforms, x.announce, now) : [])];
      const ok = await this.store.commit({
        request: next,
        expectedVersion: prev.version,
        audit: [...result.audit, ...(x.audit ?? [])],
        schedule,
        ...(x.cancelKinds
          ? { cancelJobs: x.cancelKinds === 'all' ? { requestId: id } : { requestId: id, kinds: x.cancelKinds } }
          : {}),
      });
      if (ok) {
        this.kick();
        return { prev, next };
      }
    }
    throw new JitError('conflict', 'The request is changing right now; try again.');
  }

  private async decide(actor: Actor, person: Person, verb: 'approve' | 'deny', id: string): Promise<ActionResult> {
    const current = await this.load(id);
    const rights = canDecide(this.policy, person, current);
    if (!rights.ok) {
      this.observer.decision(verb, 'refused');
      await this.auditRefusal(actor, verb, rights.reason, current.vms.map((v) => v.name), id);
      return { ok: false, message: rights.reason, view: requestView(current, this.clock.now()) };
    }
    const { prev, next } = await this.apply(
      id,
      (r) => {
        // Rights are checked again on the version we write, not only on the one we first read.
        const again = canDecide(this.policy, person, r);
        if (!again.ok) return new JitError('not_allowed', again.reason);
        const at = this.clock.now();
        return verb === 'approve' ? { type: 'approve', by: actor, at } : { type: 'deny', by: actor, at };
      },
      (n, p) => this.afterDecision(n, p, actor),
    );
    this.observer.decision(verb, 'ok');
    if (prev.state === 'pending' && next.state !== 'pending') {
      this.observer.decided((this.clock.now().getTime() - prev.createdAt.getTime()) / 1000);
    }
    return { ok: true, message: this.decisionMessage(prev, next, verb), view: requestView(next, this.clock.now()) };
  }

  private decisionMessage(prev: AccessRequest, next: AccessRequest, verb: 'approve' | 'deny'): string {
    const onExtension = prev.state === 'active' && prev.extension !== undefined;
    if (verb === 'deny') return onExtension ? `You denied the extension of ${next.id}.` : `You denied ${next.id}.`;
    if (onExtension) {
      return next.extension?.opening ? `You approved the extension of ${next.id}; extending now.` : `You approved the extension of ${next.id} (${next.extension?.approvals.length ?? 0} of ${next.requiredApprovals}).`;
    }
    return next.state === 'opening' ? `You approved ${next.id}; opening the ports now.` : `You approved ${next.id} (${next.approvals.length} of ${next.requiredApprovals}); it needs another approver.`;
  }

  private afterDecision(next: AccessRequest, prev: AccessRequest, by: Actor): { schedule?: JobSpec[]; announce?: Announce; cancelKinds?: Job['kind'][] } {
    const now = this.clock.now();
    if (prev.state === 'active') {
      // A decision on an extension.
      if (next.extension?.opening) {
        return { schedule: [{ kind: 'extend-open', requestId: next.id, dueAt: now, key: `${next.id}:v${next.version}:extend-open` }], announce: { card: true } };
      }
      if (!next.extension && prev.extension) {
        const n = notices.extensionDeniedNotice(next, by);
        return { announce: { card: true, thread: n, dm: n } };
      }
      return { announce: { card: true, thread: notices.approvalNotice({ ...next, approvals: next.extension?.approvals ?? [] }, by) } };
    }
    switch (next.state) {
      case 'opening':
        return {
          schedule: [{ kind: 'open', requestId: next.id, dueAt: now, key: `${next.id}:open` }],
          cancelKinds: ['pending-timeout'],
          announce: { card: true, thread: notices.approvedNotice(next), dm: notices.approvedNotice(next) },
        };
      case 'denied': {
        const n = notices.deniedNotice(next);
        return { cancelKinds: ['pending-timeout'], announce: { card: true, thread: n, dm: n } };
      }
      default:
        return { announce: { card: true, thread: notices.approvalNotice(next, by) } };
    }
  }

  private async cancel(actor: Actor, person: Person, id: string): Promise<ActionResult> {
    const current = await this.load(id);
    if (current.requester.email !== person.email) {
      await this.auditRefusal(actor, 'cancel', 'not the requester', current.vms.map((v) => v.name), id);
      return { ok: false, message: `Only ${current.requester.name}, who asked for ${id}, can cancel it.`, view: requestView(current, this.clock.now()) };
    }
    const { next } = await this.apply(
      id,
      () => ({ type: 'cancel', by: actor, at: this.clock.now() }),
      (n) => ({ cancelKinds: ['pending-timeout', 'open'], announce: { card: true, thread: notices.cancelledNotice(n) } }),
    );
    return { ok: true, message: `Cancelled ${id}.`, view: requestView(next, this.clock.now()) };
  }

  private async release(actor: Actor, person: Person, id: string): Promise<ActionResult> {
    const current = await this.load(id);
    const admin = isAdmin(this.policy, person);
    if (current.requester.email !== person.email && !admin) {
      await this.auditRefusal(actor, 'release', 'not the requester', current.vms.map((v) => v.name), id);
      return { ok: false, message: `Only ${current.requester.name}, who holds ${id}, or an admin can release it.`, view: requestView(current, this.clock.now()) };
    }
    if (current.state !== 'active') {
      return { ok: false, message: `${id} is not open (${current.state}); there is nothing to release.`, view: requestView(current, this.clock.now()) };
    }
    // Close in Azure first: the request says "closed" only once Azure accepted it.
    const started = Date.now();
    try {
      await this.cloud.close(
        { vms: current.vms, ports: current.ports, source: current.source, justification: this.justification(current, `release by ${actor.name}`) },
        { timeoutInMs: this.opts.cloudTimeoutInMs ?? 15_000 },
      );
      this.observer.cloudCall('close', (Date.now() - started) / 1000, 'ok');
    } catch (err) {
      this.observer.cloudCall('close', (Date.now() - started) / 1000, 'error', err instanceof CloudError ? err.kind : 'unknown');
      const reason = err instanceof CloudError ? err.message : 'Azure could not be reached';
      await this.store.appendAudit([this.auditEvent('azure.close', current, actor, { ok: false, error: reason })]);
      return { ok: false, message: `Could not release ${id}: ${reason}. The ports stay open until ${requestView(current, this.clock.now()).endsAt}.`, view: requestView(current, this.clock.now()) };
    }
    const { next } = await this.apply(
      id,
      () => ({ type: 'release', by: actor, at: this.clock.now() }),
      (n) => ({
        cancelKinds: ['remind', 'expire', 'extend-open'],
        audit: [this.auditEvent('azure.close', n, actor, { ok: true })],
        announce: { card: true, thread: notices.releasedNotice(n), ...(n.requester.email !== person.email ? { dm: notices.releasedNotice(n) } : {}) },
      }),
    );
    return { ok: true, message: `Released ${id}; Azure closes the ports within a minute.`, view: requestView(next, this.clock.now()) };
  }

  private async extend(actor: Actor, person: Person, id: string, durationMinutes?: number): Promise<ActionResult> {
    const current = await this.load(id);
    if (current.requester.email !== person.email) {
      await this.auditRefusal(actor, 'extend', 'not the requester', current.vms.map((v) => v.name), id);
      return { ok: false, message: `Only ${current.requester.name}, who holds ${id}, can ask to extend it.`, view: requestView(current, this.clock.now()) };
    }
    const minutes = durationMinutes ?? current.durationMinutes;
    const limitProblem = await this.extensionProblem(current, minutes);
    if (limitProblem) return { ok: false, message: limitProblem, view: requestView(current, this.clock.now()) };
    const rule = this.policy.rules.find((r) => r.name === current.rule);
    const { next } = await this.apply(
      id,
      () => ({ type: 'extend-request', by: actor, at: this.clock.now(), durationMinutes: minutes }),
      (n) => {
        if (rule?.autoApprove && n.extension) {
          n.extension.opening = true;
          return { schedule: [{ kind: 'extend-open', requestId: n.id, dueAt: this.clock.now(), key: `${n.id}:v${n.version}:extend-open` }], announce: { card: true } };
        }
        return { announce: { card: true, thread: notices.extensionRequestedNotice(n) } };
      },
    );
    return {
      ok: true,
      message: next.extension?.opening ? `Extending ${id} by ${minutes} minutes now.` : `Asked the approvers to extend ${id}; you keep access until they decide or it ends.`,
      view: requestView(next, this.clock.now()),
    };
  }

  /** Azure accepts an end time only within each port's maximum from now; say so before asking anyone. */
  private async extensionProblem(r: AccessRequest, minutes: number): Promise<string | null> {
    if (r.state !== 'active' || !r.endsAt) return `${r.id} is not open (${r.state}); only open access can be extended.`;
    const now = this.clock.now();
    const newEnd = r.endsAt.getTime() + minutes * 60_000;
    const fromNow = Math.ceil((newEnd - now.getTime()) / 60_000);
    const vms = await this.vms();
    for (const ref of r.vms) {
      const vm = vms.find((v) => v.id.toLowerCase() === ref.id.toLowerCase());
      for (const p of r.ports) {
        const rule = vm?.jit?.find((x) => x.number === p.number);
        if (rule && fromNow > rule.maxDurationMinutes) {
          return `Extending by ${minutes}m would keep port ${p.number} on ${ref.name} open ${fromNow}m from now, over its ${rule.maxDurationMinutes}m maximum; ask for at most ${Math.max(0, rule.maxDurationMinutes - Math.ceil((r.endsAt.getTime() - now.getTime()) / 60_000))}m.`;
        }
      }
    }
    return null;
  }

  // ---- reads --------------------------------------------------------------------------------

  async view(requestId: string): Promise<RequestView | null> {
    const r = await this.store.getRequest(requestId.trim().toUpperCase());
    return r ? requestView(r, this.clock.now()) : null;
  }

  async approverEmails(requestId: string): Promise<string[]> {
    const r = await this.store.getRequest(requestId.trim().toUpperCase());
    if (!r) return [];
    return approversFor(this.policy, r)
      .filter((p) => canDecide(this.policy, p, r).ok)
      .map((p) => p.email);
  }

  async home(actor: Actor): Promise<HomeView> {
    const person = findPerson(this.policy, actor.email);
    if (!person) return { grants: [], pending: [], awaiting: [] };
    const now = this.clock.now();
    const mine = await this.store.listRequests({ requesterEmail: person.email, states: [...ACTIVE_STATES], limit: 100 });
    const awaiting = await this.awaiting(person);
    return {
      grants: mine.filter((r) => r.state === 'active' || r.state === 'opening').map((r) => requestView(r, now)),
      pending: mine.filter((r) => r.state === 'pending').map((r) => requestView(r, now)),
      awaiting: awaiting.map((r) => requestView(r, now)),
    };
  }

  private async awaiting(person: Person): Promise<AccessRequest[]> {
    const open = await this.store.listRequests({ states: ['pending', 'active'], limit: 500 });
    return open.filter((r) => (r.state === 'pending' || (r.state === 'active' && r.extension && !r.extension.opening)) && canDecide(this.policy, person, r).ok);
  }

  private async status(person: Person): Promise<Reply> {
    const now = this.clock.now();
    const mine = await this.store.listRequests({ requesterEmail: person.email, states: [...ACTIVE_STATES], limit: 100 });
    const awaiting = await this.awaiting(person);
    return { kind: 'status', mine: mine.map((r) => requestView(r, now)), awaiting: awaiting.map((r) => requestView(r, now)) };
  }

  private async describeVm(vm: Vm): Promise<ReturnType<typeof vmView>> {
    const [last, open] = await Promise.all([
      this.store.lastAccessByVm(),
      this.store.listRequests({ states: ['active'], vmName: vm.name, limit: 100 }),
    ]);
    return vmView(vm, { rule: ruleForVm(this.policy, vm), lastAccess: last.get(vm.name) ?? null, active: open, now: this.clock.now() });
  }

  private async listVms(person: Person): Promise<Reply> {
    const vms = await this.vms();
    const visible = vms.filter((vm) => {
      const rule = ruleForVm(this.policy, vm);
      return rule !== null && hasPrincipal(person, rule.requesters);
    });
    if (visible.length === 0) return { kind: 'text', text: 'No VM is open to you for requests; ask an admin which rule should cover you.' };
    return { kind: 'vms', vms: await Promise.all(visible.map((vm) => this.describeVm(vm))) };
  }

  // ---- admin ------------------------------------------------------------------------------

  private async enable(actor: Actor, person: Person, command: Extract<Command, { kind: 'enable' }>): Promise<Reply> {
    if (!isAdmin(this.policy, person)) {
      await this.auditRefusal(actor, 'enable', 'not an admin', [command.vm]);
      return { kind: 'error', message: 'Only admins can put a VM under JIT.' };
    }
    const vms = await this.vms({ fresh: true });
    const resolved = resolveVmNames([command.vm], vms);
    if (!resolved.ok) return errorReply(resolved.error, USAGE.enable);
    const vm = resolved.vms[0];
    const defaultPort = vm.os === 'windows' ? 3389 : 22;
    const ports = command.ports ?? [{ number: defaultPort, protocol: '*' as const }];
    const rules: PortRule[] = ports.map((p) => ({
      number: p.number,
      protocol: p.protocol,
      allowedSourcePrefixes: command.sources ?? ['*'],
      maxDurationMinutes: command.maxDurationMinutes ?? 180,
    }));
    // Keep the VM's other port rules: enabling one port must not silently drop another.
    const merged = [...(vm.jit ?? []).filter((r) => !rules.some((n) => n.number === r.number)), ...rules];
    const started = Date.now();
    try {
      await this.cloud.enable(vm, merged, { timeoutInMs: this.opts.cloudTimeoutInMs ?? 15_000 });
      this.observer.cloudCall('enable', (Date.now() - started) / 1000, 'ok');
    } catch (err) {
      this.observer.cloudCall('enable', (Date.now() - started) / 1000, 'error', err instanceof CloudError ? err.kind : 'unknown');
      if (err instanceof CloudError) {
        await this.store.appendAudit([this.freeAudit('policy.enable-failed', actor, [vm.name], { error: err.message })]);
        return { kind: 'error', message: `Azure refused to enable JIT on ${vm.name}: ${err.message}` };
      }
      throw err;
    }
    this.vmCache = null;
    await this.store.appendAudit([this.freeAudit('policy.enabled', actor, [vm.name], { rules: merged })]);
    const updated = (await this.vms()).find((v) => v.id === vm.id) ?? { ...vm, jit: merged };
    return { kind: 'policy', vm: await this.describeVm(updated) };
  }

  private async audit(actor: Actor, person: Person, vm: string | undefined, days: number): Promise<Reply> {
    if (!isAdmin(this.policy, person)) {
      await this.auditRefusal(actor, 'audit', 'not an admin', vm ? [vm] : []);
      return { kind: 'error', message: 'Only admins can export the audit trail.' };
    }
    const csv = await this.auditCsvFor({ ...(vm ? { vm } : {}), days });
    await this.store.appendAudit([this.freeAudit('audit.exported', actor, vm ? [vm] : [], { days, rows: csv.rows })]);
    const link = this.opts.auditLink?.({ ...(vm ? { vm } : {}), days, email: person.email });
    const scope = `${vm ? `${vm}, ` : ''}last ${days} day${days === 1 ? '' : 's'}`;
    return {
      kind: 'audit',
      csv: csv.csv,
      filename: csv.filename,
      rows: csv.rows,
      text: link ? `Audit trail (${scope}, ${csv.rows} events): ${link} (link valid for 10 minutes)` : `Audit trail (${scope}, ${csv.rows} events).`,
    };
  }

  /** Also used by the signed download route. */
  async auditCsvFor(q: { vm?: string; days: number }): Promise<{ csv: string; filename: string; rows: number }> {
    const since = new Date(this.clock.now().getTime() - q.days * 86_400_000);
    const events = await this.store.listAudit({ since, ...(q.vm ? { vmName: q.vm } : {}), limit: 100_000 });
    const stamp = this.clock.now().toISOString().slice(0, 10);
    return { csv: auditCsv(events), filename: `jitbot-audit-${q.vm ?? 'all'}-${stamp}.csv`, rows: events.length };
  }

  // ---- the request form -------------------------------------------------------------------

  async form(actor: Actor, defaults: Partial<FormInput> = {}): Promise<{ ok: true; form: FormView } | { ok: false; reply: Reply }> {
    const person = findPerson(this.policy, actor.email);
    if (!person) return { ok: false, reply: { kind: 'error', message: "You are not in jitbot's access list; ask an admin to add you." } };
    const vms = (await this.vms()).filter((vm) => {
      const rule = ruleForVm(this.policy, vm);
      return vm.jit !== null && rule !== null && hasPrincipal(person, rule.requesters);
    });
    if (vms.length === 0) return { ok: false, reply: { kind: 'error', message: 'No VM is open to you for requests.' } };
    return { ok: true, form: formView(vms, defaults) };
  }

  async submitForm(actor: Actor, input: FormInput, opts: CommandOptions = {}): Promise<FormSubmitResult> {
    const person = findPerson(this.policy, actor.email);
    if (!person) return { ok: false, errors: { vm: "You are not in jitbot's access list." } };
    const errors: Partial<Record<FormField, string>> = {};
    const vm = (input.vm ?? '').trim();
    if (!vm) errors.vm = 'Choose a VM.';
    const portWords = (input.ports ?? '').split(/[\s,]+/).filter(Boolean);
    if (portWords.length === 0) errors.ports = 'Choose at least one port.';
    const minutes = parseDuration((input.duration ?? '').trim());
    if (minutes === null) errors.duration = 'Use a duration like 30m, 1h or 1h30m.';
    const source = input.source?.trim();
    const reason = input.reason?.trim();
    if (Object.keys(errors).length > 0) return { ok: false, errors };
    const text = `${portWords.join(',')} ${vm} ${input.duration.trim()}${source ? ` from ${source}` : ''}${reason ? ` for ${reason}` : ''}`;
    const parsed = parseCommand(text);
    if (!parsed.ok || parsed.command.kind !== 'request') {
      return { ok: false, errors: { [fieldOf(parsed.ok ? '' : parsed.error.message)]: parsed.ok ? 'Check the fields.' : parsed.error.message } };
    }
    const evaluated = evaluateRequest({ policy: this.policy, person, command: parsed.command, vms: await this.vms() });
    if (!evaluated.ok) return { ok: false, errors: { [fieldOf(evaluated.error.message)]: evaluated.error.message } };
    if (opts.idempotencyKey && !(await this.store.claimKey(`form:${opts.idempotencyKey}`, IDEMPOTENCY_TTL_MS, this.clock.now()))) {
      return { ok: true, reply: { kind: 'text', text: 'Already received; nothing was done twice.' } };
    }
    const request = await this.createFromDraft(actor, evaluated.draft);
    const view = requestView(request, this.clock.now());
    return { ok: true, reply: { kind: 'submitted', text: `Sent for approval: ${request.id}.`, request: view } };
  }

  // ---- jobs -------------------------------------------------------------------------------

  private justification(r: AccessRequest, what = r.reason || 'no reason given'): string {
    // Azure records the bot's identity as requestor; the justification names the person.
    return `jitbot ${r.id} for ${r.requester.name} <${r.requester.email ?? r.requester.userId}> via ${r.requester.platform}: ${what}`.slice(0, 500);
  }

  /**
   * Azure's record of an initiate this bot already sent for the request (found by the justification,
   * which carries the request id): after a crash between Azure accepting and our commit.
   */
  private async acceptedEarlier(r: AccessRequest): Promise<Date | null> {
    const records = await this.cloud.accessRecords(r.vms, { timeoutInMs: this.opts.cloudTimeoutInMs ?? 15_000 });
    const now = this.clock.now().getTime();
    const ours = records.filter(
      (x) => x.justification?.startsWith(`jitbot ${r.id} `) && /^Initiat/.test(x.status) && x.endsAt.getTime() > now && x.source === r.source,
    );
    const covered = r.vms.every((vm) => r.ports.every((p) => ours.some((x) => x.vmId.toLowerCase() === vm.id.toLowerCase() && x.port === p.number)));
    if (!covered) return null;
    return new Date(Math.min(...ours.map((x) => x.endsAt.getTime())));
  }

  /**
   * At start: settle requests a previous process left half-way. An `opening` request whose initiate
   * Azure already accepted becomes active without a second initiate; any other is opened by its job.
   */
  async reconcile(): Promise<{ settled: string[] }> {
    const settled: string[] = [];
    for (const r of await this.store.listRequests({ states: ['opening'], limit: 1000 })) {
      try {
        const endsAt = await this.acceptedEarlier(r);
        if (endsAt) {
          await this.settleOpened(r, endsAt, 'found open in Azure after a restart');
          settled.push(r.id);
        } else {
          await this.store.scheduleJobs([{ kind: 'open', requestId: r.id, dueAt: this.clock.now(), key: `${r.id}:open` }]);
        }
      } catch (err) {
        this.log.warn({ ...errorFields(err), requestId: r.id }, 'reconcile could not settle a request; its job will');
      }
    }
    if (settled.length > 0) this.log.info({ settled }, 'reconciled requests with Azure');
    this.kick();
    return { settled };
  }

  private async settleOpened(r: AccessRequest, endsAt: Date, how: string): Promise<void> {
    await this.apply(
      r.id,
      () => ({ type: 'opened', at: this.clock.now(), endsAt }),
      (n) => ({
        audit: [this.auditEvent('azure.reconciled', n, null, { endsAt: endsAt.toISOString(), how })],
        schedule: this.grantJobs(n),
        announce: { card: true, thread: notices.openedNotice(n, this.clock.now()), dm: notices.openedNotice(n, this.clock.now()) },
      }),
    );
  }

  private async runOpen(job: Job): Promise<void> {
    const r = await this.store.getRequest(job.requestId ?? '');
    if (!r || r.state !== 'opening') return;
    const now = this.clock.now();
    const approvedAt = r.approvals.length > 0 ? r.approvals[r.approvals.length - 1].at : r.createdAt;
    if (job.attempts > 1) {
      // An earlier attempt may have reached Azure before its process died: do not open twice.
      const endsAtEarlier = await this.acceptedEarlier(r).catch(() => null);
      if (endsAtEarlier) {
        await this.settleOpened(r, endsAtEarlier, 'an earlier attempt had opened it');
        return;
      }
    }
    const endsAt = new Date(now.getTime() + r.durationMinutes * 60_000);
    const started = Date.now();
    try {
      const result = await this.cloud.open(
        { vms: r.vms, ports: r.ports, source: r.source, endsAt, justification: this.justification(r) },
        { timeoutInMs: this.opts.cloudTimeoutInMs ?? 15_000 },
      );
      this.observer.cloudCall('initiate', (Date.now() - started) / 1000, 'ok');
      await this.apply(
        r.id,
        () => ({ type: 'opened', at: this.clock.now(), endsAt: result.endsAt }),
        (n) => ({
          audit: [this.auditEvent('azure.initiate', n, null, { ok: true, endsAt: result.endsAt.toISOString(), azureRequestId: result.azureRequestId ?? null })],
          schedule: this.grantJobs(n),
          announce: { card: true, thread: notices.openedNotice(n, this.clock.now()), dm: notices.openedNotice(n, this.clock.now()) },
        }),
      );
      this.observer.opened((this.clock.now().getTime() - approvedAt.getTime()) / 1000, 'ok');
    } catch (err) {
      if (err instanceof JitError && err.code === 'conflict') return;
      const cloudErr = err instanceof CloudError ? err : null;
      this.observer.cloudCall('initiate', (Date.now() - started) / 1000, 'error', cloudErr?.kind ?? 'unknown');
      const deadline = this.opts.openDeadlineMs ?? 120_000;
      const pastDeadline = this.clock.now().getTime() - approvedAt.getTime() >= deadline;
      const retryable = cloudErr ? cloudErr.retryable : !(err instanceof JitError);
      if (retryable && !pastDeadline && job.attempts < 5) {
        await this.store.appendAudit([this.auditEvent('azure.initiate', r, null, { ok: false, retrying: true, error: cloudErr?.message ?? 'unexpected error' })]);
        throw err;
      }
      const reason = cloudErr?.message ?? 'Azure could not be reached';
      await this.apply(
        r.id,
        () => ({ type: 'open-failed', at: this.clock.now(), reason }),
        (n) => ({
          audit: [this.auditEvent('azure.initiate', n, null, { ok: false, error: reason })],
          cancelKinds: ['remind', 'expire', 'pending-timeout'],
          announce: { card: true, thread: notices.failedNotice(n), dm: notices.failedNotice(n) },
        }),
      );
      this.observer.opened((this.clock.now().getTime() - approvedAt.getTime()) / 1000, 'failed');
    }
  }

  /** The reminder and the expiry for the grant's current end time. */
  private grantJobs(r: AccessRequest): JobSpec[] {
    if (!r.endsAt) return [];
    const end = r.endsAt.getTime();
    const jobs: JobSpec[] = [{ kind: 'expire', requestId: r.id, dueAt: r.endsAt, key: `${r.id}:expire:${end}`, payload: { endsAt: r.endsAt.toISOString() } }];
    const remindAt = end - this.policy.reminderMinutes * 60_000;
    if (remindAt > this.clock.now().getTime()) {
      jobs.push({ kind: 'remind', requestId: r.id, dueAt: new Date(remindAt), key: `${r.id}:remind:${end}`, payload: { endsAt: r.endsAt.toISOString() } });
    }
    return jobs;
  }

  private async runExtendOpen(job: Job): Promise<void> {
    const r = await this.store.getRequest(job.requestId ?? '');
    if (!r || r.state !== 'active' || !r.extension?.opening || !r.endsAt) return;
    const endsAt = new Date(r.endsAt.getTime() + r.extension.durationMinutes * 60_000);
    const started = Date.now();
    try {
      const result = await this.cloud.extend(
        { vms: r.vms, ports: r.ports, source: r.source, endsAt, justification: this.justification(r, `extension of ${r.id}`) },
        { timeoutInMs: this.opts.cloudTimeoutInMs ?? 15_000 },
      );
      this.observer.cloudCall('initiate', (Date.now() - started) / 1000, 'ok');
      await this.apply(
        r.id,
        () => ({ type: 'extended', at: this.clock.now(), endsAt: result.endsAt }),
        (n) => ({
          audit: [this.auditEvent('azure.initiate', n, null, { ok: true, extension: true, endsAt: result.endsAt.toISOString() })],
          cancelKinds: ['remind', 'expire'],
          schedule: this.grantJobs(n),
          announce: { card: true, thread: notices.extendedNotice(n, this.clock.now()), dm: notices.extendedNotice(n, this.clock.now()) },
        }),
      );
    } catch (err) {
      if (err instanceof JitError && err.code === 'conflict') return;
      const cloudErr = err instanceof CloudError ? err : null;
      this.observer.cloudCall('initiate', (Date.now() - started) / 1000, 'error', cloudErr?.kind ?? 'unknown');
      if ((cloudErr ? cloudErr.retryable : !(err instanceof JitError)) && job.attempts < 5) throw err;
      const reason = cloudErr?.message ?? 'Azure could not be reached';
      await this.apply(
        r.id,
        () => ({ type: 'extend-failed', at: this.clock.now(), reason }),
        (n) => ({
          audit: [this.auditEvent('azure.initiate', n, null, { ok: false, extension: true, error: reason })],
          announce: { card: true, thread: notices.extensionFailedNotice(n, reason), dm: notices.extensionFailedNotice(n, reason) },
        }),
      );
    }
  }

  private async runRemind(job: Job): Promise<void> {
    const r = await this.store.getRequest(job.requestId ?? '');
    // A reminder for an end time that an extension since moved is stale.
    if (!r || r.state !== 'active' || !r.endsAt || r.endsAt.toISOString() !== job.payload.endsAt) return;
    const n = notices.reminderNotice(r, this.clock.now());
    await this.store.scheduleJobs(announceJobs(r, this.platforms, { thread: n, dm: n }, this.clock.now()).map((j) => ({ ...j, key: `${j.key}:${job.key}` })));
    await this.store.appendAudit([this.auditEvent('request.reminded', r, null, { endsAt: r.endsAt.toISOString() })]);
    this.kick();
  }

  private async runExpire(job: Job): Promise<void> {
    const r = await this.store.getRequest(job.requestId ?? '');
    if (!r || r.state !== 'active' || !r.endsAt || r.endsAt.toISOString() !== job.payload.endsAt) return;
    await this.apply(
      r.id,
      (cur) => (cur.endsAt && cur.endsAt.getTime() > this.clock.now().getTime() ? new JitError('conflict', 'not yet') : { type: 'expire', at: this.clock.now() }),
      (n) => ({ cancelKinds: ['remind', 'extend-open'], announce: { card: true, thread: notices.expiredNotice(n), dm: notices.expiredNotice(n) } }),
    ).catch((err: unknown) => {
      if (!(err instanceof JitError && err.code === 'conflict')) throw err;
    });
  }

  private async runPendingTimeout(job: Job): Promise<void> {
    const r = await this.store.getRequest(job.requestId ?? '');
    if (!r || r.state !== 'pending') return;
    await this.apply(
      r.id,
      () => ({ type: 'timeout', at: this.clock.now() }),
      (n) => ({ announce: { card: true, thread: notices.timedOutNotice(n), dm: notices.timedOutNotice(n) } }),
    ).catch((err: unknown) => {
      if (!(err instanceof JitError && err.code === 'conflict')) throw err;
    });
  }

  private async cardRefs(requestId: string, platform: Platform): Promise<MessageRef[] | 'none' | 'unposted'> {
    const refs = (await this.store.listMessageRefs(requestId)).filter((m) => m.kind === 'card' && m.ref.platform === platform);
    if (refs.length === 0) return 'unposted';
    const real = refs.filter((m) => !m.ref.data.none).map((m) => m.ref);
    return real.length === 0 ? 'none' : real;
  }

  private async runPostCard(job: Job): Promise<void> {
    const platform = job.payload.platform as Platform;
    const chat = this.chats.get(platform);
    const r = await this.store.getRequest(job.requestId ?? '');
    if (!chat || !r) return;
    if ((await this.cardRefs(r.id, platform)) !== 'unposted') return;
    const ref = await chat.postCard(r.route, requestView(r, this.clock.now()), { timeoutInMs: 10_000 });
    // "No place on this platform" is remembered too, so thread replies know not to wait for a card.
    await this.store.saveMessageRef({ requestId: r.id, kind: 'card', ref: ref ?? { platform, v: 1, data: { none: true } } });
    if (ref) {
      // The request may have moved on while the card was being posted; draw it as it is now.
      const latest = await this.store.getRequest(r.id);
      if (latest && latest.version !== r.version) await chat.updateCard(ref, requestView(latest, this.clock.now()), { timeoutInMs: 10_000 });
    }
  }

  private async runUpdateCard(job: Job): Promise<void> {
    const platform = job.payload.platform as Platform;
    const chat = this.chats.get(platform);
    const r = await this.store.getRequest(job.requestId ?? '');
    if (!chat || !r) return;
    const refs = await this.cardRefs(r.id, platform);
    if (!Array.isArray(refs)) return; // posting will draw the current state
    const view = requestView(r, this.clock.now());
    for (const ref of refs) await chat.updateCard(ref, view, { timeoutInMs: 10_000 });
  }

  private async runThread(job: Job): Promise<void> {
    const platform = job.payload.platform as Platform;
    const chat = this.chats.get(platform);
    if (!chat || !job.requestId) return;
    const refs = await this.cardRefs(job.requestId, platform);
    if (refs === 'none') return;
    if (refs === 'unposted') throw new ChatError('the approval card is not posted yet', { retryable: true, retryAfterMs: 1000 });
    await chat.replyInThread(refs[0], job.payload.notice as Notice, { timeoutInMs: 10_000 });
  }

  private async runDm(job: Job): Promise<void> {
    const r = await this.store.getRequest(job.requestId ?? '');
    if (!r) return;
    const chat = this.chats.get(r.requester.platform);
    if (!chat) return;
    await chat.notifyPerson(r.requester, job.payload.notice as Notice, { timeoutInMs: 10_000 });
  }

  // ---- audit helpers ------------------------------------------------------------------------

  private auditEvent(type: string, r: AccessRequest, actor: Actor | null, details: Record<string, unknown>): AuditEvent {
    return { at: this.clock.now(), requestId: r.id, type, actor, platform: actor?.platform ?? null, vmNames: r.vms.map((v) => v.name), details };
  }

  private freeAudit(type: string, actor: Actor, vmNames: string[], details: Record<string, unknown>): AuditEvent {
    return { at: this.clock.now(), requestId: null, type, actor, platform: actor.platform, vmNames, details };
  }

  private async auditRefusal(actor: Actor, what: string, reason: string, vmNames: string[], requestId: string | null = null): Promise<void> {
    await this.store.appendAudit([{ at: this.clock.now(), requestId, type: 'command.refused', actor, platform: actor.platform, vmNames, details: { what, reason } }]);
  }
}

/** Which form field an evaluation error is about, so the form can show it in place. */
function fieldOf(message: string): FormField {
  const m = message.toLowerCase();
  if (m.includes('source') || m.includes(' from ')) return 'source';
  if (m.includes('maximum') || m.includes('duration') || m.includes('longer') || m.includes('minutes')) return 'duration';
  if (m.includes('port')) return 'ports';
  if (m.includes('reason')) return 'reason';
  return 'vm';
}
