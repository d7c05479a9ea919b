// The buttons and their commands: approve, deny, cancel, release, extend. Rights are checked on
// every click, against the version being written, never only on the one first read.
import { sourcesOf } from '../core/cidr';
import { canDecide, extensionTerms, isAdmin, isPartOf } from '../core/access';
import { sameEmail } from '../core/email';
import { stepUpRequired } from '../core/step-up';
import { CloudError, JitError, isJitError } from '../core/errors';
import * as notices from '../core/notices';
import type { Person } from '../core/policy';
import type { AccessRequest, Actor, StepUpProof } from '../core/types';
import { extensionRoomMinutes, hoursAndMinutes, requestView, type ActionResult, type Verb } from '../core/views';
import type { ActOptions } from './api';
import { errorFields } from './logger';
import type { Jobs } from './jobs';
import { phaseOf, type ApprovalConfirmer, type StepUpPhase } from './step-up';
import { UseCase, type AfterTransition, type UseCaseContext } from './use-case';
import { escalationJobs } from './escalation';

/** A step-up sign-in that proved an approval, and which approval it was for. */
interface Proven {
  proof: StepUpProof;
  phase: StepUpPhase;
}

export class Actions extends UseCase implements ApprovalConfirmer {
  constructor(
    ctx: UseCaseContext,
    /** Watches Azure apply what it accepted (a release is closed only once Azure has applied it). */
    private readonly watcher: Pick<Jobs, 'watchApply' | 'confirmPayload'>,
  ) {
    super(ctx);
  }

  /**
   * The approver's sign-in confirmed their click: record the approval with what the sign-in proved.
   * Rights are checked again, and the approval must still be the one the link was for.
   */
  async confirmStepUp(actor: Actor, requestId: string, proof: StepUpProof, phase: StepUpPhase): Promise<ActionResult> {
    const id = requestId.trim().toUpperCase();
    const person = await this.people.decider(actor.email, actor);
    if (!person) return { ok: false, message: "You are not in jitbot's access list any more; nothing was approved.", view: null };
    try {
      return await this.decide(actor, person, 'approve', id, { proof, phase });
    } catch (err) {
      if (isJitError(err)) return { ok: false, message: err.message, view: await this.view(id) };
      throw err;
    }
  }

  async act(actor: Actor, verb: Verb, requestId: string, opts: ActOptions = {}): Promise<ActionResult> {
    const id = requestId.trim().toUpperCase();
    const person = await this.people.decider(actor.email, actor);
    if (!person) {
      await this.auditRefusal(actor, verb, 'unknown person', [], id);
      return { ok: false, message: "You are not in jitbot's access list; ask an admin to add you.", view: null };
    }
    const result = await this.once(opts.idempotencyKey && `act:${opts.idempotencyKey}`, () => this.run(actor, person, verb, id, opts), {
      changed: (r) => r.ok,
      duplicate: async () => ({ ok: true, message: 'Already received; nothing was done twice.', view: await this.view(id) }),
    });
    // A refusal shows the card only to people who are part of the request.
    if (result.view && !result.ok) {
      const r = await this.store.getRequest(id);
      if (!r || !isPartOf(this.policy, person, r)) return { ...result, view: null };
    }
    return result;
  }

  private async run(actor: Actor, person: Person, verb: Verb, id: string, opts: ActOptions): Promise<ActionResult> {
    try {
      switch (verb) {
        case 'approve':
        case 'deny':
          return await this.decide(actor, person, verb, id, undefined, opts.reason);
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

  private async decide(actor: Actor, person: Person, verb: 'approve' | 'deny', id: string, proven?: Proven, reason?: string): Promise<ActionResult> {
    // A reason is one short line of the approver's words; control characters never reach a card.
    const why = reason?.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim().slice(0, 500) || undefined;
    const current = await this.load(id);
    const rights = canDecide(this.policy, person, current);
    if (!rights.ok) {
      this.observer.decision(verb, 'refused');
      await this.auditRefusal(actor, verb, rights.reason, current.vms.map((v) => v.name), id);
      return { ok: false, message: rights.reason, view: requestView(current, this.clock.now()) };
    }
    if (verb === 'approve' && stepUpRequired(this.policy, person, current)) {
      if (!proven) return this.askForStepUp(actor, current);
      const moved = phaseProblem(current, proven.phase);
      if (moved) return { ok: false, message: moved, view: requestView(current, this.clock.now()) };
    }
    const { prev, next } = await this.apply(
      id,
      (r) => {
        // Rights are checked again on the version we write, not only on the one we first read.
        const again = canDecide(this.policy, person, r);
        if (!again.ok) return new JitError('not_allowed', again.reason);
        const at = this.clock.now();
        if (verb === 'deny') return { type: 'deny', by: actor, at, ...(why ? { reason: why } : {}) };
        if (stepUpRequired(this.policy, person, r)) {
          if (!proven) return new JitError('not_allowed', `rule ${r.rule} needs a fresh sign-in with a second factor before your approval counts`);
          const moved = phaseProblem(r, proven.phase);
          if (moved) return new JitError('conflict', moved);
          return { type: 'approve', by: actor, at, stepUp: proven.proof };
        }
        return { type: 'approve', by: actor, at };
      },
      (n, p) => this.afterDecision(n, p, actor, why),
      { current },
    );
    this.observer.decision(verb, 'ok');
    if (prev.state === 'pending' && next.state !== 'pending') {
      this.observer.decided((this.clock.now().getTime() - prev.createdAt.getTime()) / 1000);
    }
    return { ok: true, message: this.decisionMessage(prev, next, verb), view: requestView(next, this.clock.now()) };
  }

  private async askForStepUp(actor: Actor, r: AccessRequest): Promise<ActionResult> {
    const view = requestView(r, this.clock.now());
    const stepUps = this.ctx.stepUps;
    if (!stepUps) {
      return { ok: false, message: `Rule ${r.rule} needs approvers to sign in again with a second factor, and this jitbot has no sign-in provider set up; ask whoever runs it.`, view };
    }
    return { ok: true, message: await stepUps.ask(actor, r), view };
  }

  private decisionMessage(prev: AccessRequest, next: AccessRequest, verb: 'approve' | 'deny'): string {
    const onExtension = prev.state === 'active' && prev.extension !== undefined;
    const because = verb === 'deny' && next.denial?.reason ? `: ${next.denial.reason}` : '.';
    if (verb === 'deny') return onExtension ? `You denied the extension of ${next.id}.` : `You denied ${next.id}${because}`;
    if (onExtension) {
      return next.extension?.opening ? `You approved the extension of ${next.id}; extending now.` : `You approved the extension of ${next.id} (${next.extension?.approvals.length ?? 0} of ${next.requiredApprovals}).`;
    }
    return next.state === 'opening' ? `You approved ${next.id}; opening the ports now.` : `You approved ${next.id} (${next.approvals.length} of ${next.requiredApprovals}); it needs another approver.`;
  }

  private afterDecision(next: AccessRequest, prev: AccessRequest, by: Actor, reason?: string): AfterTransition {
    const now = this.clock.now();
    if (prev.state === 'active') {
      // A decision on an extension.
      if (next.extension?.opening) {
        return { schedule: [{ kind: 'extend-open', requestId: next.id, dueAt: now, key: `${next.id}:v${next.version}:extend-open` }], cancelKinds: ['escalate'], announce: { card: true } };
      }
      if (!next.extension && prev.extension) {
        const n = notices.extensionDeniedNotice(next, by, reason);
        return { cancelKinds: ['escalate'], announce: { card: true, thread: n, dm: n } };
      }
      return { announce: { card: true, thread: notices.approvalNotice({ ...next, approvals: next.extension?.approvals ?? [] }, by) } };
    }
    switch (next.state) {
      case 'opening':
        return {
          schedule: [{ kind: 'open', requestId: next.id, dueAt: now, key: `${next.id}:open` }],
          cancelKinds: ['pending-timeout', 'escalate'],
          announce: { card: true, thread: notices.approvedNotice(next), dm: notices.approvedNotice(next) },
        };
      case 'denied': {
        const n = notices.deniedNotice(next);
        return { cancelKinds: ['pending-timeout', 'escalate'], announce: { card: true, thread: n, dm: n } };
      }
      default:
        return { announce: { card: true, thread: notices.approvalNotice(next, by) } };
    }
  }

  private async cancel(actor: Actor, person: Person, id: string): Promise<ActionResult> {
    const current = await this.load(id);
    if (!sameEmail(current.requester.email, person.email)) {
      await this.auditRefusal(actor, 'cancel', 'not the requester', current.vms.map((v) => v.name), id);
      return { ok: false, message: `Only ${current.requester.name}, who asked for ${id}, can cancel it.`, view: requestView(current, this.clock.now()) };
    }
    const { next } = await this.apply(
      id,
      () => ({ type: 'cancel', by: actor, at: this.clock.now() }),
      (n) => ({ cancelKinds: ['pending-timeout', 'open', 'escalate'], announce: { card: true, thread: notices.cancelledNotice(n) } }),
    );
    return { ok: true, message: `Cancelled ${id}.`, view: requestView(next, this.clock.now()) };
  }

  private async release(actor: Actor, person: Person, id: string): Promise<ActionResult> {
    const current = await this.load(id);
    const admin = isAdmin(this.policy, person);
    if (!sameEmail(current.requester.email, person.email) && !admin) {
      await this.auditRefusal(actor, 'release', 'not the requester', current.vms.map((v) => v.name), id);
      return { ok: false, message: `Only ${current.requester.name}, who holds ${id}, or an admin can release it.`, view: requestView(current, this.clock.now()) };
    }
    if (current.state !== 'active') {
      return { ok: false, message: `${id} is not open (${current.state}); there is nothing to release.`, view: requestView(current, this.clock.now()) };
    }
    // Close in Azure first: the request says "released" only once Azure has applied the close.
    const started = Date.now();
    const justification = this.justification(current, `release by ${actor.name}`);
    try {
      await this.cloud.close({ vms: current.vms, ports: current.ports, sources: sourcesOf(current), justification }, { timeoutInMs: this.cloudTimeoutInMs });
      this.observer.cloudCall('close', (Date.now() - started) / 1000, 'ok');
    } catch (err) {
      this.observer.cloudCall('close', (Date.now() - started) / 1000, 'error', err instanceof CloudError ? err.kind : 'unknown');
      const reason = err instanceof CloudError ? err.message : 'Azure could not be reached';
      await this.store.appendAudit([this.auditEvent('azure.close', current, actor, { ok: false, error: reason })]);
      return { ok: false, message: `Could not release ${id}: ${reason}. The ports stay open until ${requestView(current, this.clock.now()).endsAt}.`, view: requestView(current, this.clock.now()) };
    }
    await this.store.appendAudit([this.auditEvent('azure.close', current, actor, { ok: true, accepted: true })]);
    const settled = await this.watcher.watchApply(current, this.watcher.confirmPayload('close', justification, undefined, actor));
    const next = await this.load(id);
    const view = requestView(next, this.clock.now());
    if (next.state === 'released') return { ok: true, message: `Released ${id}; Azure closes the ports within a minute.`, view };
    if (!settled) return { ok: true, message: `Releasing ${id}: Azure accepted the close and is applying it; you will hear when it has.`, view };
    return { ok: false, message: `Azure did not apply the release of ${id}; the ports stay open until ${view.endsAt ?? 'their end time'}.`, view };
  }

  private async extend(actor: Actor, person: Person, id: string, durationMinutes?: number): Promise<ActionResult> {
    const current = await this.load(id);
    if (!sameEmail(current.requester.email, person.email)) {
      await this.auditRefusal(actor, 'extend', 'not the requester', current.vms.map((v) => v.name), id);
      return { ok: false, message: `Only ${current.requester.name}, who holds ${id}, can ask to extend it.`, view: requestView(current, this.clock.now()) };
    }
    // The one-click Extend asks for the request's own duration, or for what is left of the maximum.
    const room = extensionRoomMinutes(current, this.clock.now());
    const minutes = durationMinutes ?? (room !== null && room >= 5 ? Math.min(current.durationMinutes, room) : current.durationMinutes);
    const limitProblem = await this.extensionProblem(current, minutes);
    if (limitProblem) return { ok: false, message: limitProblem, view: requestView(current, this.clock.now()) };
    const terms = extensionTerms({ policy: this.policy, request: current, minutes, vms: await this.vms() });
    if (!terms.ok) {
      await this.auditRefusal(actor, 'extend', terms.error.message, current.vms.map((v) => v.name), id);
      return { ok: false, message: `${terms.error.message[0].toUpperCase()}${terms.error.message.slice(1)}.`, view: requestView(current, this.clock.now()) };
    }
    const { next } = await this.apply(
      id,
      () => ({ type: 'extend-request', by: actor, at: this.clock.now(), durationMinutes: minutes, autoApprove: terms.autoApprove }),
      (n) => {
        if (n.extension?.opening) {
          return { schedule: [{ kind: 'extend-open', requestId: n.id, dueAt: this.clock.now(), key: `${n.id}:v${n.version}:extend-open` }], announce: { card: true } };
        }
        return { schedule: escalationJobs(this.policy, n, this.clock.now()), announce: { card: true, thread: notices.extensionRequestedNotice(n) } };
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
          const most = Math.max(0, rule.maxDurationMinutes - Math.ceil((r.endsAt.getTime() - now.getTime()) / 60_000));
          return `Extending by ${minutes}m would keep port ${p.number} on ${ref.name} open ${fromNow}m from now, over its ${rule.maxDurationMinutes}m maximum; ask for at most ${most}m (${hoursAndMinutes(most)}).`;
        }
      }
    }
    return null;
  }

}

/** Why a sign-in for one approval cannot count for the request as it is now (it moved on), or null. */
function phaseProblem(r: AccessRequest, phase: StepUpPhase): string | null {
  const now = phaseOf(r);
  if (phase.kind === 'request') {
    return r.state === 'pending' ? null : `${r.id} is no longer waiting for approval (it is ${r.state}); nothing was approved`;
  }
  if (now.kind === 'extension' && now.askedAt === phase.askedAt) return null;
  return `the extension of ${r.id} you were asked to approve is no longer waiting; nothing was approved`;
}
