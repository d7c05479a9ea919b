// Who is talking: the Teams user behind an activity, as the core's Actor. Teams sends only the user
// id, name and Entra object id; the email (the identity that joins platforms and access rules) comes
// from the Bot Connector's member lookup, cached in the store so each person costs one call a day.
import { TeamsInfo, type TurnContext } from 'botbuilder';
import { normalizeEmail } from '../core/email';
import type { Actor } from '../core/types';
import type { Clock } from '../app/ports';
import { ChatError } from '../core/errors';
import { statusOf, toChatError } from './errors';
import type { Logger } from '../app/logger';
import { memberKey, tenantOf, type TeamsDirectory, type TeamsMember, type TeamsPerson } from './directory';

export const MEMBER_TTL_MS = 24 * 60 * 60 * 1000;
/** People Teams would not describe are asked again sooner: they may have just joined. */
export const UNKNOWN_MEMBER_TTL_MS = 60 * 1000;

/** The member answer as the connector sends it; the docs name the Entra id `objectId`, the SDKs `aadObjectId`. */
export interface MemberAnswer {
  id?: string;
  name?: string;
  givenName?: string;
  surname?: string;
  email?: string | null;
  userPrincipalName?: string | null;
  aadObjectId?: string | null;
  objectId?: string | null;
  tenantId?: string;
  userRole?: string;
}

/** A member answer as a TeamsMember. Only `email` counts: a UPN is not always a mailbox, and guessing would mix people up. */
export function memberFromAnswer(answer: MemberAnswer, fallback: { userId: string; name?: string; aadObjectId?: string; tenantId?: string }, now: Date): TeamsMember {
  const anonymous = answer.userRole === 'anonymous';
  const email = anonymous ? null : normalizeEmail(answer.email);
  const aadObjectId = answer.aadObjectId ?? answer.objectId ?? fallback.aadObjectId ?? undefined;
  const name = answer.name ?? ([answer.givenName, answer.surname].filter(Boolean).join(' ') || fallback.name || fallback.userId);
  const tenantId = answer.tenantId ?? fallback.tenantId;
  return {
    userId: answer.id ?? fallback.userId,
    email,
    ...(aadObjectId ? { aadObjectId } : {}),
    name,
    ...(tenantId ? { tenantId } : {}),
    fetchedAt: now.toISOString(),
  };
}

export function actorOfMember(member: TeamsMember, displayName?: string): Actor {
  return {
    platform: 'teams',
    userId: member.userId,
    email: member.email,
    name: displayName || member.name,
    ...(member.aadObjectId ? { aadObjectId: member.aadObjectId } : {}),
  };
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export class TeamsIdentity {
  /**
   * @param emulatorEmails local mode without authentication only: the Bot Framework Emulator has no
   *   member directory, so a user id that is an email address (set in the Emulator's settings) is
   *   taken as that person. Anyone can claim anything there, which is why production never does this.
   */
  constructor(
    private readonly directory: TeamsDirectory,
    private readonly clock: Clock,
    private readonly emulatorEmails = false,
    private readonly log?: Logger,
  ) {}

  private fresh(m: TeamsMember): boolean {
    const age = this.clock.now().getTime() - Date.parse(m.fetchedAt);
    return age >= 0 && age < (m.email ? MEMBER_TTL_MS : UNKNOWN_MEMBER_TTL_MS);
  }

  /**
   * The actor behind the turn. A person Teams will not describe (404/403, anonymous, no email) is an
   * actor with a null email, whom the api refuses everything but help. Throttling and outages throw
   * a retryable ChatError rather than turn a known person into an unknown one.
   */
  async actorOf(ctx: TurnContext): Promise<Actor> {
    const from = ctx.activity.from;
    if (this.emulatorEmails && ctx.activity.channelId === 'emulator' && EMAIL.test(from.id)) {
      return { platform: 'teams', userId: from.id, email: normalizeEmail(from.id), name: from.name || from.id };
    }
    const tenantId = tenantOf(ctx.activity);
    const key = memberKey({ tenantId, aadObjectId: from.aadObjectId, userId: from.id });
    const cached = await this.directory.member(key);
    if (cached && this.fresh(cached)) return actorOfMember(cached, from.name);
    let answer: MemberAnswer;
    try {
      answer = (await TeamsInfo.getMember(ctx, from.id)) as MemberAnswer;
    } catch (err) {
      const status = statusOf(err);
      if (status !== 404 && status !== 403 && status !== 400) {
        if (cached) return actorOfMember(cached, from.name);
        throw err instanceof ChatError ? err : toChatError(err, 'member lookup', this.clock.now());
      }
      answer = {};
    }
    const member = memberFromAnswer(
      answer,
      { userId: from.id, name: from.name, ...(from.aadObjectId ? { aadObjectId: from.aadObjectId } : {}), ...(tenantId ? { tenantId } : {}) },
      this.clock.now(),
    );
    // The answer describes whom we asked about; never let it rename the turn's user or move them to
    // another tenant: those come from the authenticated activity, and so does the cache key.
    member.userId = from.id;
    if (tenantId) member.tenantId = tenantId;
    const opts = { key, ...(ctx.activity.serviceUrl ? { serviceUrl: ctx.activity.serviceUrl } : {}) };
    let saved = await this.directory.saveMember(member, opts);
    if (!saved.saved && (await this.ownerGaveUp(ctx, saved.owner, member.email!))) {
      saved = await this.directory.saveMember(member, { ...opts, replace: true });
    }
    if (!saved.saved) {
      this.log?.warn({ tenant: tenantId ?? null, claimedBy: key }, 'a Teams user claims an email another Teams user holds; treated as unknown');
      return actorOfMember({ ...member, email: null }, from.name);
    }
    return actorOfMember(member, from.name);
  }

  /**
   * True only when a fresh lookup of the email's current owner, in the same tenant, answers with
   * another address (or none): the directory itself says they no longer hold it. Not finding them
   * proves nothing (they may simply not be in this conversation), and another tenant's directory is
   * not asked to speak for this one.
   */
  private async ownerGaveUp(ctx: TurnContext, owner: TeamsPerson, email: string): Promise<boolean> {
    const tenantId = tenantOf(ctx.activity);
    if (!tenantId || !owner.tenantId || owner.tenantId.toLowerCase() !== tenantId.toLowerCase()) return false;
    let answer: MemberAnswer;
    try {
      answer = (await TeamsInfo.getMember(ctx, owner.userId)) as MemberAnswer;
    } catch {
      return false;
    }
    if ((answer.aadObjectId ?? answer.objectId ?? owner.aadObjectId) !== owner.aadObjectId) return false;
    const now = memberFromAnswer(answer, { userId: owner.userId, tenantId }, this.clock.now());
    return now.email !== email;
  }
}
