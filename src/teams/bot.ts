// Inbound Teams: messages carrying `jit …` words, card clicks (`Action.Execute` invokes, with an
// `Action.Submit` fallback), and installs. Every decision is the api's; this turns Teams activities
// into api calls and api answers into cards.
import { ActivityTypes, TeamsActivityHandler, TurnContext, type Activity, type AdaptiveCardInvokeResponse, type AdaptiveCardInvokeValue, type ConversationParameters, type InvokeResponse } from 'botbuilder';
import type { JitApi } from '../app/api';
import type { Logger } from '../app/logger';
import { errorFields } from '../app/logger';
import { ChatError, isJitError } from '../core/errors';
import type { Actor } from '../core/types';
import type { Notice, Reply, Verb } from '../core/views';
import { actionVerb, cardBytes, formCard, formInputFrom, minimalCard, replyCard, TEAMS_CARD_BUDGET_BYTES, type AdaptiveCardJson, type CardVerb } from '../cards/render';
import { escapeCardMarkdown } from '../cards/markdown';
import { clipText } from '../core/text';
import { ADAPTIVE_CARD_CONTENT_TYPE, cardActivity, type TeamsCards } from './cards';
import { connectorOf, encodeMessageRef } from './chat';
import { baseConversationId, kindOf, tenantOf, type TeamsDirectory } from './directory';
import type { TeamsIdentity } from './identity';
import { MAX_COMMAND_LENGTH } from '../core/grammar';
import { commandText, isForTheBot, MAX_MESSAGE_LENGTH } from './text';

const LOOKUP_FAILED = 'I could not look you up in Teams just now. Please try again in a moment.';
const REQUEST_VERBS: readonly Verb[] = ['approve', 'deny', 'extend', 'release', 'cancel'];

export interface JitTeamsBotOptions {
  api: JitApi;
  directory: TeamsDirectory;
  identity: TeamsIdentity;
  cards: TeamsCards;
  logger: Logger;
  /** The Entra tenants served; when not empty, activities from any other tenant are refused. */
  tenants: string[];
  /** Sends to the person's 1:1 chat with the bot; false when Teams cannot reach them. */
  personal(actor: Actor, activity: Partial<Activity>): Promise<boolean>;
}

/**
 * Teams activity ids are only unique within a conversation (channel message ids are timestamps), so
 * the conversation is part of the key the api dedupes re-sent activities on.
 */
export function idempotencyKey(ctx: TurnContext): string {
  return `teams:${baseConversationId(ctx.activity.conversation?.id ?? '')}:${ctx.activity.id ?? ''}`;
}

function cardResponse(card: AdaptiveCardJson): AdaptiveCardInvokeResponse {
  return { statusCode: 200, type: ADAPTIVE_CARD_CONTENT_TYPE, value: card };
}

function errorResponse(statusCode: number, code: string, message: string): AdaptiveCardInvokeResponse {
  return { statusCode, type: 'application/vnd.microsoft.error', value: { code, message } as unknown as AdaptiveCardInvokeResponse['value'] };
}

/** What someone outside a request sees instead of it: its id and, after a click, the refusal. */
function strangerCard(requestId: string, refusal?: string): AdaptiveCardJson {
  const text = `You are not part of request ${requestId}.${refusal ? ` ${refusal}` : ''}`;
  return replyCard({ kind: 'error', message: text });
}

function replySummary(reply: Reply): string {
  switch (reply.kind) {
    case 'text':
    case 'submitted':
    case 'audit':
    case 'address-link':
      return reply.text;
    case 'error':
      return reply.message;
    case 'help':
      return 'jit commands';
    case 'status':
      return 'Your JIT requests';
    case 'vms':
      return 'VMs you may request';
    case 'policy':
      return `JIT policy of ${reply.vm.name}`;
    case 'form':
      return 'Request JIT access';
    case 'whois':
      return `Who is ${reply.whois.email}`;
  }
}

/** The card's inputs that go with a verb: the deny reason, the chosen extension. Inputs arrive merged into `data`. */
function cardInputs(verb: CardVerb, data: Record<string, unknown>): { reason?: string; durationMinutes?: number } {
  if (verb === 'deny' && typeof data.denyReason === 'string' && data.denyReason.trim()) return { reason: data.denyReason.slice(0, 500) };
  if (verb === 'extend') {
    const minutes = Number(data.extendMinutes);
    if (Number.isInteger(minutes) && minutes > 0 && minutes <= 1440) return { durationMinutes: minutes };
  }
  return {};
}

export class JitTeamsBot extends TeamsActivityHandler {
  constructor(private readonly o: JitTeamsBotOptions) {
    super();
    this.onMessage(async (ctx, next) => {
      await this.handleMessage(ctx);
      await next();
    });
    this.onMembersAdded(async (ctx, next) => {
      if ((ctx.activity.membersAdded ?? []).some((m) => m.id === ctx.activity.recipient.id)) await this.handleInstall(ctx);
      await next();
    });
    this.onInstallationUpdateAdd(async (ctx, next) => {
      await this.handleInstall(ctx);
      await next();
    });
    this.onMembersRemoved(async (ctx, next) => {
      if ((ctx.activity.membersRemoved ?? []).some((m) => m.id === ctx.activity.recipient.id)) await this.o.directory.recordRemoval(ctx.activity);
      await next();
    });
    this.onInstallationUpdateRemove(async (ctx, next) => {
      await this.o.directory.recordRemoval(ctx.activity);
      await next();
    });
  }

  override async run(ctx: TurnContext): Promise<void> {
    // A turn answers within seconds or Teams re-sends it; SDK retries with back-off would outlast that.
    if (ctx.turnState.get(ctx.adapter.ConnectorClientKey)) connectorOf(ctx);
    const tenant = tenantOf(ctx.activity)?.toLowerCase();
    if (this.o.tenants.length > 0 && !(tenant && this.o.tenants.some((t) => t.toLowerCase() === tenant))) {
      this.o.logger.warn({ tenant: tenant ?? null, type: ctx.activity.type }, 'Teams activity from another tenant refused');
      if (ctx.activity.type === ActivityTypes.Invoke) {
        await ctx.sendActivity({ type: ActivityTypes.InvokeResponse, value: { status: 200, body: errorResponse(403, 'Forbidden', 'This bot serves another organisation.') } });
      }
      return;
    }
    await super.run(ctx);
  }

  private async handleInstall(ctx: TurnContext): Promise<void> {
    const { conversation, isNew } = await this.o.directory.recordInstall(ctx.activity);
    this.o.logger.info({ kind: conversation.kind, conversation: conversation.ref.conversation?.id, team: conversation.teamName ?? null, isNew }, 'Teams app installed');
    if (!isNew) return;
    if (kindOf(ctx.activity) === 'personal') {
      // Learn who this is now, so direct messages and card refreshes can find them later.
      await this.o.identity.actorOf(ctx).catch((err) => this.o.logger.warn(errorFields(err), 'member lookup on install failed'));
    }
    if (conversation.kind !== 'channel') {
      await ctx.sendActivity({ type: 'message', textFormat: 'markdown', text: 'jitbot is here. Send `jit help` to see how to ask for just-in-time access to VM management ports.' });
      return;
    }
    // The install event arrives in the team's General channel; the welcome goes where the cards will.
    const welcome = {
      type: 'message',
      textFormat: 'markdown',
      text: 'jitbot is here. Approval cards for just-in-time VM access will be posted in this channel. Mention me with `jit help` to see what I can do.',
    };
    await connectorOf(ctx).conversations.createConversation({
      isGroup: true,
      bot: ctx.activity.recipient,
      channelData: { channel: { id: conversation.ref.conversation!.id }, ...(conversation.tenantId ? { tenant: { id: conversation.tenantId } } : {}) },
      activity: welcome,
      ...(conversation.tenantId ? { tenantId: conversation.tenantId } : {}),
    } as ConversationParameters);
  }

  /**
   * The `from me` link is the requester's alone; outside a personal chat it goes to them in one, and
   * the channel hears only that it did.
   */
  private async privately(ctx: TurnContext, actor: Actor, reply: Reply): Promise<Reply> {
    if (reply.kind !== 'address-link' || kindOf(ctx.activity) === 'personal') return reply;
    const sent = await this.o.personal(actor, cardActivity(replyCard(reply), replySummary(reply))).catch((err: unknown) => {
      this.o.logger.warn(errorFields(err), 'could not send the from-me link personally');
      return false;
    });
    return sent
      ? { kind: 'text', text: `${reply.request.id}: I sent you the link that records your address in a personal chat with me.` }
      : { kind: 'error', message: `${reply.request.id}: I could not reach you in a personal chat to send the link; open a chat with me and send the request there, or cancel it with /jit cancel ${reply.request.id} and ask with from <address>.` };
  }

  /** A card as the answer; one over Teams' size budget goes as its minimal form instead of a 413. */
  private async sendCard(ctx: TurnContext, card: AdaptiveCardJson, summary: string): Promise<string | undefined> {
    const short = clipText(summary, 500);
    const fits = cardBytes(card) <= TEAMS_CARD_BUDGET_BYTES;
    const sent = await ctx.sendActivity(cardActivity(fits ? card : minimalCard('jitbot', `${short} The full answer is too long for Teams; narrow it down, e.g. jit vms web-.`), short));
    return sent?.id;
  }

  /**
   * The answer to a new request is the requester's copy: the app redraws it on every transition, so
   * it never goes on saying "waiting for approval" once the ports are open. A failure here costs
   * only the redraws, never the request.
   */
  private async keepCopy(ctx: TurnContext, actor: Actor, requestId: string, activityId: string | undefined, drawnVersion?: number): Promise<void> {
    if (!activityId) return;
    const conversation = TurnContext.getConversationReference(ctx.activity);
    await this.o.api.keepCopy(actor, requestId, encodeMessageRef([{ conversation, activityId }]), drawnVersion === undefined ? {} : { drawnVersion }).catch((err: unknown) => {
      this.o.logger.warn({ requestId, ...errorFields(err) }, 'could not keep the answer as the requester\'s copy');
    });
  }

  private async handleMessage(ctx: TurnContext): Promise<void> {
    await this.o.directory.touch(ctx.activity);
    const value = ctx.activity.value as Record<string, unknown> | undefined;
    const verb = value && typeof value === 'object' ? actionVerb({ data: value }) : null;
    if (verb) return this.handleSubmit(ctx, verb, value!);
    const raw = ctx.activity.text;
    if (typeof raw === 'string' && raw.length > MAX_MESSAGE_LENGTH) {
      // Not read at all: answered where the message was for the bot, ignored where it was not.
      if (isForTheBot(ctx.activity)) {
        await ctx.sendActivity(`That message is ${raw.length.toLocaleString('en-US')} characters long; jitbot reads commands of up to ${MAX_COMMAND_LENGTH.toLocaleString('en-US')} characters.`);
      }
      return;
    }
    const text = commandText(ctx.activity);
    if (text === null) return;
    let actor: Actor;
    try {
      actor = await this.o.identity.actorOf(ctx);
    } catch (err) {
      this.o.logger.warn(errorFields(err), 'member lookup failed');
      await ctx.sendActivity(LOOKUP_FAILED);
      return;
    }
    const reply = await this.privately(ctx, actor, await this.o.api.command(actor, text, { idempotencyKey: idempotencyKey(ctx) }));
    if (reply.kind === 'audit' && kindOf(ctx.activity) !== 'personal') {
      // The signed link and the preview are the whole audit trail: never in a channel or group chat.
      const sent = await this.o.personal(actor, cardActivity(replyCard(reply), replySummary(reply))).catch((err: unknown) => {
        this.o.logger.warn(errorFields(err), 'could not send the audit trail to a 1:1 chat');
        return false;
      });
      await ctx.sendActivity(
        sent
          ? 'Sent to you personally: the audit trail is in our 1:1 chat.'
          : 'The audit trail goes only to a 1:1 chat, and I could not open one with you. Send `jit audit` to me directly.',
      );
      return;
    }
    const card = replyCard(reply, reply.kind === 'submitted' ? { refreshUserIds: await this.o.cards.refreshUserIds(reply.request) } : {});
    const sent = await this.sendCard(ctx, card, replySummary(reply));
    if (reply.kind === 'submitted') await this.keepCopy(ctx, actor, reply.request.id, sent, reply.version);
  }

  /**
   * An `Action.Submit` fallback click (clients without Universal Actions): the same verbs, answered
   * with a message, since a message cannot return a card; the app redraws the card for everyone.
   */
  private async handleSubmit(ctx: TurnContext, verb: CardVerb, value: Record<string, unknown>): Promise<void> {
    let actor: Actor;
    try {
      actor = await this.o.identity.actorOf(ctx);
    } catch (err) {
      this.o.logger.warn(errorFields(err), 'member lookup failed');
      await ctx.sendActivity(LOOKUP_FAILED);
      return;
    }
    if (verb === 'submit-form') {
      const { card, requestId } = await this.submitForm(ctx, actor, value);
      const sent = await this.sendCard(ctx, card, 'Request JIT access');
      if (requestId) await this.keepCopy(ctx, actor, requestId, sent);
      return;
    }
    const requestId = typeof value.requestId === 'string' ? value.requestId : '';
    if (verb === 'refresh' || !requestId) return;
    const result = await this.o.api.act(actor, verb, requestId, { idempotencyKey: idempotencyKey(ctx), ...cardInputs(verb, value) });
    // Plain messages are markdown in Teams too; the answer may quote what someone typed.
    await ctx.sendActivity(escapeCardMarkdown(result.message));
  }

  /** The answer card, and the request it submitted (whose copy the answer becomes). */
  private async submitForm(ctx: TurnContext, actor: Actor, data: Record<string, unknown>): Promise<{ card: AdaptiveCardJson; requestId?: string }> {
    const input = formInputFrom(data);
    const result = await this.o.api.submitForm(actor, input, { idempotencyKey: idempotencyKey(ctx) });
    if (result.ok) {
      const reply = await this.privately(ctx, actor, result.reply);
      if (reply.kind !== 'submitted') return { card: replyCard(reply) };
      return { card: replyCard(reply, { refreshUserIds: await this.o.cards.refreshUserIds(reply.request) }), requestId: reply.request.id };
    }
    const form = await this.o.api.form(actor, input);
    if (!form.ok) return { card: replyCard(form.reply) };
    return { card: formCard(form.form, { values: input, errors: result.errors }) };
  }

  /**
   * botbuilder makes the invoke's `statusCode` the HTTP status too; the Universal Actions contract
   * is HTTP 200 whenever the bot processed the invoke, with the outcome in the body.
   */
  protected override async onInvokeActivity(ctx: TurnContext): Promise<InvokeResponse> {
    const response = await super.onInvokeActivity(ctx);
    if (ctx.activity.name === 'adaptiveCard/action' && response?.body) return { status: 200, body: response.body };
    return response;
  }

  protected override async onAdaptiveCardInvoke(ctx: TurnContext, value: AdaptiveCardInvokeValue): Promise<AdaptiveCardInvokeResponse> {
    await this.o.directory.touch(ctx.activity);
    const verb = actionVerb(value.action);
    const data = (value.action?.data ?? {}) as Record<string, unknown>;
    if (!verb) return errorResponse(400, 'BadRequest', 'This card action is not one of jitbot’s.');
    let actor: Actor;
    try {
      actor = await this.o.identity.actorOf(ctx);
    } catch (err) {
      this.o.logger.warn(errorFields(err), 'member lookup failed');
      return errorResponse(500, 'InternalServerError', LOOKUP_FAILED);
    }
    try {
      if (verb === 'submit-form') {
        const { card, requestId } = await this.submitForm(ctx, actor, data);
        // In a 1:1 chat the form is this person's alone: replace it everywhere, not just on this client.
        if (kindOf(ctx.activity) === 'personal' && ctx.activity.replyToId) {
          const replaced = await ctx.updateActivity({ ...cardActivity(card, 'Request JIT access'), id: ctx.activity.replyToId }).then(
            () => true,
            (err: unknown) => {
              this.o.logger.warn(errorFields(err), 'could not replace the form message');
              return false;
            },
          );
          if (replaced && requestId) await this.keepCopy(ctx, actor, requestId, ctx.activity.replyToId);
        }
        return cardResponse(card);
      }
      const requestId = typeof data.requestId === 'string' ? data.requestId.trim() : '';
      if (!requestId) return errorResponse(400, 'BadRequest', 'The card names no request.');
      const involved = await this.o.api.involved(actor, requestId);
      if (verb === 'refresh') {
        const view = await this.o.api.view(requestId);
        if (!view) return cardResponse(replyCard({ kind: 'error', message: `Request ${requestId} no longer exists.` }));
        // A card forwarded or refreshed by someone outside the request shows them nothing of it.
        if (!involved) return cardResponse(strangerCard(view.id));
        return cardResponse(await this.o.cards.cardFor(actor, view));
      }
      if (!REQUEST_VERBS.includes(verb)) return errorResponse(400, 'BadRequest', 'Unknown action.');
      const result = await this.o.api.act(actor, verb, requestId, { idempotencyKey: idempotencyKey(ctx), ...cardInputs(verb, data) });
      if (!involved) return cardResponse(strangerCard(requestId.toUpperCase(), result.message));
      const view = result.view ?? (await this.o.api.view(requestId));
      if (!view) return cardResponse(replyCard({ kind: 'error', message: result.message }));
      return cardResponse(await this.o.cards.cardFor(actor, view, { text: result.message, ok: result.ok }));
    } catch (err) {
      if (isJitError(err) && !(err instanceof ChatError)) {
        // A refusal the api raised rather than returned: show it on the card, for this person only.
        this.o.logger.info({ verb, ...errorFields(err) }, 'Teams card action refused');
        const requestId = typeof data.requestId === 'string' ? data.requestId.trim() : '';
        const involved = requestId ? await this.o.api.involved(actor, requestId).catch(() => false) : false;
        const view = involved ? await this.o.api.view(requestId).catch(() => null) : null;
        return cardResponse(view ? await this.o.cards.cardFor(actor, view, { text: err.message, ok: false }) : replyCard({ kind: 'error', message: err.message }));
      }
      this.o.logger.error({ verb, ...errorFields(err) }, 'Teams card action failed');
      return errorResponse(500, 'InternalServerError', 'Something went wrong; please try again.');
    }
  }
}
