// Chat deliveries are jobs written in the same transaction as the state change they announce, so a
// failed or interrupted post is retried by the scheduler and never lost (an outbox).
import { TERMINAL_STATES, type AccessRequest, type Platform } from '../core/types';
import type { Notice } from '../core/views';
import type { JobSpec } from './ports';

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
  for (const platform of platforms) {
    if (a.card) jobs.push({ kind: 'update-card', requestId: r.id, dueAt: now, key: `${at}:update:${platform}`, payload: { platform } });
    if (a.thread)
      jobs.push({ kind: 'thread', requestId: r.id, dueAt: now, key: `${at}:thread:${a.thread.kind}:${platform}`, payload: { platform, notice: a.thread } });
  }
  if (a.dm) jobs.push({ kind: 'dm', requestId: r.id, dueAt: now, key: `${at}:dm:${a.dm.kind}`, payload: { notice: a.dm } });
  return jobs;
}

/**
 * After every transition: redraw the requester's own copies, and once the request has ended, take the
 * buttons off its reminders. Keys carry the version, so a replayed commit schedules nothing twice.
 */
export function transitionJobs(r: AccessRequest, prev: AccessRequest, now: Date): JobSpec[] {
  const jobs: JobSpec[] = [{ kind: 'update-copy', requestId: r.id, dueAt: now, key: `${r.id}:v${r.version}:update-copy` }];
  if (TERMINAL_STATES.includes(r.state) && !TERMINAL_STATES.includes(prev.state)) {
    jobs.push({ kind: 'close-notices', requestId: r.id, dueAt: now, key: `${r.id}:close-notices` });
  }
  return jobs;
}

/** The requester's own copy, posted once on their platform (Slack: a direct message it can keep updating). */
export function postCopyJobs(r: AccessRequest, now: Date): JobSpec[] {
  return [{ kind: 'post-copy', requestId: r.id, dueAt: now, key: `${r.id}:post-copy` }];
}

export function postCardJobs(r: AccessRequest, platforms: readonly Platform[], now: Date): JobSpec[] {
  return platforms.map((platform) => ({ kind: 'post-card', requestId: r.id, dueAt: now, key: `${r.id}:post-card:${platform}`, payload: { platform } }));
}
