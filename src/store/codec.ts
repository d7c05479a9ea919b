// Rows to domain objects and back. Requests are stored whole as JSON (dates become ISO strings) and
// revived here field by field: guessing dates from string shapes would also turn a reason such as
// "2026-01-01T00:00:00Z rollout" into a Date one day.
import type { AccessRequest, Actor, Approval, AuditEvent, Decision, Escalation, Platform } from '../core/types';
import type { Job, JobKind, MessageRef, StoredMessageRef } from '../app/ports';

export interface RequestRow {
  version: number;
  data: Record<string, unknown>;
}

export function requestColumns(request: AccessRequest) {
  const names = request.vms.map((vm) => vm.name);
  return {
    state: request.state,
    requesterEmail: request.requester.email?.toLowerCase() ?? null,
    createdAt: request.createdAt,
    openedAt: request.openedAt ?? null,
    endsAt: request.endsAt ?? null,
    vmNames: names,
    vmKeys: names.map((n) => n.toLowerCase()),
    data: JSON.stringify(request),
  };
}

export function decodeRequest(row: RequestRow): AccessRequest {
  const d = row.data as unknown as Stored<AccessRequest>;
  const request = {
    ...d,
    // The column is the truth: it is what compare-and-set checked.
    version: row.version,
    createdAt: toDate(d.createdAt),
    approvals: (d.approvals ?? []).map(decodeApproval),
  } as AccessRequest;
  setDate(request, 'openedAt', d.openedAt);
  setDate(request, 'endsAt', d.endsAt);
  setDate(request, 'closedAt', d.closedAt);
  setDate(request, 'cancelledAt', d.cancelledAt);
  if (d.denial) request.denial = decodeDecision(d.denial);
  if (d.addressLink) request.addressLink = { ...d.addressLink, expiresAt: toDate(d.addressLink.expiresAt) };
  if (d.escalation) request.escalation = decodeEscalation(d.escalation);
  if (d.extension) {
    const { escalation, ...extension } = d.extension;
    request.extension = {
      ...extension,
      requestedAt: toDate(d.extension.requestedAt),
      approvals: (d.extension.approvals ?? []).map(decodeApproval),
      ...(escalation ? { escalation: decodeEscalation(escalation) } : {}),
    };
  }
  return request;
}

/** The JSON shape of T: every Date is an ISO string. */
type Stored<T> = T extends Date
  ? string
  : T extends Array<infer E>
    ? Array<Stored<E>>
    : T extends object
      ? { [K in keyof T]: Stored<T[K]> }
      : T;

function decodeEscalation(e: Stored<Escalation>): Escalation {
  return { at: toDate(e.at), to: (e.to ?? []).map((p) => ({ name: p.name, email: p.email })) };
}

function decodeApproval(a: Stored<Approval>): Approval {
  const { stepUp, ...rest } = a;
  return { ...rest, at: toDate(a.at), ...(stepUp ? { stepUp: { ...stepUp, authTime: toDate(stepUp.authTime) } } : {}) };
}

function decodeDecision(d: Stored<Decision>): Decision {
  return { ...d, at: toDate(d.at) };
}

function toDate(value: string | Date): Date {
  return value instanceof Date ? value : new Date(value);
}

type OptionalDateKey = 'openedAt' | 'endsAt' | 'closedAt' | 'cancelledAt';

function setDate(request: AccessRequest, key: OptionalDateKey, value: string | undefined | null): void {
  if (typeof value === 'string') request[key] = new Date(value);
  else delete request[key];
}

export interface AuditRow {
  at: Date;
  request_id: string | null;
  type: string;
  actor: Actor | null;
  platform: Platform | null;
  vm_names: string[];
  details: Record<string, unknown>;
}

export function decodeAudit(row: AuditRow): AuditEvent {
  return {
    at: row.at,
    requestId: row.request_id,
    type: row.type,
    actor: row.actor,
    platform: row.platform,
    vmNames: row.vm_names,
    details: row.details,
  };
}

export interface JobRow {
  id: string;
  kind: JobKind;
  request_id: string | null;
  key: string;
  due_at: Date;
  payload: Record<string, unknown>;
  attempts: number;
}

/** Qualified, because claiming joins jobs with a CTE that also has an `id`. */
export const JOB_COLUMNS = 'jobs.id::text AS id, jobs.kind, jobs.request_id, jobs.key, jobs.due_at, jobs.payload, jobs.attempts';

export function decodeJob(row: JobRow): Job {
  return {
    id: row.id,
    kind: row.kind,
    requestId: row.request_id,
    key: row.key,
    dueAt: row.due_at,
    payload: row.payload,
    attempts: row.attempts,
  };
}

export interface MessageRefRow {
  request_id: string;
  kind: StoredMessageRef['kind'];
  ref: MessageRef;
}

export function decodeMessageRef(row: MessageRefRow): StoredMessageRef {
  return { requestId: row.request_id, kind: row.kind, ref: row.ref };
}
