// Who clicked or typed: a Slack user id becomes an Actor with the email the access rules know people
// by. users.info answers are cached for a while, so a burst of clicks costs one lookup.
import type { WebAPICallResult } from '@slack/web-api';
import type { Clock } from '../app/ports';
import { normalizeEmail } from '../core/email';
import type { Actor } from '../core/types';
import { slackErrorCode, type SlackCaller } from './web';

export const DEFAULT_USER_CACHE_TTL_MS = 10 * 60_000;
/** Someone Slack would not describe may have just been added; they wait a minute at most. */
export const UNKNOWN_USER_CACHE_TTL_MS = 60_000;
// Looking someone up sits inside Slack's 3-second window more often than not.
const LOOKUP_TIMEOUT_MS = 2_500;

interface UsersInfoResult extends WebAPICallResult {
  user?: {
    id?: string;
    name?: string;
    real_name?: string;
    deleted?: boolean;
    is_bot?: boolean;
    profile?: { email?: string; real_name?: string; display_name?: string };
  };
}

export interface SlackIdentity {
  /**
   * The person behind a Slack user id. Email is null when Slack does not tell us (no such user, a bot,
   * no `users:read.email`); the api then treats them as unknown. Throws ChatError when Slack fails.
   */
  actorFor(userId: string, hint?: { name?: string }): Promise<Actor>;
  /**
   * The Slack user id behind an email (`users.lookupByEmail`), null when Slack has no such person.
   * Cached like actorFor. Throws ChatError when Slack fails.
   */
  userIdFor(email: string): Promise<string | null>;
}

function nameOf(user: NonNullable<UsersInfoResult['user']>, fallback: string): string {
  const candidates = [user.profile?.real_name, user.real_name, user.profile?.display_name, user.name];
  return candidates.find((c): c is string => typeof c === 'string' && c.trim() !== '')?.trim() ?? fallback;
}

export function createSlackIdentity(deps: { slack: SlackCaller; clock: Clock; ttlMs?: number }): SlackIdentity {
  const ttlMs = deps.ttlMs ?? DEFAULT_USER_CACHE_TTL_MS;
  const cache = new Map<string, { actor: Promise<Actor>; until: number }>();

  async function lookup(userId: string, hint?: { name?: string }): Promise<Actor> {
    const unknown: Actor = { platform: 'slack', userId, email: null, name: hint?.name?.trim() || userId };
    try {
      const res = await deps.slack.call<UsersInfoResult>('users.info', { user: userId }, { timeoutInMs: LOOKUP_TIMEOUT_MS });
      const user = res.user;
      if (!user || user.deleted || user.is_bot) return unknown;
      const email = normalizeEmail(user.profile?.email);
      return { platform: 'slack', userId, email, name: nameOf(user, unknown.name) };
    } catch (err) {
      if (slackErrorCode(err) === 'user_not_found') return unknown;
      throw err;
    }
  }

  const byEmail = new Map<string, { id: Promise<string | null>; until: number }>();

  async function lookupEmail(email: string): Promise<string | null> {
    try {
      const res = await deps.slack.call<WebAPICallResult & { user?: { id?: string; deleted?: boolean; is_bot?: boolean } }>('users.lookupByEmail', { email }, { timeoutInMs: LOOKUP_TIMEOUT_MS });
      return res.user?.id && !res.user.deleted && !res.user.is_bot ? res.user.id : null;
    } catch (err) {
      if (slackErrorCode(err) === 'users_not_found') return null;
      throw err;
    }
  }

  return {
    userIdFor(email) {
      const now = deps.clock.now().getTime();
      const hit = byEmail.get(email);
      if (hit && hit.until > now) return hit.id;
      const id = lookupEmail(email);
      byEmail.set(email, { id, until: now + ttlMs });
      void id.then((found) => {
        const entry = byEmail.get(email);
        if (found === null && entry?.id === id) entry.until = Math.min(entry.until, now + Math.min(ttlMs, UNKNOWN_USER_CACHE_TTL_MS));
      }, () => {
        if (byEmail.get(email)?.id === id) byEmail.delete(email);
      });
      return id;
    },

    actorFor(userId, hint) {
      const now = deps.clock.now().getTime();
      const hit = cache.get(userId);
      if (hit && hit.until > now) return hit.actor;
      const actor = lookup(userId, hint);
      cache.set(userId, { actor, until: now + ttlMs });
      void actor.then((a) => {
        const entry = cache.get(userId);
        if (a.email === null && entry?.actor === actor) entry.until = Math.min(entry.until, now + Math.min(ttlMs, UNKNOWN_USER_CACHE_TTL_MS));
      }, () => {});
      // A failed lookup is not an answer: the next click asks Slack again.
      actor.catch(() => {
        if (cache.get(userId)?.actor === actor) cache.delete(userId);
      });
      return actor;
    },
  };
}
