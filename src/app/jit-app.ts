// The app behind every chat platform: commands, the request form, status and VM lists, admin
// commands, and the composition of the use-case modules (buttons in actions.ts, scheduled work in
// jobs.ts) around one shared context and one scheduler.
import { randomInt } from 'node:crypto';
import { accessUnchecked, approversFor, canDecide, evaluateRequest, hasPrincipal, isAdmin, isPartOf, maySeeVm, resolveVmNames, ruleForVm } from '../core/access';
import { isGlob, matchGlob } from '../core/glob';
import { matchVmName, splitVmName } from '../core/vm-names';
import { HELP_EXAMPLES, HELP_LINES, USAGE, type Command, type RequestCommand } from '../core/command';
import { parseDuration } from '../core/duration';
import { CloudError, JitError, isJitError } from '../core/errors';
import { parseCommand } from '../core/grammar';
import { FROM_ME } from '../core/cidr';
import * as notices from '../core/notices';
import { controlCharacterProblem, quoteWord } from '../core/text';
import { MAX_REASON_LENGTH } from '../core/words';
import type { RequestDraft } from '../core/access';
import { createRequest } from '../core/lifecycle';
import type { Person } from '../core/policy';
import type { AccessPolicy } from '../core/policy';
import type { AccessRequest, Actor, PortRule, Vm } from '../core/types';
import { requestView, type ActionResult, type FormField, type FormInput, type FormView, type Reply, type Verb } from '../core/views';
import { Actions } from './actions';
import { ADDRESS_LINK_MS, AddressCapture, hashToken, newAddressToken, type AddressOutcome, type AddressPage } from './address';
import type { ActOptions, CommandOptions, FormSubmitResult, HomeView, JitApi } from './api';
import { auditCsv } from './audit-csv';
import { DEFERRED_KINDS, Jobs } from './jobs';
import { errorFields, silentLogger, type Logger } from './logger';
import { nullObserver, type AppObserver } from './observer';
import { postCardJobs, postCopyJobs } from './outbox';
import { escalationJobs } from './escalation';
import type { ChatPort, Clock, Cloud, JobKind, JobSpec, MessageRef, Store } from './ports';
import { sameEmail } from '../core/email';
import { Scheduler } from './scheduler';
import { StepUps, type StepUpOptions } from './step-up';
import { UseCase, type UseCaseContext, type UseCaseSettings } from './use-case';
import { DefenderProbe } from './defender';
import { nameLimitProblem } from '../core/azure-limits';
import { formView, vmView } from './vm-views';
import { People } from './people';
import { whoisView } from '../core/whois';
import type { Directory, DirectoryGroupRef } from './ports';

export interface JitAppOptions extends UseCaseSettings {
  policy: AccessPolicy;
  store: Store;
  cloud: Cloud;
  clock: Clock;
  logger?: Logger;
  observer?: AppObserver;
  /** Identifies this process's scheduler leases. */
  owner?: string;
  scheduler?: { pollIntervalMs?: number; leaseMs?: number; batchSize?: number; concurrency?: number; maxAttempts?: number; deferKinds?: readonly JobKind[]; deferMaxMs?: number };
  /** Step-up approvals: the sign-in provider and how fresh and strong a sign-in must be. */
  stepUp?: StepUpOptions;
  /** Groups kept in a directory (the file's `groups:`) and how long a person's memberships are trusted. */
  directory?: { groups: DirectoryGroupRef[]; ttlMs?: number; timeoutMs?: number };
}

const ID_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const ACTIVE_STATES = ['pending', 'opening', 'active'] as const;

function newRequestId(): string {
  let id = 'R';
  for (let i = 0; i < 5; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

function errorReply(err: JitError, usage?: string): Reply {
  return usage ? { kind: 'error', message: err.message, usage } : { kind: 'error', message: err.message };
}

export class JitApp extends UseCase implements JitApi {
  readonly scheduler: Scheduler;
  private readonly actions: Actions;
  private readonly jobs: Jobs;
  private readonly address: AddressCapture;
  /** Defender for Servers Plan 2 on the subscription (JIT needs it). */
  readonly defender: DefenderProbe;
  /** Null when no sign-in provider is configured (then rules with stepUp refuse approvals). */
  readonly stepUps: StepUps | null;

  constructor(opts: JitAppOptions) {
    const { policy, store, cloud, clock, logger, observer, owner, scheduler, stepUp, directory, ...settings } = opts;
    const log = logger ?? silentLogger;
    const people = new People({
      policy,
      clock,
      log,
      groups: directory?.groups ?? [],
      ...(directory?.ttlMs !== undefined ? { ttlMs: directory.ttlMs } : {}),
      ...(directory?.timeoutMs !== undefined ? { timeoutMs: directory.timeoutMs } : {}),
    });
    const ctx: UseCaseContext = {
      policy,
      store,
      cloud,
      clock,
      log,
      observer: observer ?? nullObserver,
      settings,
      chats: new Map(),
      vmCache: { current: null },
      people,
      kick: async () => {},
    };
    super(ctx);
    this.jobs = new Jobs(ctx);
    this.address = new AddressCapture(ctx);
    this.actions = new Actions(ctx, this.jobs);
    this.defender = new DefenderProbe(cloud, { timeoutInMs: this.cloudTimeoutInMs });
    this.stepUps = stepUp ? new StepUps(ctx, this.actions, stepUp) : null;
    if (this.stepUps) {
      const stepUps = this.stepUps;
      this.ctx.stepUps = { ask: (actor, r) => stepUps.ask(actor, r) };
    }
    this.scheduler = new Scheduler({
      store,
      clock,
      owner: owner ?? `jitbot-${process.pid}-${randomInt(1e9)}`,
      logger: log,
      deferKinds: DEFERRED_KINDS,
      ...scheduler,
      handlers: this.jobs.handlers(),
    });
    ctx.kick = () => this.scheduler.kick();
    ctx.leaseJobs = () => this.scheduler.leaseForNewJobs();
  }

  /** A directory to read group membership from (Entra ID through Graph, Slack user groups). */
  addDirectory(directory: Directory): void {
    this.people.addDirectory(directory);
  }

  /** What each directory last said: readiness shows a missing permission in plain words. */
  directoryStatus() {
    return this.people.directoryStatus();
  }

  /** Register a platform; cards of new requests go to every registered platform. */
  addChat(chat: ChatPort): void {
    this.chats.set(chat.platform, chat);
  }

  start(): void {
    this.scheduler.start();
  }

  async stop(opts: { timeoutMs?: number } = {}): Promise<void> {
    await this.scheduler.stop({ timeoutMs: opts.timeoutMs ?? 8000 });
  }

  /** Settle what a previous process left half-way (see Jobs.reconcile). */
  reconcile(): Promise<{ settled: string[] }> {
    return this.jobs.reconcile();
  }

  /** The `from me` page: what the link's request is, without recording anything. */
  addressPage(requestId: string, token: string): Promise<AddressPage> {
    return this.address.page(requestId, token);
  }

  /** The `from me` page's button, with the address the POST came from. */
  captureAddress(requestId: string, token: string, address: string): Promise<AddressOutcome> {
    return this.address.capture(requestId, token, address);
  }

  async act(actor: Actor, verb: Verb, requestId: string, opts: ActOptions = {}): Promise<ActionResult> {
    const unfit = actorProblem(actor);
    if (unfit) return { ok: false, message: unfit, view: null };
    return this.actions.act(actor, verb, requestId, opts);
  }

  async keepCopy(actor: Actor, requestId: string, ref: MessageRef, opts: { drawnVersion?: number } = {}): Promise<void> {
    const r = await this.store.getRequest(requestId.trim().toUpperCase());
    if (!r || ref.platform !== actor.platform || !sameEmail(r.requester.email, actor.email)) return;
    await this.jobs.keepCopy(r.id, ref, opts.drawnVersion);
  }

  knows(email: string | null): boolean {
    return this.people.knowsNow(email);
  }

  // ---- commands ---------------------------------------------------------------------------

  async command(actor: Actor, text: string, opts: CommandOptions = {}): Promise<Reply> {
    const unfit = actorProblem(actor);
    if (unfit) {
      this.observer.command('unknown', 'invalid');
      return { kind: 'error', message: unfit };
    }
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
    const { person, unchecked } = await this.people.known(actor.email, actor);
    if (!person) {
      this.observer.command(command.kind, 'refused');
      if (unchecked.length > 0) {
        const message = accessUnchecked(unchecked);
        await this.auditRefusal(actor, command.kind, message, []);
        return { kind: 'error', message: `${capitalized(message)}.` };
      }
      await this.auditRefusal(actor, command.kind, 'unknown person', []);
      return { kind: 'error', message: `You are not in jitbot's access list${actor.email ? ` (${actor.email})` : ''}; ask an admin to add you. Try /jit help.` };
    }
    return this.once(opts.idempotencyKey && `cmd:${opts.idempotencyKey}`, () => this.run(actor, person, command), {
      changed: (reply) => reply.kind !== 'error',
      duplicate: () => ({ kind: 'text', text: 'Already received; nothing was done twice. Use /jit status to see your requests.' }),
    });
  }

  private async run(actor: Actor, person: Person, command: Command): Promise<Reply> {
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
        return this.listVms(person, command);
      case 'status':
        return this.status(person);
      case 'policy': {
        const vms = await this.vms();
        // "Did you mean" only ever offers VMs this person may see.
        const visible = vms.filter((vm) => maySeeVm(this.policy, person, vm));
        const resolved = resolveVmNames([command.vm], vms, visible);
        if (!resolved.ok) return errorReply(resolved.error, USAGE.policy);
        const vm = resolved.vms[0];
        // Who holds a VM open, from where and why is for its requesters, approvers and admins only.
        return { kind: 'policy', vm: await this.describeVm(vm, { grants: maySeeVm(this.policy, person, vm) }) };
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
      case 'whois':
        return this.whois(actor, person, command.email);
    }
  }

  private actionReply(r: ActionResult): Reply {
    return r.ok ? { kind: 'text', text: r.message } : { kind: 'error', message: r.message };
  }

  private async help(actor: Actor): Promise<Reply> {
    const person = await this.people.person(actor.email, actor);
    const admin = person ? isAdmin(this.policy, person) : false;
    return {
      kind: 'help',
      help: {
        commands: HELP_LINES.filter((l) => admin || !l.admin).map((l) => ({ usage: l.usage, description: l.description })),
        examples: [...HELP_EXAMPLES],
      },
    };
  }

  private async request(actor: Actor, person: Person, command: RequestCommand): Promise<Reply> {
    const [vms, jit] = await Promise.all([this.vms(), this.defender.availability()]);
    if (jit && !jit.available) {
      await this.auditRefusal(actor, 'request', jit.message, command.vms);
      return { kind: 'error', message: jit.message };
    }
    const evaluated = evaluateRequest({ policy: this.policy, person, command, vms });
    if (!evaluated.ok) {
      await this.auditRefusal(actor, 'request', evaluated.error.message, command.vms);
      return errorReply(evaluated.error, USAGE.request);
    }
    // Azure would accept the initiate and fail seconds later, when it writes the NSG rule.
    const tooLong = evaluated.draft.vms.map((vm) => nameLimitProblem(vm)).find((p) => p !== null);
    if (tooLong) {
      await this.auditRefusal(actor, 'request', tooLong, command.vms);
      return { kind: 'error', message: `${tooLong}.` };
    }
    const created = await this.createFromDraft(actor, evaluated.draft);
    if (created.link) return created.link;
    const request = created.request;
    const view = requestView(request, this.clock.now());
    const text = request.state === 'opening'
      ? `Request ${request.id} was approved automatically by rule ${request.rule}; opening ${view.ports.join(', ')} on ${view.vms.join(', ')} now${request.sourceNote ? ` from ${view.source}` : ''}.`
      : `Sent for approval: ${request.id} (${view.ports.join(', ')} on ${view.vms.join(', ')} from ${view.source} for ${view.duration}). It needs ${request.requiredApprovals} approval${request.requiredApprovals > 1 ? 's' : ''}.`;
    return { kind: 'submitted', text, request: view, version: request.version };
  }

  /** The `from me` reply: the one-time link, for the requester alone. */
  private linkReply(request: AccessRequest, token: string): Reply {
    const url = this.settings.addressLink?.(request.id, token);
    if (!url) throw new JitError('config', 'from me needs JITBOT_PUBLIC_URL, the address people reach the bot at; use from <your address> meanwhile');
    const view = requestView(request, this.clock.now());
    return { kind: 'address-link', url, request: view, text: notices.addressLinkNotice(request, url).text };
  }

  private async createFromDraft(actor: Actor, draft: RequestDraft): Promise<{ request: AccessRequest; link?: Reply }> {
    const fromMe = draft.source === FROM_ME;
    if (fromMe && !this.settings.addressLink) {
      throw new JitError('config', 'from me needs JITBOT_PUBLIC_URL, the address people reach the bot at; use from <your address> meanwhile');
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const now = this.clock.now();
      const token = fromMe ? newAddressToken() : null;
      const addressLink = token ? { tokenHash: hashToken(token), expiresAt: new Date(now.getTime() + ADDRESS_LINK_MS) } : undefined;
      const { request, audit } = createRequest({ id: newRequestId(), draft, requester: actor, now, ...(addressLink ? { addressLink } : {}) });
      // Nobody is asked to approve, and nothing opens, before the address is known.
      const schedule: JobSpec[] =
        request.state === 'awaiting-address'
          ? [...this.address.linkJobs(request), ...postCopyJobs(request, now)]
          : postCardJobs(request, this.platforms, now, { copy: true });
      if (request.state === 'opening') {
        schedule.push({ kind: 'open', requestId: request.id, dueAt: now, key: `${request.id}:open` });
      } else if (request.state === 'pending') {
        schedule.push({
          kind: 'pending-timeout',
          requestId: request.id,
          dueAt: new Date(now.getTime() + this.policy.pendingTimeoutMinutes * 60_000),
          key: `${request.id}:pending-timeout`,
        });
        schedule.push(...escalationJobs(this.policy, request, now));
      }
      if (await this.commitAndRun({ request, expectedVersion: null, audit, schedule })) {
        return token ? { request, link: this.linkReply(request, token) } : { request };
      }
    }
    throw new JitError('internal', 'Could not store the request; try again.');
  }

  // ---- reads --------------------------------------------------------------------------------

  async approverEmails(requestId: string): Promise<string[]> {
    const r = await this.store.getRequest(requestId.trim().toUpperCase());
    if (!r) return [];
    const rule = this.policy.rules.find((x) => x.name === r.rule);
    const groups = (rule?.approvers ?? []).filter((p) => p.startsWith('group:')).map((p) => p.slice('group:'.length));
    // Directory groups are listed by the directory (paged, cached for the TTL); rights are still checked on each click.
    const listed = await this.people.membersOf(groups);
    return approversFor(this.policy, r, listed)
      .filter((p) => canDecide(this.policy, p, r).ok)
      .map((p) => p.email);
  }

  async home(actor: Actor): Promise<HomeView> {
    const person = await this.people.person(actor.email, actor);
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

  private async describeVm(vm: Vm, opts: { grants?: boolean } = {}): Promise<ReturnType<typeof vmView>> {
    const rule = ruleForVm(this.policy, vm);
    if (opts.grants === false) return vmView(vm, { rule, lastAccess: null, active: [], now: this.clock.now() });
    const [last, open] = await Promise.all([
      this.store.lastAccessByVm(),
      this.store.listRequests({ states: ['active'], vmName: vm.name, limit: 100 }),
    ]);
    return vmView(vm, { rule, lastAccess: last.get(vm.name) ?? null, active: open, now: this.clock.now() });
  }

  /** Whether this person may see the request itself (Teams card refresh, and any card shown on a click). */
  async involved(actor: Actor, requestId: string): Promise<boolean> {
    const r = await this.store.getRequest(requestId.trim().toUpperCase());
    return r !== null && isPartOf(this.policy, await this.people.person(actor.email, actor), r);
  }

  /** The VMs this person may request, filtered by name and one page at a time: any number can be seen. */
  private async listVms(person: Person, command: { filter?: string; page?: number }): Promise<Reply> {
    const visible = await this.requestableVms(person);
    if (visible.length === 0) return { kind: 'text', text: 'No VM is open to you for requests; ask an admin which rule should cover you.' };
    const filter = command.filter ?? null;
    const matching = filter === null ? visible : visible.filter((vm) => vmNameMatches(filter, vm.name));
    if (matching.length === 0) return { kind: 'text', text: `None of the ${visible.length} VMs you may request matches ${quoteWord(filter ?? '')}.` };
    const pages = Math.ceil(matching.length / VMS_PAGE_SIZE);
    const page = Math.min(command.page ?? 1, pages);
    const slice = matching.slice((page - 1) * VMS_PAGE_SIZE, page * VMS_PAGE_SIZE);
    return {
      kind: 'vms',
      vms: await Promise.all(slice.map((vm) => this.describeVm(vm))),
      page: { filter, page, pages, total: matching.length, pageSize: VMS_PAGE_SIZE },
    };
  }

  /** VM names for a picker as the person types (Slack's external select, Teams' typeahead): at most `limit`. */
  async vmChoices(actor: Actor, query: string, limit = 100): Promise<{ names: string[]; total: number }> {
    const person = await this.people.person(actor.email, actor);
    if (!person) return { names: [], total: 0 };
    const q = query.trim().toLowerCase();
    const names = (await this.requestableVms(person))
      .filter((vm) => vm.jit !== null)
      .map((vm) => vm.name)
      .filter((name) => q === '' || vmNameMatches(q, name));
    return { names: names.slice(0, limit), total: names.length };
  }

  private async requestableVms(person: Person): Promise<Vm[]> {
    return (await this.vms()).filter((vm) => {
      const rule = ruleForVm(this.policy, vm);
      return rule !== null && hasPrincipal(person, rule.requesters);
    });
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
    const tooLong = nameLimitProblem(vm);
    if (tooLong) {
      await this.auditRefusal(actor, 'enable', tooLong, [vm.name]);
      return { kind: 'error', message: `${tooLong}; rename the VM or put it in a JIT policy with a shorter name.` };
    }
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
      await this.cloud.enable(vm, merged, { timeoutInMs: this.cloudTimeoutInMs });
      this.observer.cloudCall('enable', (Date.now() - started) / 1000, 'ok');
    } catch (err) {
      this.observer.cloudCall('enable', (Date.now() - started) / 1000, 'error', err instanceof CloudError ? err.kind : 'unknown');
      if (err instanceof CloudError) {
        await this.store.appendAudit([this.freeAudit('policy.enable-failed', actor, [vm.name], { error: err.message })]);
        return { kind: 'error', message: `Azure refused to enable JIT on ${vm.name}: ${err.message}` };
      }
      throw err;
    }
    this.forgetVms();
    await this.store.appendAudit([this.freeAudit('policy.enabled', actor, [vm.name], { rules: merged })]);
    const updated = (await this.vms()).find((v) => v.id === vm.id) ?? { ...vm, jit: merged };
    return { kind: 'policy', vm: await this.describeVm(updated), note: ruleNote(this.policy, updated) };
  }

  private async audit(actor: Actor, person: Person, vm: string | undefined, days: number): Promise<Reply> {
    if (!isAdmin(this.policy, person)) {
      await this.auditRefusal(actor, 'audit', 'not an admin', vm ? [vm] : []);
      return { kind: 'error', message: 'Only admins can export the audit trail.' };
    }
    const csv = await this.auditCsvFor({ ...(vm ? { vm } : {}), days });
    await this.store.appendAudit([this.freeAudit('audit.exported', actor, vm ? [vm] : [], { days, rows: csv.rows })]);
    const link = this.settings.auditLink?.({ ...(vm ? { vm } : {}), days, email: person.email });
    const scope = `${vm ? `${vm}, ` : ''}last ${days} day${days === 1 ? '' : 's'}`;
    return {
      kind: 'audit',
      csv: csv.csv,
      filename: csv.filename,
      rows: csv.rows,
      text: link ? `Audit trail (${scope}, ${csv.rows} events); the download link is valid for 10 minutes.` : `Audit trail (${scope}, ${csv.rows} events).`,
      ...(link ? { link } : {}),
    };
  }

  /** Admins only: what applies to a person and where each fact comes from; others learn nothing. */
  private async whois(actor: Actor, person: Person, email: string): Promise<Reply> {
    if (!isAdmin(this.policy, person)) {
      await this.auditRefusal(actor, 'whois', 'not an admin', []);
      return { kind: 'error', message: 'Only admins can look people up.' };
    }
    const { person: subject, origins } = await this.people.resolve(email);
    await this.store.appendAudit([this.freeAudit('person.looked-up', actor, [], { email })]);
    return { kind: 'whois', whois: whoisView(this.policy, email, subject, origins) };
  }

  /** Also used by the signed download route. */
  async auditCsvFor(q: { vm?: string; days: number }): Promise<{ csv: string; filename: string; rows: number }> {
    const since = new Date(this.clock.now().getTime() - q.days * 86_400_000);
    const events = await this.auditEvents(q.vm, since);
    const stamp = this.clock.now().toISOString().slice(0, 10);
    return { csv: auditCsv(events), filename: `jitbot-audit-${q.vm ?? 'all'}-${stamp}.csv`, rows: events.length };
  }

  /**
   * Audit events about the VMs the filter names, as the grammar reads it: an exact name, a glob
   * (`web-*`), or either inside one resource group (`rg-web/web-01`). Events carry VM names only, so
   * a glob is matched on those names (VMs since deleted included), and a resource group is resolved
   * to the names of its VMs now.
   */
  private async auditEvents(filter: string | undefined, since: Date) {
    const limit = 100_000;
    if (!filter) return this.store.listAudit({ since, limit });
    const { resourceGroup, name } = splitVmName(filter);
    if (resourceGroup === null && !isGlob(name)) return this.store.listAudit({ since, vmName: name, limit });
    let matches: (vmName: string) => boolean;
    if (resourceGroup === null) {
      matches = (vmName) => matchGlob(name, vmName);
    } else {
      const names = new Set(matchVmName(filter, await this.vms()).map((vm) => vm.name.toLowerCase()));
      matches = (vmName) => names.has(vmName.toLowerCase());
    }
    const all = await this.store.listAudit({ since, limit });
    return all.filter((e) => e.vmNames.some(matches));
  }

  // ---- the request form -------------------------------------------------------------------

  async form(actor: Actor, defaults: Partial<FormInput> = {}): Promise<{ ok: true; form: FormView } | { ok: false; reply: Reply }> {
    const unfit = actorProblem(actor);
    if (unfit) return { ok: false, reply: { kind: 'error', message: unfit } };
    const { person, unchecked } = await this.people.known(actor.email, actor);
    if (!person) return { ok: false, reply: { kind: 'error', message: unchecked.length ? `${capitalized(accessUnchecked(unchecked))}.` : "You are not in jitbot's access list; ask an admin to add you." } };
    const vms = (await this.vms()).filter((vm) => {
      const rule = ruleForVm(this.policy, vm);
      return vm.jit !== null && rule !== null && hasPrincipal(person, rule.requesters);
    });
    if (vms.length === 0) return { ok: false, reply: { kind: 'error', message: 'No VM is open to you for requests.' } };
    return { ok: true, form: formView(vms, defaults) };
  }

  async submitForm(actor: Actor, input: FormInput, opts: CommandOptions = {}): Promise<FormSubmitResult> {
    const unfit = actorProblem(actor);
    if (unfit) return { ok: false, errors: { vm: unfit } };
    const { person, unchecked } = await this.people.known(actor.email, actor);
    if (!person) return { ok: false, errors: { vm: unchecked.length ? `${capitalized(accessUnchecked(unchecked))}.` : "You are not in jitbot's access list." } };
    const errors: Partial<Record<FormField, string>> = {};
    // Each field on its own, so the answer stands beside the field it is about.
    for (const field of FORM_FIELDS) {
      const value = input[field];
      if (typeof value !== 'string') continue;
      const tooLong = field === 'reason' ? MAX_REASON_LENGTH : FORM_FIELD_MAX;
      if (value.length > tooLong) errors[field] = `This is ${value.length.toLocaleString('en-US')} characters long; keep it to ${tooLong}.`;
      else {
        const control = controlCharacterProblem('This field', value);
        if (control) errors[field] = `${control}; type it again without it.`;
      }
    }
    if (Object.keys(errors).length > 0) return { ok: false, errors };
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
    const draft = evaluated.draft;
    return this.once(
      opts.idempotencyKey && `form:${opts.idempotencyKey}`,
      async (): Promise<FormSubmitResult> => {
        const { request, link } = await this.createFromDraft(actor, draft);
        if (link) return { ok: true, reply: link };
        return { ok: true, reply: { kind: 'submitted', text: `Sent for approval: ${request.id}.`, request: requestView(request, this.clock.now()), version: request.version } };
      },
      { changed: () => true, duplicate: () => ({ ok: true, reply: { kind: 'text', text: 'Already received; nothing was done twice.' } }) },
    );
  }
}

const FORM_FIELDS: readonly FormField[] = ['vm', 'ports', 'duration', 'source', 'reason'];
/** A VM list, ports, a duration or a source: far shorter than this when typed in earnest. */
const FORM_FIELD_MAX = 1000;

/**
 * What the platform told us about the person, unfit to act on or to record: a name or email with a
 * control character (PostgreSQL would refuse to store it, and a person never chose it).
 */
function actorProblem(actor: Actor): string | null {
  const name = controlCharacterProblem('Your display name', actor.name ?? '');
  if (name) return `${name}, which jitbot cannot record; change it in your profile and try again.`;
  const account = controlCharacterProblem('Your email address', actor.email ?? '') ?? controlCharacterProblem('Your user id', actor.userId ?? '');
  if (account) return `${account}, which jitbot cannot record; ask an admin to correct it.`;
  return null;
}

/** After `/jit enable`: JIT alone lets nobody in; say which access rule does, or that none does. */
function ruleNote(policy: AccessPolicy, vm: Vm): string {
  const rule = ruleForVm(policy, vm);
  if (!rule) return `${vm.name} is under JIT, but no access rule covers it, so nobody can request it yet; add a rule for it to the configuration.`;
  const approvals = rule.autoApprove ? 'approved automatically' : `${rule.approvals} approval${rule.approvals === 1 ? '' : 's'} from ${rule.approvers.join(', ')}`;
  return `${vm.name} is under JIT. Rule ${rule.name} lets ${rule.requesters.join(', ')} request it (${approvals}).`;
}

function capitalized(text: string): string {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
}

/** VMs per page of `/jit vms`: small enough for one Slack message and one Teams card. */
const VMS_PAGE_SIZE = 20;

/** A filter as typed: with `*` a glob over the whole name, else any part of the name; both ignore case. */
function vmNameMatches(filter: string, name: string): boolean {
  const f = filter.toLowerCase();
  const n = name.toLowerCase();
  return f.includes('*') ? matchGlob(f, n) : n.includes(f);
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
