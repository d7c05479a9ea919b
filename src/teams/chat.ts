// The app's ChatPort for Teams: proactive posts through stored conversation references.
//
// Each call continues a stored conversation (`continueConversationAsync`) and talks to the Bot
// Connector directly, so the HTTP call is exactly the one meant: a new thread is
// `POST /v3/conversations` (channel) or `POST …/activities` (chat), an update is `PUT …/activities/{id}`,
// a thread reply is `POST /v3/conversations/{channel};messageid={root}/activities`. Errors inside the
// continuation would otherwise vanish into `onTurnError`, so they are caught there and rethrown here
// as ChatError; the SDK's own retries are switched off because the app's scheduler retries (and
// honours Retry-After) without holding a worker.
import type { Activity, CloudAdapter, ConversationParameters, ConversationReference, TurnContext } from 'botbuilder';
import type { JitApi } from '../app/api';
import type { ChatCallObserver } from '../app/observer';
import type { Logger } from '../app/logger';
import { errorFields } from '../app/logger';
import type { CallOptions, ChatPort, Clock, MessageRef } from '../app/ports';
import { ChatError } from '../core/errors';
import { clipText } from '../core/text';
import type { Actor, Route } from '../core/types';
import type { Notice, RequestView } from '../core/views';
import { cardBytes, minimalCard, noticeCard, TEAMS_CARD_BUDGET_BYTES, type AdaptiveCardJson } from '../cards/render';
import { cardActivity, requestSummary, type TeamsCards } from './cards';
import { baseConversationId, type StoredConversation, type TeamsDirectory } from './directory';
import { TeamsChatError, toChatError } from './errors';

export const DEFAULT_CALL_TIMEOUT_MS = 15_000;

/** One posted copy of a card. */
export interface TeamsPost {
  conversation: Partial<ConversationReference>;
  activityId: string;
}

/**
 * `MessageRef.data` for Teams: the first posted copy, plus the same card in every other installed
 * channel (`mirrors`), so updates and thread replies reach them all.
 */
export interface TeamsMessageRefData extends TeamsPost {
  mirrors?: TeamsPost[];
  [key: string]: unknown;
}

interface RequestOptions {
  abortSignal?: AbortSignal;
  timeout?: number;
}

/** The slice of botframework-connector's ConnectorClient this port uses. */
export interface ConnectorClientLike {
  conversations: {
    sendToConversation(conversationId: string, activity: Partial<Activity>, options?: RequestOptions): Promise<{ id?: string }>;
    updateActivity(conversationId: string, activityId: string, activity: Partial<Activity>, options?: RequestOptions): Promise<{ id?: string }>;
    createConversation(parameters: ConversationParameters, options?: RequestOptions): Promise<{ id?: string; activityId?: string; serviceUrl?: string }>;
    getConversationMember?(conversationId: string, memberId: string, options?: RequestOptions): Promise<unknown>;
  };
  client?: { pipeline?: { removePolicy(options: { phase?: string; name?: string }): unknown } };
}

/** The connector client of a turn, without the SDK's retry policies (see the file comment). */
export function connectorOf(ctx: TurnContext): ConnectorClientLike {
  const client = ctx.turnState.get(ctx.adapter.ConnectorClientKey) as ConnectorClientLike | undefined;
  if (!client) throw new ChatError('Teams turn has no connector client', { retryable: false });
  client.client?.pipeline?.removePolicy({ phase: 'Retry' });
  return client;
}

export function decodeMessageRef(ref: MessageRef): TeamsPost[] {
  if (ref.platform !== 'teams' || ref.v !== 1) throw new ChatError(`not a Teams message reference (${ref.platform} v${ref.v})`, { retryable: false });
  const data = ref.data as Partial<TeamsMessageRefData>;
  if (!data.conversation?.conversation?.id || typeof data.activityId !== 'string') {
    throw new ChatError('Teams message reference lacks a conversation or activity id', { retryable: false });
  }
  return [{ conversation: data.conversation, activityId: data.activityId }, ...(data.mirrors ?? [])];
}

export function encodeMessageRef(posts: TeamsPost[]): MessageRef {
  const [first, ...mirrors] = posts;
  const data: TeamsMessageRefData = { conversation: first.conversation, activityId: first.activityId };
  if (mirrors.length) data.mirrors = mirrors;
  return { platform: 'teams', v: 1, data };
}

function threadId(post: TeamsPost): string {
  const base = baseConversationId(post.conversation.conversation!.id);
  return post.conversation.conversation?.conversationType === 'channel' ? `${base};messageid=${post.activityId}` : base;
}

/**
 * Teams refuses a message over ~100 KB (413) and a card it cannot take (400). Waiting will not change
 * its answer, so the message goes again at once in its minimal form.
 */
export function refusedAsBuilt(err: unknown): boolean {
  return err instanceof TeamsChatError && (err.status === 413 || err.status === 400);
}

/** A message in its full form, unless that is over budget, and the minimal form to fall back on. */
export interface Outgoing {
  full: Partial<Activity>;
  minimal: Partial<Activity>;
}

function outgoing(card: AdaptiveCardJson, summary: string, minimal: { title: string; text: string }): Outgoing {
  const small = cardActivity(minimalCard(minimal.title, minimal.text), summary);
  return { full: cardBytes(card) > TEAMS_CARD_BUDGET_BYTES ? small : cardActivity(card, summary), minimal: small };
}

function requestOptions(opts?: CallOptions): RequestOptions {
  return { timeout: opts?.timeoutInMs ?? DEFAULT_CALL_TIMEOUT_MS, ...(opts?.abortSignal ? { abortSignal: opts.abortSignal } : {}) };
}

function cardMinimal(view: RequestView): { title: string; text: string } {
  return { title: `JIT access request ${view.id}`, text: requestSummary(view) };
}

function noticeMinimal(notice: Notice): { title: string; text: string } {
  return { title: `JIT access ${notice.requestId}`, text: notice.text };
}

/** What notifications and the chat list show; Teams keeps it short. */
function noticeSummary(notice: Notice): string {
  return clipText(notice.text, 500);
}

export interface TeamsChatOptions {
  adapter: CloudAdapter;
  /** Empty only in no-auth local mode. */
  appId: string;
  api: JitApi;
  directory: TeamsDirectory;
  cards: TeamsCards;
  clock: Clock;
  logger: Logger;
  /** Told of every 429 and every failed connector call. */
  observer?: ChatCallObserver;
}

export class TeamsChat implements ChatPort {
  readonly platform = 'teams' as const;

  constructor(private readonly o: TeamsChatOptions) {}

  /** Run one connector call inside a continued conversation; its failure comes back as ChatError. */
  private async call<T>(ref: Partial<ConversationReference>, operation: string, fn: (client: ConnectorClientLike) => Promise<T>): Promise<T> {
    let result: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    try {
      await this.o.adapter.continueConversationAsync(this.o.appId, ref, async (ctx) => {
        try {
          result = { ok: true, value: await fn(connectorOf(ctx)) };
        } catch (error) {
          result = { ok: false, error };
        }
      });
    } catch (error) {
      result = { ok: false, error };
    }
    if (!result) throw new ChatError(`Teams ${operation} did not run`, { retryable: true });
    if (!result.ok) {
      const failure = toChatError(result.error, operation, this.o.clock.now());
      if (failure instanceof TeamsChatError && failure.status === 429) this.o.observer?.chatRateLimited('teams');
      this.o.observer?.chatFailed('teams', failure.retryable);
      throw failure;
    }
    return result.value;
  }

  /** `send` with the full form; when Teams refuses it as built, once more with the minimal form. */
  private async withFallback<T>(out: Outgoing, send: (activity: Partial<Activity>) => Promise<T>, what: string): Promise<T> {
    try {
      return await send(out.full);
    } catch (err) {
      if (!refusedAsBuilt(err) || out.full === out.minimal) throw err;
      this.o.logger.warn({ what, ...errorFields(err) }, 'Teams refused a message as built; sending its minimal form');
      return send(out.minimal);
    }
  }

  /** Start a new thread in a channel, or post into a chat; the new root activity's id. */
  private async postRoot(target: StoredConversation, activity: Partial<Activity>, opts?: CallOptions): Promise<TeamsPost> {
    const conversation = { ...target.ref };
    const id = baseConversationId(conversation.conversation!.id);
    if (target.kind !== 'channel') {
      const sent = await this.call(conversation, 'post', (c) => c.conversations.sendToConversation(id, activity, requestOptions(opts)));
      if (!sent.id) throw new ChatError('Teams post returned no activity id', { retryable: false });
      return { conversation, activityId: sent.id };
    }
    const params = {
      isGroup: true,
      bot: conversation.bot,
      channelData: { channel: { id }, ...(target.tenantId ? { tenant: { id: target.tenantId } } : {}) },
      activity,
      ...(target.tenantId ? { tenantId: target.tenantId } : {}),
    } as ConversationParameters;
    const created = await this.call(conversation, 'post', (c) => c.conversations.createConversation(params, requestOptions(opts)));
    const activityId = created.activityId ?? /;messageid=(.+)$/.exec(created.id ?? '')?.[1];
    if (!activityId) throw new ChatError('Teams post returned no activity id', { retryable: false });
    return { conversation, activityId };
  }

  /**
   * `route.teams` is `installed` (every team channel the bot was installed in) or a stored channel
   * key. Several channels each get the card; the ref names the first and mirrors the rest. Some
   * failing is logged and tolerated, all failing throws (so the job retries), no channel at all is
   * null (nothing to wait for on Teams).
   */
  async postCard(route: Route, view: RequestView, opts?: CallOptions): Promise<MessageRef | null> {
    if (!route.teams) return null;
    const targets = route.teams === 'installed' ? await this.o.directory.installedChannels() : [await this.o.directory.channel(route.teams)].filter((c): c is StoredConversation => c !== null);
    if (targets.length === 0) {
      this.o.logger.info({ requestId: view.id, route: route.teams }, 'no Teams channel to post the approval card in; install the app in a team');
      return null;
    }
    const out = outgoing(await this.o.cards.sharedCard(view), requestSummary(view), cardMinimal(view));
    const posts: TeamsPost[] = [];
    const failures: ChatError[] = [];
    for (const target of targets) {
      try {
        posts.push(await this.withFallback(out, (activity) => this.postRoot(target, activity, opts), 'approval card'));
      } catch (err) {
        const e = toChatError(err, 'post');
        failures.push(e);
        this.o.logger.warn({ requestId: view.id, conversation: target.ref.conversation?.id, ...errorFields(e) }, 'approval card not posted in a Teams channel');
      }
    }
    if (posts.length === 0) throw failures.find((f) => f.retryable) ?? failures[0];
    return encodeMessageRef(posts);
  }

  async updateCard(ref: MessageRef, view: RequestView, opts?: CallOptions): Promise<void> {
    const out = outgoing(await this.o.cards.sharedCard(view), requestSummary(view), cardMinimal(view));
    await this.updateAll(decodeMessageRef(ref), out, 'card update', opts);
  }

  async replyInThread(ref: MessageRef, notice: Notice, opts?: CallOptions): Promise<MessageRef | null> {
    const posts = decodeMessageRef(ref);
    const out = outgoing(noticeCard(notice, { teamsMention: true, teamsPeople: await this.mentionsOf(notice) }), noticeSummary(notice), noticeMinimal(notice));
    const errors: ChatError[] = [];
    const replies: TeamsPost[] = [];
    for (const post of posts) {
      try {
        const thread = threadId(post);
        const sent = await this.withFallback(
          out,
          (activity) => this.call(post.conversation, 'thread reply', (c) => c.conversations.sendToConversation(thread, activity, requestOptions(opts))),
          'thread reply',
        );
        // The reply lives in the thread's conversation; that is where it is redrawn.
        if (sent.id) replies.push({ conversation: { ...post.conversation, conversation: { ...post.conversation.conversation!, id: thread } }, activityId: sent.id });
      } catch (err) {
        errors.push(err as ChatError);
      }
    }
    if (errors.length === posts.length) throw errors.find((e) => e.retryable) ?? errors[0];
    for (const e of errors) this.o.logger.warn({ requestId: notice.requestId, ...errorFields(e) }, 'thread reply missed one Teams channel');
    return replies.length > 0 ? encodeMessageRef(replies) : null;
  }

  /** The notice's people known only by email, as Teams mentions where the bot has met them. */
  private async mentionsOf(notice: Notice): Promise<Array<{ name: string; userId: string }>> {
    const found: Array<{ name: string; userId: string }> = [];
    for (const p of notice.mentionEmails ?? []) {
      const known = await this.o.directory.personByEmail(p.email);
      if (known) found.push({ name: p.name, userId: known.userId });
    }
    return found;
  }

  /**
   * A 1:1 message: through the person's chat with the bot, else by opening one (Teams allows that
   * when the app is installed for them or in a team they belong to). False when Teams has no way to
   * reach them: never met, not installed, or blocked.
   */
  async notifyPerson(person: Actor, notice: Notice, opts?: CallOptions): Promise<boolean> {
    return (await this.messagePerson(person, notice, opts)) !== null;
  }

  async messagePerson(person: Actor, notice: Notice, opts?: CallOptions): Promise<MessageRef | null> {
    const post = await this.postToPerson(person, outgoing(noticeCard(notice), noticeSummary(notice), noticeMinimal(notice)), { ...opts, requestId: notice.requestId });
    return post ? encodeMessageRef([post]) : null;
  }

  async updateNotice(ref: MessageRef, notice: Notice, opts?: CallOptions): Promise<void> {
    await this.updateAll(decodeMessageRef(ref), outgoing(noticeCard(notice), noticeSummary(notice), noticeMinimal(notice)), 'notice update', opts);
  }

  /** Teams keeps the requester's copy in the answer to their command (JitApi.keepCopy), not in a second message. */
  async postCopy(): Promise<MessageRef | null> {
    return null;
  }

  async updateCopy(ref: MessageRef, view: RequestView, opts?: CallOptions): Promise<void> {
    const requester: Actor = { platform: view.requester.platform, userId: view.requester.userId, email: view.requester.email, name: view.requester.name };
    const card = await this.o.cards.cardFor(requester, view);
    await this.updateAll(decodeMessageRef(ref), outgoing(card, requestSummary(view), cardMinimal(view)), 'copy update', opts);
  }

  /**
   * Redraw each posted message (a channel card is addressed by its channel's base id, without
   * `;messageid=`); one that will not take it fails the whole call, so the job retries.
   */
  private async updateAll(posts: TeamsPost[], out: Outgoing, what: string, opts?: CallOptions): Promise<void> {
    const errors: ChatError[] = [];
    for (const post of posts) {
      try {
        await this.withFallback(
          out,
          (activity) =>
            this.call(post.conversation, 'update', (c) =>
              c.conversations.updateActivity(baseConversationId(post.conversation.conversation!.id), post.activityId, { ...activity, id: post.activityId }, requestOptions(opts)),
            ),
          what,
        );
      } catch (err) {
        errors.push(err as ChatError);
      }
    }
    if (errors.length) throw errors.find((e) => e.retryable) ?? errors[0];
  }

  /** Any activity to a person's 1:1 chat with the bot (opened when needed); false when Teams cannot reach them. */
  async sendToPerson(person: Actor, message: Partial<Activity> | Outgoing, opts?: CallOptions & { requestId?: string }): Promise<boolean> {
    // A bare activity has no smaller form to fall back to; a notice brings its own.
    const out: Outgoing = 'full' in message && 'minimal' in message ? (message as Outgoing) : { full: message as Partial<Activity>, minimal: message as Partial<Activity> };
    return (await this.postToPerson(person, out, opts)) !== null;
  }

  /** The message's place in the person's 1:1 chat; null when Teams cannot reach them. */
  private async postToPerson(person: Actor, out: Outgoing, opts?: CallOptions & { requestId?: string }): Promise<TeamsPost | null> {
    const known = person.email ? await this.o.directory.personByEmail(person.email) : null;
    // Someone known only by email (an escalation target) has no user id until the bot has met them.
    const userId = person.platform === 'teams' && person.userId ? person.userId : known?.userId;
    const aadObjectId = person.aadObjectId ?? known?.aadObjectId;
    let target = await this.o.directory.personalConversation({ ...(aadObjectId ? { aadObjectId } : {}), ...(userId ? { userId } : {}) });
    try {
      if (!target) {
        if (!userId) return null;
        target = await this.openPersonal(userId, aadObjectId, known?.tenantId, opts);
        if (!target) return null;
      }
      const conversationId = target.ref.conversation!.id;
      const ref = target.ref;
      const sent = await this.withFallback(out, (activity) => this.call(ref, 'direct message', (c) => c.conversations.sendToConversation(conversationId, activity, requestOptions(opts))), 'direct message');
      if (!sent.id) throw new ChatError('Teams direct message returned no activity id', { retryable: false });
      return { conversation: ref, activityId: sent.id };
    } catch (err) {
      if (err instanceof TeamsChatError && (err.status === 403 || err.status === 404)) {
        this.o.logger.info({ requestId: opts?.requestId ?? null, ...errorFields(err) }, 'Teams cannot reach this person directly');
        return null;
      }
      throw err;
    }
  }

  private async openPersonal(userId: string, aadObjectId: string | undefined, tenantId: string | undefined, opts?: CallOptions): Promise<StoredConversation | null> {
    const base = await this.o.directory.anyReference(tenantId);
    if (!base?.ref.serviceUrl || !base.ref.bot) return null;
    const tenant = tenantId ?? base.tenantId;
    const params = {
      isGroup: false,
      bot: base.ref.bot,
      members: [{ id: userId, name: '' }],
      ...(tenant ? { tenantId: tenant, channelData: { tenant: { id: tenant } } } : {}),
    } as ConversationParameters;
    let created: { id?: string };
    try {
      created = await this.call(base.ref, 'open 1:1 chat', (c) => c.conversations.createConversation(params, requestOptions(opts)));
    } catch (err) {
      if (err instanceof TeamsChatError && (err.status === 403 || err.status === 404 || err.status === 400)) {
        this.o.logger.info({ code: err.connectorCode, ...errorFields(err) }, 'Teams would not open a 1:1 chat');
        return null;
      }
      throw err;
    }
    if (!created.id) return null;
    const now = this.o.clock.now().toISOString();
    const conversation: StoredConversation = {
      kind: 'personal',
      ref: {
        channelId: base.ref.channelId ?? 'msteams',
        serviceUrl: base.ref.serviceUrl,
        bot: base.ref.bot,
        user: { id: userId, name: '', ...(aadObjectId ? { aadObjectId } : {}) },
        conversation: { id: created.id, conversationType: 'personal', isGroup: false, name: '', ...(tenant ? { tenantId: tenant } : {}) },
      },
      installed: true,
      ...(tenant ? { tenantId: tenant } : {}),
      installedAt: now,
      updatedAt: now,
    };
    await this.o.directory.savePersonal(userId, aadObjectId, conversation);
    return conversation;
  }
}
