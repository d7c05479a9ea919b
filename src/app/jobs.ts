// What the scheduler runs: opening and extending in Azure and watching Azure apply it, reminders,
// expiry, pending timeouts, and every chat delivery (the outbox). Each handler re-reads the request and does nothing when the
// state has moved on, so a job run twice, or run late, is harmless.
import { sameSources, sourcesOf } from '../core/cidr';
import { randomUUID } from 'node:crypto';
import { ChatError, CloudError, JitError } from '../core/errors';
import * as notices from '../core/notices';
import { TERMINAL_STATES, type AccessRequest, type Actor, type Platform, type VmRef } from '../core/types';
import { requestView, type Notice } from '../core/views';
import { errorFields } from './logger';
import { announceJobs, askRefKind, jobPlatforms } from './outbox';
import type { AskRefKind, CloudAccessRecord, Job, JobKind, JobSpec, MessageRef, OpenResult } from './ports';
import { openDecision } from '../core/lifecycle';
import { isRetryable, type JobHandler } from './scheduler';
import { UseCase } from './use-case';
import { judgeApply, listPorts, pollDelayMs, type ApplyVerdict, type ConfirmPayload } from './apply-watch';
import { formatUtc } from '../core/duration';
import { sameEmail } from '../core/email';
import { Escalations } from './escalation';

/** How long Azure may take to apply an accepted initiate before the bot calls it failed. */
export const DEFAULT_APPLY_DEADLINE_MS = 120_000;
/** Where an ask's closing words are kept for a message that lands after its decision (see closedNotice). */
const CLOSED_ASKS = 'closed-asks';
/** Polls that find no trace of an accepted open before it is sent again. */
const UNRECORDED_POLLS = 3;

/**
 * Redraws of messages people already see: the card, the requester's copy, an ask whose buttons
 * are taken off. They yield to the work somebody waits for (see SchedulerOptions.deferKinds): with
 * every job of an approval started at once, the reply that the ports are open came after a dozen
 * redraws of this approval and of the grant it replaced.
 */
export const DEFERRED_KINDS: readonly JobKind[] = ['update-card', 'update-copy', 'close-notices'];

/** Azure's request history as last read, and the VMs that read covered. */
interface SeenRecords {
  vms: VmRef[];
  records: CloudAccessRecord[];
}

/** One message a post-card job posts: the card on a platform, or the requester's copy on theirs. */
interface PostTarget {
  platform: Platform;
  copy: boolean;
}

export class Jobs extends UseCase {
  private readonly escalations = new Escalations(this.ctx);

  handlers(): Record<JobKind, JobHandler> {
    return {
      open: (job) => this.runOpen(job),
      'extend-open': (job) => this.runExtendOpen(job),
      confirm: (job) => this.runConfirm(job),
      remind: (job) => this.runRemind(job),
      expire: (job) => this.runExpire(job),
      'pending-timeout': (job) => this.runPendingTimeout(job),
      escalate: (job) => this.escalations.run(job),
      'post-card': (job) => this.runPostCard(job),
      'update-card': (job) => this.runUpdateCard(job),
      thread: (job) => this.runThread(job),
      dm: (job) => this.runDm(job),
      'post-copy': (job) => this.runPostCopy(job),
      'update-copy': (job) => this.runUpdateCopy(job),
      'close-notices': (job) => this.runCloseNotices(job),
    };
  }

  /**
   * Azure's record of an initiate this bot already sent for the request (found by the justification,
   * which carries the request id): after a crash between Azure accepting and our commit.
   */
  private async acceptedEarlier(r: AccessRequest): Promise<Date | null> {
    const records = await this.cloud.accessRecords(r.vms, { timeoutInMs: this.cloudTimeoutInMs });
    const now = this.clock.now().getTime();
    const ours = records.filter(
      (x) => x.justification?.startsWith(`jitbot ${r.id} `) && /^Initiat/.test(x.status) && x.endsAt.getTime() > now && sameSources(x.sources, sourcesOf(r)),
    );
    const covered = r.vms.every((vm) => r.ports.every((p) => ours.some((x) => x.vmId.toLowerCase() === vm.id.toLowerCase() && x.port === p.number)));
    if (!covered) return null;
    return new Date(Math.min(...ours.map((x) => x.endsAt.getTime())));
  }

  /**
   * At start: settle requests a previous process left half-way. An `opening` request whose initiate
   * Azure already accepted is watched until Azure applies it, without a second initiate; any other
   * is opened by its job.
   */
  async reconcile(): Promise<{ settled: string[] }> {
    const settled: string[] = [];
    for (const r of await this.store.listRequests({ states: ['opening'], limit: 1000 })) {
      try {
        const endsAt = await this.acceptedEarlier(r);
        if (endsAt) {
          // With the initiate on record (its process died while watching, or another replica still
          // watches it), this only watches the apply; otherwise the accept itself is what reconcile found.
          const onRecord = (await this.store.listAudit({ requestId: r.id })).some((e) => e.type === 'azure.initiate' && e.details.ok === true && e.details.extension !== true);
          const how = onRecord ? undefined : 'found accepted in Azure after a restart';
          if (await this.watchApply(r, this.confirmPayload('open', this.justification(r), endsAt), how)) settled.push(r.id);
        } else {
          await this.store.scheduleJobs([{ kind: 'open', requestId: r.id, dueAt: this.clock.now(), key: `${r.id}:open` }]);
        }
      } catch (err) {
        this.log.warn({ ...errorFields(err), requestId: r.id }, 'reconcile could not settle a request; its job will');
      }
    }
    settled.push(...(await this.settleVanished().catch((err: unknown) => {
      this.log.warn(errorFields(err), 'reconcile could not compare open grants with Azure; they end on their own schedule');
      return [];
    })));
    if (settled.length > 0) this.log.info({ settled }, 'reconciled requests with Azure');
    this.kick();
    return { settled };
  }

  /**
   * Grants the store calls open that Azure no longer shows (closed by hand in the portal, or by a
   * simulator that lost its state): they end now, and the requester and the thread are told, rather
   * than the bot saying "open until …" over a closed port.
   */
  private async settleVanished(): Promise<string[]> {
    const now = this.clock.now();
    const active = (await this.store.listRequests({ states: ['active'], limit: 1000 })).filter((r) => r.endsAt && r.endsAt.getTime() > now.getTime());
    if (active.length === 0) return [];
    const vms = [...new Map(active.flatMap((r) => r.vms).map((v) => [v.id.toLowerCase(), v])).values()];
    const records = await this.cloud.accessRecords(vms, { timeoutInMs: this.cloudTimeoutInMs });
    const ended: string[] = [];
    for (const r of active) {
      const shown = records.some(
        (x) => x.justification?.startsWith(`jitbot ${r.id} `) && /^Initiat/.test(x.status) && x.endsAt.getTime() > now.getTime(),
      );
      if (shown) continue;
      await this.apply(
        r.id,
        (cur) => (cur.state === 'active' ? { type: 'expire', at: this.clock.now() } : new JitError('conflict', 'already ended')),
        (n) => {
          const note = notices.vanishedNotice(n);
          return {
            cancelKinds: ['remind', 'expire', 'extend-open', 'escalate'],
            audit: [this.auditEvent('azure.reconciled', n, null, { how: 'Azure no longer shows the grant', plannedEndsAt: r.endsAt?.toISOString() ?? null })],
            announce: { card: true, thread: note, dm: note },
          };
        },
      ).then(
        () => ended.push(r.id),
        (err: unknown) => {
          if (!(err instanceof JitError && err.code === 'conflict')) throw err;
        },
      );
    }
    return ended;
  }

  confirmPayload(what: ConfirmPayload['what'], justification: string, endsAt?: Date, by?: Actor): ConfirmPayload {
    return {
      what,
      justification,
      acceptedAt: this.clock.now().toISOString(),
      ...(endsAt ? { endsAt: endsAt.toISOString() } : {}),
      ...(by ? { by } : {}),
      attempt: 0,
    };
  }

  /**
   * After Azure's 202: look once now (Azure may have written the rules already), and otherwise leave
   * a durable `confirm` job that polls with backoff, so a restart loses nothing. True when settled.
   */
  async watchApply(r: AccessRequest, p: ConfirmPayload, how?: string, opts: { recorded?: Promise<void> } = {}): Promise<boolean> {
    let verdict: ApplyVerdict;
    let records: CloudAccessRecord[] = [];
    try {
      records = await this.cloud.accessRecords(r.vms, { timeoutInMs: this.cloudTimeoutInMs });
      verdict = judgeApply(records, r, p, this.clock.now());
    } catch (err) {
      // Asking failed, not the apply: keep asking until the deadline.
      this.log.warn({ ...errorFields(err), requestId: r.id }, 'could not read whether Azure applied the request; will ask again');
      verdict = { state: 'waiting', waiting: [] };
    }
    // What the caller was writing while Azure was asked (the audit of the accepted initiate) is in
    // the store before anything follows from the answer.
    await opts.recorded;
    if (verdict.state === 'applied') {
      await this.settleApplied(r, p, verdict, how, { vms: r.vms, records });
      return true;
    }
    const deadline = this.settings.applyDeadlineMs ?? DEFAULT_APPLY_DEADLINE_MS;
    const waitedMs = this.clock.now().getTime() - new Date(p.acceptedAt).getTime();
    if (verdict.state === 'failed' || waitedMs >= deadline) {
      const reason =
        verdict.state === 'failed'
          ? verdict.reason
          : `Azure accepted the request at ${formatUtc(new Date(p.acceptedAt), this.clock.now())} but had not applied ${verdict.waiting.length > 0 ? listPorts(verdict.waiting) : 'it'} after ${Math.round(deadline / 1000)} s`;
      await this.settleApplyFailed(r, p, reason);
      return true;
    }
    if (p.what === 'open' && verdict.unrecorded && p.attempt >= UNRECORDED_POLLS) {
      // Azure lists an accepted initiate at once; none of it after several looks means it was lost
      // (a simulator restarted without its state, a regional failover): send it again.
      this.log.warn({ requestId: r.id }, 'Azure has no record of the accepted initiate; sending it again');
      await this.store.scheduleJobs([{ kind: 'open', requestId: r.id, dueAt: this.clock.now(), key: `${r.id}:open:${p.acceptedAt}` }]);
      this.kick();
      return false;
    }
    const attempt = p.attempt + 1;
    await this.store.scheduleJobs([
      {
        kind: 'confirm',
        requestId: r.id,
        dueAt: new Date(this.clock.now().getTime() + pollDelayMs(attempt)),
        key: `${r.id}:confirm:${p.what}:${p.acceptedAt}:${attempt}`,
        payload: { ...p, attempt } as unknown as Record<string, unknown>,
      },
    ]);
    return false;
  }

  private async runConfirm(job: Job): Promise<void> {
    const p = job.payload as unknown as ConfirmPayload;
    const r = await this.store.getRequest(job.requestId ?? '');
    if (!r) return;
    // Nothing waits any more when the request moved on (expired, released, or settled elsewhere).
    const waiting = p.what === 'open' ? r.state === 'opening' : p.what === 'extend' ? r.state === 'active' && r.extension?.opening === true : r.state === 'active';
    if (!waiting) return;
    await this.watchApply(r, p);
  }

  private async settleApplied(r: AccessRequest, p: ConfirmPayload, v: Extract<ApplyVerdict, { state: 'applied' }>, how: string | undefined, seen: SeenRecords): Promise<void> {
    const now = () => this.clock.now();
    const conflictIsFine = (err: unknown) => {
      if (!(err instanceof JitError && err.code === 'conflict')) throw err;
    };
    if (p.what === 'open') {
      const endsAt = v.endsAt ?? new Date(p.endsAt ?? now().toISOString());
      const approvedAt = r.approvals.length > 0 ? r.approvals[r.approvals.length - 1].at : r.createdAt;
      await this.apply(
        r.id,
        () => ({ type: 'opened', at: now(), endsAt, ...(v.connect.length > 0 ? { connect: v.connect } : {}) }),
        (n) => ({
          audit: [this.auditEvent(how ? 'azure.reconciled' : 'azure.applied', n, null, { endsAt: endsAt.toISOString(), ...(how ? { how } : {}) })],
          schedule: this.grantJobs(n),
          announce: { card: true, thread: notices.openedNotice(n, now()), dm: notices.openedNotice(n, now()) },
        }),
        { current: r },
      ).then(async ({ next }) => {
        this.observer.opened((now().getTime() - approvedAt.getTime()) / 1000, 'ok');
        // This grant may end older ones on the same ports, and newer ones may already have ended it.
        const newer = (await Promise.all(v.replacedBy.map((id) => this.store.getRequest(id)))).filter((x): x is AccessRequest => x !== null);
        for (const opened of [next, ...newer]) {
          await this.settleSuperseded(opened, seen).catch((err: unknown) => this.log.warn({ ...errorFields(err), requestId: opened.id }, 'could not check older grants on the same ports'));
        }
      }, conflictIsFine);
      return;
    }
    if (p.what === 'extend') {
      const endsAt = v.endsAt ?? new Date(p.endsAt ?? now().toISOString());
      await this.apply(
        r.id,
        () => ({ type: 'extended', at: now(), endsAt }),
        (n) => ({
          audit: [this.auditEvent('azure.applied', n, null, { extension: true, endsAt: endsAt.toISOString() })],
          cancelKinds: ['remind', 'expire'],
          schedule: this.grantJobs(n),
          announce: { card: true, thread: notices.extendedNotice(n, now()), dm: notices.extendedNotice(n, now()) },
        }),
      ).catch(conflictIsFine);
      return;
    }
    const by = p.by ?? r.requester;
    await this.apply(
      r.id,
      () => ({ type: 'release', by, at: now() }),
      (n) => ({
        cancelKinds: ['remind', 'expire', 'extend-open', 'escalate'],
        audit: [this.auditEvent('azure.close', n, by, { ok: true, applied: true })],
        announce: { card: true, thread: notices.releasedNotice(n), ...(sameEmail(n.requester.email, by.email) ? {} : { dm: notices.releasedNotice(n) }) },
      }),
    ).catch(conflictIsFine);
  }

  private async settleApplyFailed(r: AccessRequest, p: ConfirmPayload, reason: string): Promise<void> {
    const now = () => this.clock.now();
    this.log.warn({ requestId: r.id, what: p.what, reason }, 'Azure did not apply an accepted request');
    if (p.what === 'open') {
      // Whatever did apply is closed again, so "failed" never leaves a port open.
      let note = '';
      try {
        await this.cloud.close(
          { vms: r.vms, ports: r.ports, sources: sourcesOf(r), justification: `closing after a failed apply: ${this.justification(r)}`.slice(0, 500) },
          { timeoutInMs: this.cloudTimeoutInMs },
        );
      } catch (err) {
        this.log.warn({ ...errorFields(err), requestId: r.id }, 'could not close ports after a failed apply');
        note = ` Some ports may stay open until ${p.endsAt ? formatUtc(new Date(p.endsAt), now()) : 'their end time'}.`;
      }
      const approvedAt = r.approvals.length > 0 ? r.approvals[r.approvals.length - 1].at : r.createdAt;
      await this.apply(
        r.id,
        () => ({ type: 'open-failed', at: now(), reason: `${reason}.${note}` }),
        (n) => ({
          audit: [this.auditEvent('azure.applied', n, null, { ok: false, error: reason })],
          cancelKinds: ['remind', 'expire', 'pending-timeout'],
          announce: { card: true, thread: notices.failedNotice(n), dm: notices.failedNotice(n) },
        }),
      ).then(
        () => this.observer.opened((now().getTime() - approvedAt.getTime()) / 1000, 'failed'),
        (err: unknown) => {
          if (!(err instanceof JitError && err.code === 'conflict')) throw err;
        },
      );
      return;
    }
    if (p.what === 'extend') {
      await this.apply(
        r.id,
        () => ({ type: 'extend-failed', at: now(), reason }),
        (n) => ({
          audit: [this.auditEvent('azure.applied', n, null, { ok: false, extension: true, error: reason })],
          announce: { card: true, thread: notices.extensionFailedNotice(n, reason), dm: notices.extensionFailedNotice(n, reason) },
        }),
      ).catch((err: unknown) => {
        if (!(err instanceof JitError && err.code === 'conflict')) throw err;
      });
      return;
    }
    const note = notices.releaseFailedNotice(r, reason, now());
    await this.store.appendAudit([this.auditEvent('azure.close', r, p.by ?? null, { ok: false, applied: false, error: reason })]);
    await this.store.scheduleJobs(announceJobs(r, await this.platformsWithCard(r.id), { thread: note, dm: note }, now()).map((j) => ({ ...j, key: `${j.key}:release-failed:${p.acceptedAt}` })));
    this.kick();
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
        await this.watchApply(r, this.confirmPayload('open', this.justification(r), endsAtEarlier), 'an earlier attempt had reached Azure');
        return;
      }
    }
    const endsAt = new Date(now.getTime() + r.durationMinutes * 60_000);
    const started = Date.now();
    let result: OpenResult;
    try {
      result = await this.cloud.open(
        { vms: r.vms, ports: r.ports, sources: sourcesOf(r), endsAt, justification: this.justification(r) },
        { timeoutInMs: this.cloudTimeoutInMs },
      );
      this.observer.cloudCall('initiate', (Date.now() - started) / 1000, 'ok');
    } catch (err) {
      if (err instanceof JitError && err.code === 'conflict') return;
      const cloudErr = err instanceof CloudError ? err : null;
      this.observer.cloudCall('initiate', (Date.now() - started) / 1000, 'error', cloudErr?.kind ?? 'unknown');
      const deadline = this.settings.openDeadlineMs ?? 120_000;
      const pastDeadline = this.clock.now().getTime() - approvedAt.getTime() >= deadline;
      const retryable = cloudErr ? cloudErr.retryable : !(err instanceof JitError);
      if (retryable && !pastDeadline && job.attempts < 5) {
        await this.store.appendAudit([this.auditEvent('azure.initiate', r, null, { ok: false, retrying: true, error: cloudErr?.message ?? 'unexpected error' })]);
        throw err;
      }
      const reason = cloudErr?.message ?? 'Azure could not be reached';
      // The requester and the thread hear it from the notices; an operator needs it in the logs
      // (a 403 means the bot's identity lacks a role). errorFields keeps headers and tokens out.
      this.log.warn({ ...errorFields(err), requestId: r.id, attempts: job.attempts }, 'Azure did not open the approved ports; the request failed');
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
      return;
    }
    // Accepted is not open: the request stays `opening` until Azure shows the ports Initiated. Should
    // this fail, the job's retry finds the accepted initiate in Azure (acceptedEarlier) and watches it.
    // Written while Azure is asked whether it applied the initiate: one round trip off the path to
    // "open", and still recorded before the grant is.
    const recorded = this.store.appendAudit([
      this.auditEvent('azure.initiate', r, null, { ok: true, accepted: true, endsAt: result.endsAt.toISOString(), azureRequestId: result.azureRequestId ?? null }),
    ]);
    recorded.catch(() => undefined);
    await this.watchApply(r, this.confirmPayload('open', this.justification(r), result.endsAt), undefined, { recorded });
  }

  /**
   * Azure keeps one grant per VM port, so opening `opened` may have ended an older grant on the same
   * port (status NewerRequestInitiated). Ask Azure, rather than assume, and never keep saying "open"
   * for a port Azure closed: a grant with nothing left ends now; one with some ports left is told.
   */
  private async settleSuperseded(opened: AccessRequest, seen: SeenRecords): Promise<void> {
    const sameVm = (a: { id: string }, b: { id: string }) => a.id.toLowerCase() === b.id.toLowerCase();
    const others = new Map<string, AccessRequest>();
    for (const vm of opened.vms) {
      for (const r of await this.store.listRequests({ states: ['active'], vmName: vm.name, limit: 200 })) {
        const overlaps = r.vms.some((v) => opened.vms.some((o) => sameVm(v, o))) && r.ports.some((p) => opened.ports.some((q) => q.number === p.number));
        if (r.id !== opened.id && overlaps) others.set(r.id, r);
      }
    }
    if (others.size === 0) return;
    const vms = [...new Map([...others.values()].flatMap((r) => r.vms).map((v) => [v.id.toLowerCase(), v])).values()];
    // Azure's history as read to see this grant applied, a moment ago, already shows what the grant
    // replaced; each read of a busy VM's policy carries up to 200 requests through the SDK's
    // deserializer, so it is read again only for VMs that read did not cover.
    const covered = vms.every((vm) => seen.vms.some((v) => sameVm(v, vm)));
    const records = covered ? seen.records : await this.cloud.accessRecords(vms, { timeoutInMs: this.cloudTimeoutInMs });
    const now = this.clock.now().getTime();
    for (const older of others.values()) {
      const pairs = older.vms.flatMap((vm) => older.ports.map((p) => ({ vm, port: p.number })));
      const lost = pairs.filter(
        ({ vm, port }) =>
          !records.some(
            (x) => x.justification?.startsWith(`jitbot ${older.id} `) && /^Initiat/.test(x.status) && x.endsAt.getTime() > now && sameVm({ id: x.vmId }, vm) && x.port === port,
          ),
      );
      if (lost.length === 0) continue;
      const words = lost.map(({ vm, port }) => `${port} on ${vm.name}`);
      if (lost.length === pairs.length) {
        await this.apply(
          older.id,
          (cur) => (cur.state === 'active' ? { type: 'expire', at: this.clock.now() } : new JitError('conflict', 'already ended')),
          (n) => {
            const note = notices.supersededNotice(n, opened, words, true);
            return {
              cancelKinds: ['remind', 'expire', 'extend-open', 'escalate'],
              audit: [this.auditEvent('azure.superseded', n, null, { by: opened.id, ports: words })],
              announce: { card: true, thread: note, dm: note },
            };
          },
        ).catch((err: unknown) => {
          if (!(err instanceof JitError && err.code === 'conflict')) throw err;
        });
      } else {
        const note = notices.supersededNotice(older, opened, words, false);
        await this.store.scheduleJobs(
          announceJobs(older, await this.platformsWithCard(older.id), { thread: note, dm: note }, this.clock.now()).map((j) => ({ ...j, key: `${j.key}:${opened.id}` })),
        );
        await this.store.appendAudit([this.auditEvent('azure.superseded', older, null, { by: opened.id, ports: words, partial: true })]);
        this.kick();
      }
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
    const justification = this.justification(r, `extension of ${r.id}`);
    let result: OpenResult;
    try {
      result = await this.cloud.extend({ vms: r.vms, ports: r.ports, sources: sourcesOf(r), endsAt, justification }, { timeoutInMs: this.cloudTimeoutInMs });
      this.observer.cloudCall('initiate', (Date.now() - started) / 1000, 'ok');
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
      return;
    }
    await this.store.appendAudit([this.auditEvent('azure.initiate', r, null, { ok: true, accepted: true, extension: true, endsAt: result.endsAt.toISOString() })]);
    await this.watchApply(r, this.confirmPayload('extend', justification, result.endsAt));
  }

  private async runRemind(job: Job): Promise<void> {
    const r = await this.store.getRequest(job.requestId ?? '');
    // A reminder for an end time that an extension since moved is stale.
    if (!r || r.state !== 'active' || !r.endsAt || r.endsAt.toISOString() !== job.payload.endsAt) return;
    const n = notices.reminderNotice(r, this.clock.now());
    await this.store.scheduleJobs(announceJobs(r, await this.platformsWithCard(r.id), { thread: n, dm: n }, this.clock.now()).map((j) => ({ ...j, key: `${j.key}:${job.key}` })));
    await this.store.appendAudit([this.auditEvent('request.reminded', r, null, { endsAt: r.endsAt.toISOString() })]);
    this.kick();
  }

  private async runExpire(job: Job): Promise<void> {
    const r = await this.store.getRequest(job.requestId ?? '');
    if (!r || r.state !== 'active' || !r.endsAt || r.endsAt.toISOString() !== job.payload.endsAt) return;
    await this.apply(
      r.id,
      (cur) => (cur.endsAt && cur.endsAt.getTime() > this.clock.now().getTime() ? new JitError('conflict', 'not yet') : { type: 'expire', at: this.clock.now() }),
      (n) => ({ cancelKinds: ['remind', 'extend-open', 'escalate'], announce: { card: true, thread: notices.expiredNotice(n), dm: notices.expiredNotice(n) } }),
    ).catch((err: unknown) => {
      if (!(err instanceof JitError && err.code === 'conflict')) throw err;
    });
  }

  private async runPendingTimeout(job: Job): Promise<void> {
    const r = await this.store.getRequest(job.requestId ?? '');
    // The `from me` link's lapse and the approvers' deadline are both this kind; each ends only its own stage.
    const stage = job.payload.stage === 'address' ? 'awaiting-address' : 'pending';
    if (!r || r.state !== stage) return;
    await this.apply(
      r.id,
      (cur) => (cur.state === stage ? { type: 'timeout', at: this.clock.now() } : new JitError('conflict', 'moved on')),
      (n) =>
        stage === 'awaiting-address'
          ? { announce: { card: true, dm: notices.addressTimedOutNotice(n) } }
          : { announce: { card: true, thread: notices.timedOutNotice(n), dm: notices.timedOutNotice(n) } },
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
    const r = await this.store.getRequest(job.requestId ?? '');
    if (!r) return;
    const refs = await this.store.listMessageRefs(r.id);
    const todo: PostTarget[] = jobPlatforms(job.payload)
      .filter((p) => this.chats.has(p) && !refs.some((m) => m.kind === 'card' && m.ref.platform === p))
      .map((platform) => ({ platform, copy: false }));
    // The requester's copy rides along (payload.copy): one job per command instead of two.
    const copyChat = job.payload.copy === true ? this.chats.get(r.requester.platform) : undefined;
    if (copyChat && !refs.some((m) => m.kind === 'copy' && m.ref.platform === copyChat.platform)) todo.push({ platform: copyChat.platform, copy: true });
    if (todo.length === 0) return;
    const view = requestView(r, this.clock.now());
    const posted = await this.onEach(r.id, "post the approval card or the requester's copy", todo, async ({ platform, copy }) => {
      const chat = this.chats.get(platform)!;
      if (copy) {
        const ref = await chat.postCopy(r.requester, view, { timeoutInMs: 10_000 });
        if (ref) await this.store.saveMessageRef({ requestId: r.id, kind: 'copy', ref });
        return ref ? { ref, copy } : null;
      }
      const ref = await chat.postCard(r.route, view, { timeoutInMs: 10_000 });
      // "No place on this platform" is remembered too, so thread replies know not to wait for a card.
      await this.store.saveMessageRef({ requestId: r.id, kind: 'card', ref: ref ?? { platform, v: 1, data: { none: true } } });
      return ref ? { ref, copy } : null;
    });
    const drawn = posted.filter((d): d is { ref: MessageRef; copy: boolean } => d !== null);
    if (drawn.length === 0) return;
    // The request may have moved on while the messages were being posted; draw it as it is now.
    const latest = await this.store.getRequest(r.id);
    if (!latest || latest.version === r.version) return;
    const redrawn = requestView(latest, this.clock.now());
    await this.onEach(r.id, "redraw the approval card or the requester's copy", drawn, ({ ref, copy }) =>
      copy ? this.chats.get(ref.platform)!.updateCopy(ref, redrawn, { timeoutInMs: 10_000 }) : this.chats.get(ref.platform)!.updateCard(ref, redrawn, { timeoutInMs: 10_000 }),
    );
  }

  private async runUpdateCard(job: Job): Promise<void> {
    const r = await this.store.getRequest(job.requestId ?? '');
    if (!r) return;
    const platforms = jobPlatforms(job.payload).filter((p) => this.chats.has(p));
    // A platform still without a card is left out: posting it will draw the current state.
    const refs = (await this.store.listMessageRefs(r.id)).filter((m) => m.kind === 'card' && platforms.includes(m.ref.platform) && !m.ref.data.none).map((m) => m.ref);
    if (refs.length === 0) return;
    const view = requestView(r, this.clock.now());
    await this.onEach(r.id, 'redraw the approval card', refs, (ref) => this.chats.get(ref.platform)!.updateCard(ref, view, { timeoutInMs: 10_000 }));
  }

  /**
   * `work` for every item at once; their results in order once all have settled. One that failed does
   * not stop the others; the job then fails with a retryable error if any was retryable (a retry
   * skips what already succeeded), else with the first.
   */
  private async onEach<T, R>(requestId: string, what: string, items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
    const settled = await Promise.allSettled(items.map(work));
    const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
    if (failures.length === 0) return settled.map((s) => (s as PromiseFulfilledResult<R>).value);
    if (failures.length > 1) for (const err of failures) this.log.warn({ ...errorFields(err), requestId }, `could not ${what} on one platform`);
    throw failures.find(isRetryable) ?? failures[0];
  }

  private async runThread(job: Job): Promise<void> {
    const platform = job.payload.platform as Platform;
    const chat = this.chats.get(platform);
    if (!chat || !job.requestId) return;
    const refs = await this.cardRefs(job.requestId, platform);
    if (refs === 'none') return;
    if (refs === 'unposted') throw new ChatError('the approval card is not posted yet', { retryable: true, retryAfterMs: 1000 });
    const notice = await this.liveNotice(job.requestId, job.payload.notice as Notice);
    const sent = await chat.replyInThread(refs[0], notice, { timeoutInMs: 10_000 });
    if (hasGrantButtons(notice)) await this.keepNoticeRef(job.requestId, 'notice', sent);
  }

  private async runDm(job: Job): Promise<void> {
    const r = await this.store.getRequest(job.requestId ?? '');
    if (!r) return;
    const notice = job.payload.notice as Notice;
    // A message asking one person to decide (an escalation, a step-up link) names that decision.
    const about = typeof job.payload.about === 'string' ? job.payload.about : undefined;
    if (about !== undefined && openDecision(r) !== about) return; // decided in the moments since: nothing to ask
    const toPerson = job.payload.toPerson as { name: string; email: string } | undefined;
    if (toPerson) {
      if (about === undefined && notice.actions?.includes('approve') && requestView(r, this.clock.now()).approverActions.length === 0) return;
      // Known by email only (an escalation person): the first platform that can reach them.
      for (const chat of this.chats.values()) {
        const person: Actor = { platform: chat.platform, userId: '', email: toPerson.email, name: toPerson.name };
        const sent = await chat.messagePerson(person, notice, { timeoutInMs: 10_000 });
        if (!sent) continue;
        if (about !== undefined) await this.keepNoticeRef(r.id, askRefKind(about), sent);
        return;
      }
      this.log.warn({ requestId: r.id, email: toPerson.email }, 'no chat platform could reach this person directly; the thread names them');
      return;
    }
    // Most direct messages are for the requester; a step-up link names its approver.
    const to = (job.payload.to as Actor | undefined) ?? r.requester;
    const chat = this.chats.get(to.platform);
    if (!chat) return;
    const live = await this.liveNotice(r.id, notice);
    const sent = await chat.messagePerson(to, live, { timeoutInMs: 10_000 });
    if (about !== undefined) await this.keepNoticeRef(r.id, askRefKind(about), sent);
    else if (hasGrantButtons(live)) await this.keepNoticeRef(r.id, 'notice', sent);
  }

  /** A notice with buttons that is delivered after its grant ended (a late retry) goes without them. */
  private async liveNotice(requestId: string, notice: Notice): Promise<Notice> {
    if (!hasGrantButtons(notice)) return notice;
    const r = await this.store.getRequest(requestId);
    return r && TERMINAL_STATES.includes(r.state) ? notices.reminderEndedNotice(r, this.clock.now()) : notice;
  }

  /**
   * Remember where a message with buttons landed, so they can be taken off once they mean nothing:
   * a reminder's when the grant ends, an ask's when its decision is made. That may have happened
   * while it was being sent, and its close-notices job may already have run; then it is redrawn at once.
   */
  private async keepNoticeRef(requestId: string, kind: 'notice' | AskRefKind, ref: MessageRef | null): Promise<void> {
    if (!ref) return;
    await this.store.saveMessageRef({ requestId, kind, ref });
    const closed = await this.closedNotice(requestId, kind);
    if (closed) await this.chats.get(ref.platform)?.updateNotice(ref, closed, { timeoutInMs: 10_000 });
  }

  /**
   * What the messages remembered under `kind` say once their buttons are gone, or null while they
   * still count. A reminder's words follow from the ended request; an ask's were written when its
   * decision was made (the event that made it is gone by now), and kept by its close-notices job.
   */
  private async closedNotice(requestId: string, kind: 'notice' | AskRefKind): Promise<Notice | null> {
    if (kind !== 'notice') return this.store.getValue<Notice>(CLOSED_ASKS, `${requestId}:${kind}`);
    const r = await this.store.getRequest(requestId);
    return r && TERMINAL_STATES.includes(r.state) ? notices.reminderEndedNotice(r, this.clock.now()) : null;
  }

  /**
   * Take the buttons off every message remembered under the job's kind: the grant's reminders once it
   * ended (no payload), or the direct messages that asked for a decision now made (`refKind` and the
   * words to put in their place).
   */
  private async runCloseNotices(job: Job): Promise<void> {
    const requestId = job.requestId ?? '';
    const kind = (job.payload.refKind as AskRefKind | undefined) ?? 'notice';
    // Kept before the references are read: an ask still being sent finds it once it has saved its own.
    if (kind !== 'notice') await this.store.setValue(CLOSED_ASKS, `${requestId}:${kind}`, job.payload.notice);
    const closed = await this.closedNotice(requestId, kind);
    if (!closed) return;
    const refs = (await this.store.listMessageRefs(requestId)).filter((m) => m.kind === kind);
    let retry: ChatError | null = null;
    for (const { ref } of refs) {
      const chat = this.chats.get(ref.platform);
      if (!chat) continue;
      try {
        // The same words again are harmless, so a retry simply redraws them all.
        await chat.updateNotice(ref, closed, { timeoutInMs: 10_000 });
      } catch (err) {
        if (err instanceof ChatError && err.retryable) retry ??= err;
        else this.log.warn({ ...errorFields(err), requestId, platform: ref.platform }, 'could not take the buttons off a message');
      }
    }
    if (retry) throw retry;
  }

  /** The requester's own copy, on their platform, drawn as the request is now. */
  private async runPostCopy(job: Job): Promise<void> {
    const r = await this.store.getRequest(job.requestId ?? '');
    if (!r) return;
    const chat = this.chats.get(r.requester.platform);
    if (!chat) return;
    if ((await this.store.listMessageRefs(r.id)).some((m) => m.kind === 'copy' && m.ref.platform === chat.platform)) return;
    const ref = await chat.postCopy(r.requester, requestView(r, this.clock.now()), { timeoutInMs: 10_000 });
    if (!ref) return;
    await this.store.saveMessageRef({ requestId: r.id, kind: 'copy', ref });
    const latest = await this.store.getRequest(r.id);
    if (latest && latest.version !== r.version) await chat.updateCopy(ref, requestView(latest, this.clock.now()), { timeoutInMs: 10_000 });
  }

  private async runUpdateCopy(job: Job): Promise<void> {
    const r = await this.store.getRequest(job.requestId ?? '');
    if (!r) return;
    const refs = (await this.store.listMessageRefs(r.id)).filter((m) => m.kind === 'copy');
    const view = requestView(r, this.clock.now());
    for (const { ref } of refs) await this.chats.get(ref.platform)?.updateCopy(ref, view, { timeoutInMs: 10_000 });
  }

  /**
   * A platform's own answer to the command (Teams' reply card) becomes the requester's copy: kept,
   * then drawn again if the request moved on while the answer was on its way (or `drawnVersion` is
   * not known). The reference is saved before the version is read: a transition committed after the
   * read finds the reference and redraws the copy itself, one committed before it is seen here.
   */
  async keepCopy(requestId: string, ref: MessageRef, drawnVersion?: number): Promise<void> {
    await this.store.saveMessageRef({ requestId, kind: 'copy', ref });
    const r = await this.store.getRequest(requestId);
    if (!r || r.version === drawnVersion) return;
    await this.store.scheduleJobs([{ kind: 'update-copy', requestId: r.id, dueAt: this.clock.now(), key: `${r.id}:update-copy:kept:${randomUUID()}` }]);
    this.kick();
  }

}

/** A reminder's Extend and Release: the buttons that mean nothing once the grant has ended. */
function hasGrantButtons(notice: Notice): boolean {
  return notice.kind === 'reminder' && (notice.actions ?? []).some((a) => a === 'extend' || a === 'release');
}
