// Group membership from Slack user groups (`usergroups:read`). A person is matched by the Slack user
// id behind their email (users.lookupByEmail, through the identity cache); a group's member list comes
// from usergroups.users.list, one call per group however big (Slack does not page it), kept for half
// the directory TTL so the per-person cache above it still honours the whole TTL.
import type { WebAPICallResult } from '@slack/web-api';
import type { CallOptions, Clock, Directory, DirectoryGroupRef, DirectoryMember } from '../app/ports';
import { DirectoryError, ChatError } from '../core/errors';
import type { SlackIdentity } from './identity';
import { slackErrorCode, type SlackCaller } from './web';

const LABEL = 'Slack';
/** Parallel users.info lookups when listing a group's members by email. */
const LOOKUP_CONCURRENCY = 8;

interface UsergroupsListResult extends WebAPICallResult {
  usergroups?: Array<{ id?: string; handle?: string; name?: string; date_delete?: number }>;
}

interface UsergroupsUsersResult extends WebAPICallResult {
  users?: string[];
}

export interface SlackGroupsOptions {
  slack: SlackCaller;
  identity: SlackIdentity;
  clock: Clock;
  /** How long a group's member list and the handle index are reused. */
  maxAgeMs: number;
}

/** Slack's refusal in words an admin can act on. */
function toDirectoryError(method: string, err: unknown): DirectoryError {
  const code = slackErrorCode(err);
  if (code === 'missing_scope' || code === 'not_allowed_token_type' || code === 'invalid_auth') {
    return new DirectoryError('consent', `Slack refused ${method} (${code}): add the usergroups:read scope to the Slack app and reinstall it`, { cause: err });
  }
  if (code === 'plan_upgrade_required') {
    return new DirectoryError('consent', 'Slack user groups need a paid Slack plan (plan_upgrade_required); keep these groups in the configuration file instead', { cause: err });
  }
  if (code === 'ratelimited' || (err instanceof ChatError && err.retryAfterMs !== undefined)) return new DirectoryError('throttled', `Slack is rate-limiting ${method}; try again shortly`, { cause: err });
  if (err instanceof ChatError && /timed out/.test(err.message)) return new DirectoryError('timeout', `Slack did not answer ${method} in time`, { cause: err });
  return new DirectoryError('unavailable', `Slack could not be asked ${method}${code ? ` (${code})` : ''}`, { cause: err });
}

export function createSlackGroups(o: SlackGroupsOptions): Directory {
  let index: { at: number; byHandle: Promise<Map<string, string>> } | null = null;
  const members = new Map<string, { at: number; ids: Promise<Set<string>> }>();

  /** Handle → id for every live user group (one call, reused for maxAgeMs). */
  function handles(opts?: CallOptions): Promise<Map<string, string>> {
    const now = o.clock.now().getTime();
    if (index && now - index.at < o.maxAgeMs) return index.byHandle;
    const byHandle = o.slack
      .call<UsergroupsListResult>('usergroups.list', { include_disabled: false }, opts)
      .then((res) => new Map((res.usergroups ?? []).filter((g) => g.id && g.handle && !g.date_delete).map((g) => [g.handle!.toLowerCase(), g.id!])))
      .catch((err: unknown) => {
        index = null;
        throw toDirectoryError('usergroups.list', err);
      });
    index = { at: now, byHandle };
    return byHandle;
  }

  async function groupId(group: DirectoryGroupRef, opts?: CallOptions): Promise<string | null> {
    if (/^S[A-Z0-9]{2,}$/.test(group.id)) return group.id;
    return (await handles(opts)).get(group.id.toLowerCase()) ?? null;
  }

  /** The member ids of a group, and when Slack said so. */
  async function memberIds(group: DirectoryGroupRef, opts?: CallOptions): Promise<{ ids: Set<string>; at: number }> {
    const id = await groupId(group, opts);
    if (id === null) throw new DirectoryError('unknown', `Slack has no user group @${group.id} (group:${group.name}); check the configuration`);
    const now = o.clock.now().getTime();
    const hit = members.get(id);
    if (hit && now - hit.at < o.maxAgeMs) return { ids: await hit.ids, at: hit.at };
    const ids = o.slack
      .call<UsergroupsUsersResult>('usergroups.users.list', { usergroup: id, include_disabled: false }, opts)
      .then((res) => new Set(res.users ?? []))
      .catch((err: unknown) => {
        members.delete(id);
        if (slackErrorCode(err) === 'no_such_subteam') throw new DirectoryError('unknown', `Slack has no user group ${id} (group:${group.name}); check the configuration`, { cause: err });
        throw toDirectoryError('usergroups.users.list', err);
      });
    members.set(id, { at: now, ids });
    return { ids: await ids, at: now };
  }

  return {
    kind: 'slack',
    label: LABEL,

    async membership(email: string, groups: readonly DirectoryGroupRef[], opts?: CallOptions) {
      const now = o.clock.now();
      if (groups.length === 0) return { groupIds: [], asOf: now };
      let userId: string | null;
      try {
        userId = await o.identity.userIdFor(email);
      } catch (err) {
        throw toDirectoryError('users.lookupByEmail', err);
      }
      if (userId === null) return { groupIds: [], asOf: now };
      const lists = await Promise.all(groups.map(async (g) => ({ g, ...(await memberIds(g, opts)) })));
      const actor = await o.identity.actorFor(userId).catch(() => null);
      return {
        ...(actor?.name ? { name: actor.name } : {}),
        groupIds: lists.filter((l) => l.ids.has(userId!)).map((l) => l.g.id),
        asOf: new Date(Math.min(...lists.map((l) => l.at), now.getTime())),
      };
    },

    async members(group: DirectoryGroupRef, opts?: CallOptions): Promise<DirectoryMember[]> {
      const ids = [...(await memberIds(group, opts)).ids];
      const out: DirectoryMember[] = [];
      // users.info per member, a few at a time: the identity cache keeps the answers for its TTL.
      for (let i = 0; i < ids.length; i += LOOKUP_CONCURRENCY) {
        const actors = await Promise.all(ids.slice(i, i + LOOKUP_CONCURRENCY).map((id) => o.identity.actorFor(id).catch(() => null)));
        for (const a of actors) if (a?.email) out.push({ email: a.email, name: a.name });
      }
      return out;
    },
  };
}
