// Escalation: a decision still open after the rule's `escalateAfterMinutes` is announced again, in
// the card's thread and directly to each escalation person, and the requester is told. The job is
// scheduled with the state change that opens the decision; the escalation itself is a compare-and-set
// transition written with its notices (an outbox), so it happens once however often the job runs,
// and not at all once the decision was made, withdrawn or timed out.
import { escalationPrincipals, escalationTargets } from '../core/access';
import { openDecision } from '../core/lifecycle';
import { JitError } from '../core/errors';
import * as notices from '../core/notices';
import type { AccessPolicy } from '../core/policy';
import type { AccessRequest } from '../core/types';
import type { Job, JobSpec } from './ports';
import { UseCase } from './use-case';

/** The escalate job's payload: which decision it is about (an extension by when it was asked). */
interface EscalatePayload {
  phase?: 'request' | 'extension';
  askedAt?: string;
}

/**
 * The escalate job for the decision `r` just started waiting for (the request turning pending, or an
 * extension asked for), when its rule escalates; none otherwise.
 */
export function escalationJobs(policy: AccessPolicy, r: AccessRequest, now: Date): JobSpec[] {
  const rule = policy.rules.find((x) => x.name === r.rule);
  if (rule?.escalateAfterMinutes === undefined) return [];
  const dueAt = new Date(now.getTime() + rule.escalateAfterMinutes * 60_000);
  if (r.state === 'pending') return [{ kind: 'escalate', requestId: r.id, dueAt, key: `${r.id}:escalate`, payload: { phase: 'request' } }];
  if (r.state === 'active' && r.extension && !r.extension.opening) {
    const askedAt = r.extension.requestedAt.toISOString();
    return [{ kind: 'escalate', requestId: r.id, dueAt, key: `${r.id}:escalate:${askedAt}`, payload: { phase: 'extension', askedAt } }];
  }
  return [];
}

export class Escalations extends UseCase {
  async run(job: Job): Promise<void> {
    const p = job.payload as EscalatePayload;
    const r = await this.store.getRequest(job.requestId ?? '');
    if (!r || !this.stillOpen(r, p)) return;
    // The rule may have lost its escalation since (a new configuration after a restart).
    const rule = this.policy.rules.find((x) => x.name === r.rule);
    if (rule?.escalateAfterMinutes === undefined) return;
    // Escalation people in directory groups are listed by the directory; a group it cannot list adds nobody.
    const listed = await this.people.membersOf(escalationPrincipals(rule).filter((x) => x.startsWith('group:')).map((x) => x.slice('group:'.length)));
    const at = this.clock.now();
    await this.apply(
      r.id,
      (cur) => {
        if (!this.stillOpen(cur, p)) return new JitError('conflict', 'decided or escalated meanwhile');
        const to = escalationTargets(this.policy, cur, listed).map((person) => ({ name: person.name, email: person.email }));
        return p.phase === 'extension' ? { type: 'escalate', at, to, phase: 'extension', askedAt: new Date(p.askedAt ?? 0) } : { type: 'escalate', at, to, phase: 'request' };
      },
      (n) => {
        const escalation = (n.state === 'active' ? n.extension?.escalation : n.escalation) ?? { at, to: [] };
        if (escalation.to.length === 0) this.log.warn({ requestId: n.id, rule: n.rule }, 'escalated with nobody to ask: the rule names no one else');
        return {
          announce: {
            card: true,
            thread: notices.escalatedNotice(n, escalation.to, at),
            dm: notices.escalatedToRequesterNotice(n, escalation.to, at),
          },
          // One direct message per person, keyed by the version, so a second run adds none.
          schedule: escalation.to.map((person) => ({
            kind: 'dm',
            requestId: n.id,
            dueAt: at,
            key: `${n.id}:v${n.version}:dm:escalated:${person.email}`,
            payload: { notice: notices.escalationAskNotice(n, person, at), toPerson: person, about: openDecision(n) },
          })),
        };
      },
    ).catch((err: unknown) => {
      if (!(err instanceof JitError && err.code === 'conflict')) throw err;
    });
  }

  /** Whether the decision this job is about still waits, and was not escalated yet. */
  private stillOpen(r: AccessRequest, p: EscalatePayload): boolean {
    if (p.phase === 'extension') {
      const ext = r.extension;
      return r.state === 'active' && ext !== undefined && !ext.opening && !ext.escalation && ext.requestedAt.toISOString() === p.askedAt;
    }
    return r.state === 'pending' && !r.escalation;
  }
}
