// What the Teams adapter remembers between turns, in the store's small key-value space: where the
// bot was installed (conversation references for proactive posts) and who the Teams users are
// (member lookups, and the email → Teams user index that card refresh and direct messages need).
// References are refreshed from every inbound activity, because Teams may move a tenant to another
// `serviceUrl` and an old one then fails with 404.
import { TurnContext, type Activity, type ConversationReference } from 'botbuilder';
import type { Clock, Store } from '../app/ports';

export const KV = {
  /** key: conversation id (a channel id without `;messageid=`, a group chat or 1:1 id). */
  conversations: 'teams.conversations',
  /** key: `aad:<objectId>` or `user:<29:…>` → the id of that person's 1:1 conversation with the bot. */
  personal: 'teams.personal',
  /** key: memberKey (tenant + Entra object id, else the Teams user id) → the member lookup, cached. */
  members: 'teams.members',
  /** key: lower-cased email → the Teams user it belongs to. */
  people: 'teams.people',
} as const;

export type ConversationKind = 'channel' | 'personal' | 'groupChat';

export interface StoredConversation {
  kind: ConversationKind;
  /** Enough to continue the conversation: serviceUrl, bot, conversation (base id), channelId, user. */
  ref: Partial<ConversationReference>;
  /** False once the bot was removed; kept so an old reference is recognisable. */
  installed: boolean;
  teamId?: string;
  teamName?: string;
  tenantId?: string;
  installedAt: string;
  updatedAt: string;
}

export interface TeamsMember {
  userId: string;
  /** Lower-cased; null for guests, anonymous users, and people Teams would not describe. */
  email: string | null;
  aadObjectId?: string;
  name: string;
  tenantId?: string;
  fetchedAt: string;
}

export interface TeamsPerson {
  userId: string;
  aadObjectId?: string;
  name: string;
  tenantId?: string;
  serviceUrl?: string;
}

/**
 * Who a Teams user is, for the member cache: the tenant and Entra object id, which no other
 * organisation can claim; the Teams user id only where there is no Entra id (the Emulator).
 */
export function memberKey(who: { tenantId?: string | undefined; aadObjectId?: string | undefined; userId: string }): string {
  return who.tenantId && who.aadObjectId ? `aad:${who.tenantId.toLowerCase()}:${who.aadObjectId.toLowerCase()}` : `user:${who.userId}`;
}

/**
 * Whether an email index entry and a member are the same person: the same Teams user id (Teams
 * stamps it on every activity; nobody picks their own), or the same tenant and Entra object.
 */
export function samePerson(a: TeamsPerson, b: Pick<TeamsMember, 'userId' | 'aadObjectId' | 'tenantId'>): boolean {
  return a.userId === b.userId || memberKey(a) === memberKey(b);
}

/** A channel's or chat's own id: Teams appends `;messageid=<root>` inside a thread. */
export function baseConversationId(id: string): string {
  const i = id.indexOf(';messageid=');
  return i < 0 ? id : id.slice(0, i);
}

export function tenantOf(activity: Partial<Activity>): string | undefined {
  return activity.conversation?.tenantId ?? (activity.channelData as { tenant?: { id?: string } } | undefined)?.tenant?.id;
}

interface TeamsChannelData {
  team?: { id?: string; name?: string };
  channel?: { id?: string };
  settings?: { selectedChannel?: { id?: string } };
  eventType?: string;
}

function channelDataOf(activity: Partial<Activity>): TeamsChannelData {
  const cd = activity.channelData;
  return cd && typeof cd === 'object' ? (cd as TeamsChannelData) : {};
}

export function kindOf(activity: Partial<Activity>): ConversationKind {
  const type = activity.conversation?.conversationType;
  if (type === 'channel' || channelDataOf(activity).team?.id) return 'channel';
  if (type === 'groupChat' || activity.conversation?.isGroup) return 'groupChat';
  return 'personal';
}

/** A reference for proactive use, pointing at the conversation itself rather than one message in it. */
export function referenceFor(activity: Partial<Activity>, conversationId?: string): Partial<ConversationReference> {
  const ref = TurnContext.getConversationReference(activity);
  const tenantId = tenantOf(activity);
  const id = conversationId ?? baseConversationId(activity.conversation?.id ?? '');
  const conversation = { ...ref.conversation, id } as ConversationReference['conversation'];
  if (tenantId) conversation.tenantId = tenantId;
  const out: Partial<ConversationReference> = { ...ref, conversation };
  delete out.activityId;
  return out;
}

export class TeamsDirectory {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  private now(): string {
    return this.clock.now().toISOString();
  }

  /**
   * The bot was added to a team, a group chat or a 1:1 chat. In a team, cards go to the channel the
   * installing person picked (`settings.selectedChannel`), else the channel of the event, else the
   * team's General channel (whose id is the team id). True when this is news.
   */
  async recordInstall(activity: Partial<Activity>): Promise<{ conversation: StoredConversation; isNew: boolean }> {
    const kind = kindOf(activity);
    const cd = channelDataOf(activity);
    const id =
      kind === 'channel'
        ? cd.settings?.selectedChannel?.id ?? cd.channel?.id ?? cd.team?.id ?? baseConversationId(activity.conversation?.id ?? '')
        : baseConversationId(activity.conversation?.id ?? '');
    const ref = referenceFor(activity, id);
    if (kind === 'channel' && ref.conversation) {
      ref.conversation.conversationType = 'channel';
      ref.conversation.isGroup = true;
    }
    const existing = await this.store.getValue<StoredConversation>(KV.conversations, id);
    const now = this.now();
    const conversation: StoredConversation = {
      kind,
      ref,
      installed: true,
      ...(cd.team?.id ? { teamId: cd.team.id } : {}),
      ...(cd.team?.name ? { teamName: cd.team.name } : existing?.teamName ? { teamName: existing.teamName } : {}),
      ...(tenantOf(activity) ? { tenantId: tenantOf(activity) } : {}),
      installedAt: existing?.installed ? existing.installedAt : now,
      updatedAt: now,
    };
    await this.store.setValue(KV.conversations, id, conversation);
    if (kind === 'personal') await this.indexPersonal(activity, id);
    return { conversation, isNew: !existing?.installed };
  }

  /** The bot was removed: from a team, every channel of it stops receiving cards. */
  async recordRemoval(activity: Partial<Activity>): Promise<void> {
    const teamId = channelDataOf(activity).team?.id;
    const own = baseConversationId(activity.conversation?.id ?? '');
    for (const { key, value } of await this.store.listValues<StoredConversation>(KV.conversations)) {
      if (!value.installed) continue;
      if (key === own || (teamId && value.teamId === teamId)) {
        await this.store.setValue(KV.conversations, key, { ...value, installed: false, updatedAt: this.now() });
      }
    }
  }

  /**
   * Any inbound activity: keep the stored reference's serviceUrl current, and remember 1:1 chats
   * (a person writing to the bot directly is as good as an install for direct messages).
   */
  async touch(activity: Partial<Activity>): Promise<void> {
    const id = baseConversationId(activity.conversation?.id ?? '');
    if (!id || !activity.serviceUrl) return;
    const existing = await this.store.getValue<StoredConversation>(KV.conversations, id);
    if (existing) {
      if (existing.ref.serviceUrl !== activity.serviceUrl) {
        await this.store.setValue(KV.conversations, id, { ...existing, ref: { ...existing.ref, serviceUrl: activity.serviceUrl }, updatedAt: this.now() });
      }
      return;
    }
    if (kindOf(activity) === 'personal') await this.recordInstall(activity);
  }

  private async indexPersonal(activity: Partial<Activity>, conversationId: string): Promise<void> {
    const user = activity.from;
    if (!user?.id) return;
    await this.store.setValue(KV.personal, `user:${user.id}`, conversationId);
    if (user.aadObjectId) await this.store.setValue(KV.personal, `aad:${user.aadObjectId}`, conversationId);
  }

  /** Installed team channels, oldest install first. */
  async installedChannels(): Promise<StoredConversation[]> {
    const all = await this.store.listValues<StoredConversation>(KV.conversations);
    return all
      .map((e) => e.value)
      .filter((c) => c.kind === 'channel' && c.installed)
      .sort((a, b) => a.installedAt.localeCompare(b.installedAt));
  }

  /** A channel named by an access rule's `route.teams`: a channel id, or a team's name or id (its installed channel). */
  async channel(key: string): Promise<StoredConversation | null> {
    const direct = await this.store.getValue<StoredConversation>(KV.conversations, key);
    if (direct?.installed && direct.kind === 'channel') return direct;
    const byTeam = (await this.installedChannels()).filter((c) => c.teamName === key || c.teamId === key);
    return byTeam[0] ?? null;
  }

  async conversation(id: string): Promise<StoredConversation | null> {
    const c = await this.store.getValue<StoredConversation>(KV.conversations, baseConversationId(id));
    return c?.installed ? c : null;
  }

  /** The person's 1:1 conversation with the bot, by Entra object id or Teams user id. */
  async personalConversation(who: { aadObjectId?: string; userId?: string }): Promise<StoredConversation | null> {
    const keys = [who.aadObjectId ? `aad:${who.aadObjectId}` : null, who.userId ? `user:${who.userId}` : null].filter((k): k is string => k !== null);
    for (const k of keys) {
      const id = await this.store.getValue<string>(KV.personal, k);
      if (!id) continue;
      const c = await this.conversation(id);
      if (c) return c;
    }
    return null;
  }

  async savePersonal(userId: string, aadObjectId: string | undefined, conversation: StoredConversation): Promise<void> {
    const id = conversation.ref.conversation?.id;
    if (!id) return;
    await this.store.setValue(KV.conversations, id, conversation);
    await this.store.setValue(KV.personal, `user:${userId}`, id);
    if (aadObjectId) await this.store.setValue(KV.personal, `aad:${aadObjectId}`, id);
  }

  async member(key: string): Promise<TeamsMember | null> {
    return this.store.getValue<TeamsMember>(KV.members, key);
  }

  /**
   * Remember a member lookup, and index its email to this Teams user. An email already indexed to
   * someone else is not moved (`{ saved: false, owner }`) unless `replace` says a fresh lookup proved
   * the previous owner no longer has it; the member is then remembered without the email.
   */
  async saveMember(member: TeamsMember, opts: { key?: string; serviceUrl?: string; replace?: boolean } = {}): Promise<{ saved: true } | { saved: false; owner: TeamsPerson }> {
    const key = opts.key ?? memberKey(member);
    if (member.email) {
      const owner = await this.store.getValue<TeamsPerson>(KV.people, member.email);
      if (owner && !samePerson(owner, member) && !opts.replace) {
        await this.store.setValue(KV.members, key, { ...member, email: null });
        return { saved: false, owner };
      }
    }
    await this.store.setValue(KV.members, key, member);
    if (!member.email) return { saved: true };
    const person: TeamsPerson = {
      userId: member.userId,
      name: member.name,
      ...(member.aadObjectId ? { aadObjectId: member.aadObjectId } : {}),
      ...(member.tenantId ? { tenantId: member.tenantId } : {}),
      ...(opts.serviceUrl ? { serviceUrl: opts.serviceUrl } : {}),
    };
    await this.store.setValue(KV.people, member.email, person);
    return { saved: true };
  }

  async personByEmail(email: string): Promise<TeamsPerson | null> {
    return this.store.getValue<TeamsPerson>(KV.people, email.toLowerCase());
  }

  /** Any stored reference's serviceUrl and tenant, for starting a 1:1 conversation from scratch. */
  async anyReference(tenantId?: string): Promise<StoredConversation | null> {
    const all = (await this.store.listValues<StoredConversation>(KV.conversations)).map((e) => e.value).filter((c) => c.installed);
    return all.find((c) => !tenantId || c.tenantId === tenantId) ?? null;
  }
}
