// Chat deliveries are jobs written in the same transaction as the state change they announce, so a
// failed or interrupted post is retried by the scheduler and never lost (an outbox).
import { TERMINAL_STATES, type AccessRequest, type Platform } from '../core/types';
import type { Notice } from '../core/views';
import { openDecision, type LifecycleEvent } from '../core/lifecycle';
import { askClosedNotice } from '../core/notices';
import type { AskRefKind, JobSpec } from './ports';

export interface Announce {
  /** Redraw the card on every platform. */
  card?: boolean;
  /** Reply in the card's thread on every platform. */
  thread?: Notice;
  /** Tell the requester directly, on their own platform. */
  dm?: Notice;
}

/** Job specs for one announcement about `r` (already at its new version). */
export function announceJobs(r: AccessRequest, platforms: readonly Platform[], a: Announce, now: Date): JobSpec[] {
  const jobs: JobSpec[] = [];
  const at = `${r.id}:v${r.version}`;
  // One redraw for every platform: drawing the same card again is harmless, so a retry may redo them
  // all. Thread replies stay one job per platform, since a reply posted twice is a second reply.
  if (a.card && platforms.length > 0) jobs.push({ kind: 'update-card', requestId: r.id, dueAt: now, key: `${at}:update`, payload: { platforms: [...platforms] } });
  for (const platform of platforms) {
    if (a.thread)
      jobs.push({ kind: 'thread', requestId: r.id, dueAt: now, key: `${at}:thread:${a.thread.kind}:${platform}`, payload: { platform, notice: a.thread } });
  }
  if (a.dm) jobs.push({ kind: 'dm', requestId: r.id, dueAt: now, key: `${at}:dm:${a.dm.kind}`, payload: { notice: a.dm } });
  return jobs;
}

/**
 * After every transition: redraw the requester's own copies; once a decision is made (or can no
 * longer be), take the buttons off the messages that asked for it; once the request has ended, off
 * its reminders. Keys carry the version or the decision, so a replayed commit schedules nothing twice.
 */
export function transitionJobs(r: AccessRequest, prev: AccessRequest, ev: LifecycleEvent, now: Date): JobSpec[] {
  const jobs: JobSpec[] = [{ kind: 'update-copy', requestId: r.id, dueAt: now, key: `${r.id}:v${r.version}:update-copy` }];
  const asked = openDecision(prev);
  if (asked !== null && asked !== openDecision(r)) {
    const refKind = askRefKind(asked);
    jobs.push({ kind: 'close-notices', requestId: r.id, dueAt: now, key: `${r.id}:close-notices:${refKind}`, payload: { refKind, notice: askClosedNotice(prev, ev, now) } });
  }
  if (TERMINAL_STATES.includes(r.state) && !TERMINAL_STATES.includes(prev.state)) {
    jobs.push({ kind: 'close-notices', requestId: r.id, dueAt: now, key: `${r.id}:close-notices` });
  }
  return jobs;
}

/** Where the messages asking for one decision are remembered (see StoredMessageRef). */
export function askRefKind(decision: string): AskRefKind {
  return `ask:${decision}`;
}

/** The requester's own copy, posted once on their platform (Slack: a direct message it can keep updating). */
export function postCopyJobs(r: AccessRequest, now: Date): JobSpec[] {
  return [{ kind: 'post-copy', requestId: r.id, dueAt: now, key: `${r.id}:post-copy` }];
}

/**
 * One job posts the card on every platform and, with `copy`, the requester's copy too. A retry posts
 * only what is not recorded yet (a card, "no place here", or the copy is recorded the moment its
 * platform answers), so nothing is posted twice. One job for all of them, instead of one per platform
 * and one for the copy, is the least outbox work a command can make.
 */
export function postCardJobs(r: AccessRequest, platforms: readonly Platform[], now: Date, opts: { copy?: boolean } = {}): JobSpec[] {
  if (platforms.length === 0) return opts.copy ? postCopyJobs(r, now) : [];
  return [{ kind: 'post-card', requestId: r.id, dueAt: now, key: `${r.id}:post-card`, payload: { platforms: [...platforms], ...(opts.copy ? { copy: true } : {}) } }];
}

/** The platforms a post-card or update-card job is for (older versions wrote one job per platform). */
export function jobPlatforms(payload: Record<string, unknown>): Platform[] {
  if (Array.isArray(payload.platforms)) return payload.platforms.filter((p): p is Platform => typeof p === 'string');
  return typeof payload.platform === 'string' ? [payload.platform as Platform] : [];
}
