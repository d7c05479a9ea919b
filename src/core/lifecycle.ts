// The request lifecycle of DESIGN §4 as a pure state machine. Each transition returns a new request
// (version + 1) and the audit events it implies; the caller stores both with compare-and-set on the
// version. The invariants the app also checks are enforced here again, so no caller can skip them.
import type { RequestDraft } from './access';
import { formatDuration, formatUtc, MAX_DURATION_MINUTES, MIN_DURATION_MINUTES } from './duration';
import { sameEmail } from './email';
import { JitError } from './errors';
import type { AccessRequest, Actor, Approval, AuditEvent, ConnectDetail, Escalation, StepUpProof, VmRef } from './types';
import { formatPort } from './views';
import { FROM_ME } from './cidr';

export type LifecycleEvent =
  /** `stepUp`: what the approver's fresh sign-in proved, on rules that ask for one. */
  | { type: 'approve'; by: Actor; at: Date; stepUp?: StepUpProof }
  | { type: 'deny'; by: Actor; at: Date; reason?: string }
  | { type: 'cancel'; by: Actor; at: Date }
  /** `from me`: the one-time link captured the requester's address (already checked against the policy). */
  | { type: 'address'; at: Date; source: string; from: string }
  /** `from me`: the captured address is outside the policy; the request cannot go on. */
  | { type: 'address-refused'; at: Date; from: string; reason: string }
  | { type: 'timeout'; at: Date }
  | { type: 'opened'; at: Date; endsAt: Date; connect?: ConnectDetail[] }
  | { type: 'open-failed'; at: Date; reason: string }
  | { type: 'expire'; at: Date }
  /** After Azure accepted the close. */
  | { type: 'release'; by: Actor; at: Date }
  /** `autoApprove` defaults to whether the request itself was approved automatically. */
  | { type: 'extend-request'; by: Actor; at: Date; durationMinutes: number; autoApprove?: boolean }
  | { type: 'extended'; at: Date; endsAt: Date }
  /**
   * Nobody decided in time: the open decision (the pending request, or the pending extension asked
   * at `askedAt`) is announced again to `to`. Happens once per decision.
   */
  | { type: 'escalate'; at: Date; to: Array<{ name: string; email: string }>; phase: 'request' }
  | { type: 'escalate'; at: Date; to: Array<{ name: string; email: string }>; phase: 'extension'; askedAt: Date }
  | { type: 'extend-failed'; at: Date; reason: string };

export type LifecycleEventType = LifecycleEvent['type'];

export type TransitionResult = { ok: true; next: AccessRequest; audit: AuditEvent[] } | { ok: false; error: JitError };

function vmRef(vm: RequestDraft['vms'][number]): VmRef {
  const ref: VmRef = { id: vm.id, name: vm.name, resourceGroup: vm.resourceGroup, location: vm.location };
  if (vm.policyName !== undefined) ref.policyName = vm.policyName;
  return ref;
}

function auditOf(r: AccessRequest, type: string, at: Date, actor: Actor | null, details: Record<string, unknown> = {}): AuditEvent {
  return { at, requestId: r.id, type, actor, platform: actor?.platform ?? null, vmNames: r.vms.map((v) => v.name), details };
}

/** `Bob`, `Bob and Carol`, `Ann, Bob and Carol`. */
function names(approvals: readonly Approval[]): string {
  const all = approvals.map((a) => a.by.name);
  return all.length <= 1 ? (all[0] ?? '') : `${all.slice(0, -1).join(', ')} and ${all[all.length - 1]}`;
}

function approvedText(approvals: readonly Approval[], now: Date): string {
  const last = approvals[approvals.length - 1];
  return last ? `already approved by ${names(approvals)} at ${formatUtc(last.at, now)}` : 'already approved';
}

/** Why a request cannot be decided any more, for the person who just tried: who decided, and when. */
export function decidedMessage(r: AccessRequest, now: Date): string {
  switch (r.state) {
    case 'awaiting-address':
      return `this request is waiting for ${r.requester.name} to open the link that records their address`;
    case 'pending':
      return `this request is still waiting for approval (${r.approvals.length} of ${r.requiredApprovals})`;
    case 'denied':
      return r.denial ? `already denied by ${r.denial.by.name} at ${formatUtc(r.denial.at, now)}` : 'already denied';
    case 'cancelled':
      return 'this request was cancelled';
    case 'timed-out':
      return 'this request timed out waiting for approval';
    case 'opening':
    case 'active':
    case 'failed':
    case 'expired':
    case 'released':
      return r.autoApproved ? `already approved automatically by rule ${r.rule}` : approvedText(r.approvals, now);
  }
}

/** Email joins platforms; without one on either side only the same platform account is the same person. */
function isRequester(r: AccessRequest, actor: Actor): boolean {
  if (actor.email && r.requester.email) return sameEmail(actor.email, r.requester.email);
  return actor.platform === r.requester.platform && actor.userId === r.requester.userId;
}

/**
 * A new request. With `from me` it first waits for the requester's address (`addressLink` is the
 * one-time link's hashed token and expiry); nobody is asked to approve an address not yet known.
 */
export function createRequest(input: {
  id: string;
  draft: RequestDraft;
  requester: Actor;
  now: Date;
  addressLink?: { tokenHash: string; expiresAt: Date };
}): { request: AccessRequest; audit: AuditEvent[] } {
  const { id, draft, requester, now } = input;
  const awaiting = draft.source === FROM_ME;
  if (awaiting && !input.addressLink) throw new JitError('internal', 'a from me request needs its one-time link');
  const request: AccessRequest = {
    id,
    version: 1,
    state: awaiting ? 'awaiting-address' : draft.autoApprove ? 'opening' : 'pending',
    requester,
    vms: draft.vms.map(vmRef),
    ports: draft.ports.map((p) => ({ ...p })),
    source: draft.source,
    ...(draft.sources && draft.sources.length > 1 ? { sources: [...draft.sources] } : {}),
    ...(draft.sourceNote ? { sourceNote: draft.sourceNote } : {}),
    ...(awaiting && input.addressLink ? { addressLink: input.addressLink } : {}),
    durationMinutes: draft.durationMinutes,
    ...(Number.isFinite(draft.maxOpenMinutes) ? { maxOpenMinutes: draft.maxOpenMinutes } : {}),
    ...(draft.rule.maxTotalMinutes !== undefined ? { maxTotalMinutes: draft.rule.maxTotalMinutes } : {}),
    reason: draft.reason,
    rule: draft.rule.name,
    requiredApprovals: draft.requiredApprovals,
    route: { ...draft.rule.route },
    approvals: [],
    createdAt: now,
  };
  if (draft.autoApprove) request.autoApproved = true;
  const audit = [
    auditOf(request, 'request.created', now, requester, {
      ports: request.ports.map(formatPort),
      source: request.source,
      ...(request.sources ? { sources: request.sources } : {}),
      durationMinutes: request.durationMinutes,
      reason: request.reason,
      rule: request.rule,
      requiredApprovals: request.requiredApprovals,
    }),
  ];
  if (draft.autoApprove && !awaiting) audit.push(auditOf(request, 'request.approved', now, null, { automatic: true, rule: request.rule }));
  return { request, audit };
}

type Outcome = TransitionResult;

function conflict(message: string): Outcome {
  return { ok: false, error: new JitError('conflict', message) };
}

function refused(message: string): Outcome {
  return { ok: false, error: new JitError('not_allowed', message) };
}

function moved(r: AccessRequest, changes: Partial<AccessRequest>, audit: AuditEvent[]): Outcome {
  return { ok: true, next: { ...r, ...changes, version: r.version + 1 }, audit };
}

/** The request without its extension (an optional property is removed, not set to undefined). */
function withoutExtension(r: AccessRequest): AccessRequest {
  const { extension: _dropped, ...rest } = r;
  return rest;
}

function hasPendingExtension(r: AccessRequest): boolean {
  return r.state === 'active' && r.extension !== undefined && !r.extension.opening;
}

/** Checks every approval must pass, on the request and on an extension alike. */
function approverProblem(r: AccessRequest, by: Actor, approvals: readonly Approval[], what: 'request' | 'extension'): Outcome | null {
  if (isRequester(r, by)) return refused(`you can't approve your own ${what}`);
  if (!by.email) return refused('an approval needs a known email, and the chat platform did not give one');
  if (approvals.some((a) => sameEmail(a.by.email, by.email))) return conflict(`you already approved this ${what}`);
  return null;
}

function approvalOf(e: Extract<LifecycleEvent, { type: 'approve' }>): Approval {
  return e.stepUp ? { by: e.by, at: e.at, stepUp: e.stepUp } : { by: e.by, at: e.at };
}

/** The audit keeps who the provider said signed in, and how: issuer, subject, amr (and acr). */
function stepUpDetails(p: StepUpProof | undefined): Record<string, unknown> {
  if (!p) return {};
  return { stepUp: { issuer: p.issuer, subject: p.subject, amr: p.amr, ...(p.acr !== undefined ? { acr: p.acr } : {}), authTime: p.authTime.toISOString() } };
}

function approve(r: AccessRequest, e: Extract<LifecycleEvent, { type: 'approve' }>): Outcome {
  if (r.state === 'pending') {
    const problem = approverProblem(r, e.by, r.approvals, 'request');
    if (problem) return problem;
    const approvals = [...r.approvals, approvalOf(e)];
    const audit = [auditOf(r, 'request.approval', e.at, e.by, { approvals: approvals.length, required: r.requiredApprovals, ...stepUpDetails(e.stepUp) })];
    if (approvals.length < r.requiredApprovals) return moved(r, { approvals }, audit);
    audit.push(auditOf(r, 'request.approved', e.at, e.by, { approvers: approvals.map((a) => a.by.email) }));
    return moved(r, { approvals, state: 'opening' }, audit);
  }
  if (hasPendingExtension(r)) {
    const ext = r.extension!;
    const problem = approverProblem(r, e.by, ext.approvals, 'extension');
    if (problem) return problem;
    const approvals = [...ext.approvals, approvalOf(e)];
    const reached = approvals.length >= r.requiredApprovals;
    const audit = [auditOf(r, 'extension.approval', e.at, e.by, { approvals: approvals.length, required: r.requiredApprovals, ...stepUpDetails(e.stepUp) })];
    if (reached) {
      audit.push(auditOf(r, 'extension.approved', e.at, e.by, { durationMinutes: ext.durationMinutes, approvers: approvals.map((a) => a.by.email) }));
    }
    return moved(r, { extension: { ...ext, approvals, ...(reached ? { opening: true } : {}) } }, audit);
  }
  if (r.state === 'active' && r.extension?.opening) {
    return conflict(`the extension is ${approvedText(r.extension.approvals, e.at)}`);
  }
  return conflict(decidedMessage(r, e.at));
}

function deny(r: AccessRequest, e: Extract<LifecycleEvent, { type: 'deny' }>): Outcome {
  const reason = e.reason?.trim() ? { reason: e.reason.trim() } : {};
  if (r.state === 'pending') {
    if (isRequester(r, e.by)) return refused(`you can't deny your own request; cancel it with /jit cancel ${r.id}`);
    return moved(r, { state: 'denied', denial: { by: e.by, at: e.at, ...reason } }, [auditOf(r, 'request.denied', e.at, e.by, { ...reason })]);
  }
  if (hasPendingExtension(r)) {
    if (isRequester(r, e.by)) return refused("you can't deny your own extension");
    const ext = r.extension!;
    const audit = [auditOf(r, 'extension.denied', e.at, e.by, { durationMinutes: ext.durationMinutes, ...reason })];
    return { ok: true, next: { ...withoutExtension(r), version: r.version + 1 }, audit };
  }
  if (r.state === 'active' && r.extension?.opening) return conflict('the extension is already approved and being opened');
  return conflict(decidedMessage(r, e.at));
}

function withoutLink(r: AccessRequest): AccessRequest {
  const { addressLink: _dropped, ...rest } = r;
  return rest;
}

function cancel(r: AccessRequest, e: Extract<LifecycleEvent, { type: 'cancel' }>): Outcome {
  if (!isRequester(r, e.by)) return refused(`only ${r.requester.name}, who asked for ${r.id}, can cancel it`);
  if (r.state === 'cancelled') return conflict('this request was cancelled');
  if (r.state !== 'pending' && r.state !== 'awaiting-address') return conflict(`${decidedMessage(r, e.at)}; only a pending request can be cancelled`);
  return moved(withoutLink(r), { state: 'cancelled', cancelledAt: e.at }, [auditOf(r, 'request.cancelled', e.at, e.by)]);
}

function address(r: AccessRequest, e: Extract<LifecycleEvent, { type: 'address' }>): Outcome {
  if (r.state !== 'awaiting-address') return conflict(`this link was already used or has lapsed (${r.id} is ${r.state})`);
  const automatic = r.autoApproved === true;
  const audit = [auditOf(r, 'request.address', e.at, r.requester, { source: e.source, from: e.from })];
  if (automatic) audit.push(auditOf(r, 'request.approved', e.at, null, { automatic: true, rule: r.rule }));
  return moved(withoutLink(r), { state: automatic ? 'opening' : 'pending', source: e.source }, audit);
}

function addressRefused(r: AccessRequest, e: Extract<LifecycleEvent, { type: 'address-refused' }>): Outcome {
  if (r.state !== 'awaiting-address') return conflict(`this link was already used or has lapsed (${r.id} is ${r.state})`);
  return moved(withoutLink(r), { state: 'failed', failure: e.reason }, [auditOf(r, 'request.address-refused', e.at, r.requester, { from: e.from, reason: e.reason })]);
}

function timeout(r: AccessRequest, e: Extract<LifecycleEvent, { type: 'timeout' }>): Outcome {
  if (r.state === 'awaiting-address') {
    return moved(withoutLink(r), { state: 'timed-out' }, [auditOf(r, 'request.timed-out', e.at, null, { waitingFor: 'address' })]);
  }
  if (r.state !== 'pending') return conflict(decidedMessage(r, e.at));
  const waitedMinutes = Math.round((e.at.getTime() - r.createdAt.getTime()) / 60_000);
  return moved(r, { state: 'timed-out' }, [auditOf(r, 'request.timed-out', e.at, null, { approvals: r.approvals.length, waitedMinutes })]);
}

function opened(r: AccessRequest, e: Extract<LifecycleEvent, { type: 'opened' }>): Outcome {
  if (r.state !== 'opening') return conflict(`${r.id} is ${r.state}, not opening; nothing was waiting for Azure`);
  const details = { endsAt: e.endsAt.toISOString(), ports: r.ports.map(formatPort), source: r.source, ...(r.sources ? { sources: r.sources } : {}) };
  const connect = e.connect && e.connect.length > 0 ? { connect: e.connect } : {};
  return moved(r, { state: 'active', openedAt: e.at, endsAt: e.endsAt, ...connect }, [auditOf(r, 'request.opened', e.at, null, { ...details, ...connect })]);
}

function openFailed(r: AccessRequest, e: Extract<LifecycleEvent, { type: 'open-failed' }>): Outcome {
  if (r.state !== 'opening') return conflict(`${r.id} is ${r.state}, not opening; nothing was waiting for Azure`);
  return moved(r, { state: 'failed', failure: e.reason }, [auditOf(r, 'request.failed', e.at, null, { reason: e.reason })]);
}

/** A pending extension dies with the grant: the ports are closed and there is nothing left to extend. */
function expire(r: AccessRequest, e: Extract<LifecycleEvent, { type: 'expire' }>): Outcome {
  if (r.state !== 'active') return conflict(`${r.id} is ${r.state}; only open access expires`);
  const details: Record<string, unknown> = { endsAt: r.endsAt?.toISOString() ?? null };
  if (r.extension) details.droppedExtensionMinutes = r.extension.durationMinutes;
  const next: AccessRequest = { ...withoutExtension(r), state: 'expired', closedAt: e.at, version: r.version + 1 };
  return { ok: true, next, audit: [auditOf(r, 'request.expired', e.at, null, details)] };
}

function release(r: AccessRequest, e: Extract<LifecycleEvent, { type: 'release' }>): Outcome {
  if (r.state === 'opening') return conflict(`${r.id} is still opening; release it once it is open`);
  if (r.state !== 'active') return conflict(`${r.id} is not open (${r.state}); there is nothing to release`);
  const details: Record<string, unknown> = { plannedEndsAt: r.endsAt?.toISOString() ?? null };
  if (r.extension) details.droppedExtensionMinutes = r.extension.durationMinutes;
  const next: AccessRequest = { ...withoutExtension(r), state: 'released', releasedBy: e.by, closedAt: e.at, version: r.version + 1 };
  return { ok: true, next, audit: [auditOf(r, 'request.released', e.at, e.by, details)] };
}

function extendRequest(r: AccessRequest, e: Extract<LifecycleEvent, { type: 'extend-request' }>): Outcome {
  if (!isRequester(r, e.by)) return refused(`only ${r.requester.name}, who holds ${r.id}, can ask to extend it`);
  if (r.state !== 'active') return conflict(`${r.id} is not open (${r.state}); only open access can be extended`);
  if (r.extension) {
    return conflict(`an extension of +${formatDuration(r.extension.durationMinutes)} is already ${r.extension.opening ? 'being opened' : 'waiting for approval'}`);
  }
  const minutes = e.durationMinutes;
  if (!Number.isInteger(minutes) || minutes < MIN_DURATION_MINUTES || minutes > MAX_DURATION_MINUTES) {
    return {
      ok: false,
      error: new JitError('bad_command', `an extension is ${formatDuration(MIN_DURATION_MINUTES)} to ${formatDuration(MAX_DURATION_MINUTES)}`),
    };
  }
  const automatic = e.autoApprove ?? r.autoApproved === true;
  const audit = [auditOf(r, 'extension.requested', e.at, e.by, { durationMinutes: minutes })];
  if (automatic) audit.push(auditOf(r, 'extension.approved', e.at, null, { durationMinutes: minutes, automatic: true }));
  const extension = { durationMinutes: minutes, requestedAt: e.at, approvals: [], ...(automatic ? { opening: true } : {}) };
  return moved(r, { extension }, audit);
}

function extended(r: AccessRequest, e: Extract<LifecycleEvent, { type: 'extended' }>): Outcome {
  if (r.state !== 'active' || !r.extension?.opening) return conflict(`${r.id} has no approved extension waiting for Azure`);
  const details = { previousEndsAt: r.endsAt?.toISOString() ?? null, endsAt: e.endsAt.toISOString(), durationMinutes: r.extension.durationMinutes };
  const next: AccessRequest = { ...withoutExtension(r), endsAt: e.endsAt, version: r.version + 1 };
  return { ok: true, next, audit: [auditOf(r, 'request.extended', e.at, null, details)] };
}

function extendFailed(r: AccessRequest, e: Extract<LifecycleEvent, { type: 'extend-failed' }>): Outcome {
  if (r.state !== 'active' || !r.extension?.opening) return conflict(`${r.id} has no approved extension waiting for Azure`);
  const details = { reason: e.reason, durationMinutes: r.extension.durationMinutes };
  return { ok: true, next: { ...withoutExtension(r), version: r.version + 1 }, audit: [auditOf(r, 'extension.failed', e.at, null, details)] };
}

function escalate(r: AccessRequest, e: Extract<LifecycleEvent, { type: 'escalate' }>): Outcome {
  const escalation: Escalation = { at: e.at, to: e.to.map((p) => ({ name: p.name, email: p.email })) };
  const details = { to: escalation.to.map((p) => p.email) };
  if (e.phase === 'request') {
    if (r.state !== 'pending') return conflict(decidedMessage(r, e.at));
    if (r.escalation) return conflict(`${r.id} was already escalated`);
    const waitedMinutes = Math.round((e.at.getTime() - r.createdAt.getTime()) / 60_000);
    return moved(r, { escalation }, [auditOf(r, 'request.escalated', e.at, null, { ...details, approvals: r.approvals.length, required: r.requiredApprovals, waitedMinutes })]);
  }
  const ext = r.extension;
  if (!hasPendingExtension(r) || !ext || ext.requestedAt.getTime() !== e.askedAt.getTime()) return conflict(`the extension of ${r.id} is no longer waiting for approval`);
  if (ext.escalation) return conflict(`the extension of ${r.id} was already escalated`);
  const waitedMinutes = Math.round((e.at.getTime() - ext.requestedAt.getTime()) / 60_000);
  const audit = [auditOf(r, 'extension.escalated', e.at, null, { ...details, durationMinutes: ext.durationMinutes, approvals: ext.approvals.length, required: r.requiredApprovals, waitedMinutes })];
  return moved(r, { extension: { ...ext, escalation } }, audit);
}

/** Applies one event. Never mutates `r`; on success `next.version` is `r.version + 1`. */
export function transition(r: AccessRequest, event: LifecycleEvent): TransitionResult {
  switch (event.type) {
    case 'approve':
      return approve(r, event);
    case 'deny':
      return deny(r, event);
    case 'cancel':
      return cancel(r, event);
    case 'timeout':
      return timeout(r, event);
    case 'address':
      return address(r, event);
    case 'address-refused':
      return addressRefused(r, event);
    case 'opened':
      return opened(r, event);
    case 'open-failed':
      return openFailed(r, event);
    case 'expire':
      return expire(r, event);
    case 'release':
      return release(r, event);
    case 'extend-request':
      return extendRequest(r, event);
    case 'extended':
      return extended(r, event);
    case 'extend-failed':
      return extendFailed(r, event);
    case 'escalate':
      return escalate(r, event);
  }
}
