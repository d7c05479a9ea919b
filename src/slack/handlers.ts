// Bolt listeners: `/jit`, the buttons, the request modal and App Home. Each turns a Slack payload
// into one JitApi call and renders the answer; the api decides everything else.
import type { App, BlockAction, ButtonAction, RespondArguments, RespondFn, StaticSelectAction, ViewSubmitAction } from '@slack/bolt';
// Bolt's index does not re-export the extended handler's type.
import type { ExtendedErrorHandler } from '@slack/bolt/dist/App';
import type { WebAPICallResult } from '@slack/web-api';
import type { JitApi } from '../app/api';
import type { Actor } from '../core/types';
import type { Reply, Verb } from '../core/views';
import type { SlackIdentity } from './identity';
import { slackErrorFields, type LoggerLike } from './log';
import { FORM_ACTION_ID, FORM_BLOCK_IDS, FORM_CALLBACK_ID, formErrors, readFormInput, type FormState } from './modal';
import {
  ACTION_IDS,
  ADDRESS_LINK_ACTION_ID,
  DENY_CALLBACK_ID,
  DENY_REASON_BLOCK_ID,
  EXTEND_BY_ACTION_ID,
  renderActionResult,
  renderDenyModal,
  renderForm,
  renderHome,
  renderLoadingModal,
  renderReply,
  renderReplyModal,
  renderVmOptions,
  verbOfActionId,
  type SlackMessage,
} from './render';
import { slackErrorCode, type SlackCaller } from './web';

export interface HandlerDeps {
  api: JitApi;
  slack: SlackCaller;
  identity: SlackIdentity;
  logger: LoggerLike;
  /** How long to wait for the api before acknowledging empty and answering through response_url. */
  ackBudgetMs?: number;
}

export const SORRY =
  'Sorry, something went wrong while handling that. Please try again in a minute; `/jit status` shows where your requests stand.';

// Slack gives an interaction 3 s; what is left after this goes to network and Bolt.
const DEFAULT_ACK_BUDGET_MS = 2_000;
// views.open must use the trigger within its 3 s life.
const TRIGGER_TIMEOUT_MS = 2_500;

const ACTION_ID_PATTERN = new RegExp(`^(?:${Object.values(ACTION_IDS).join('|')})$`);
const REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;

type Settled<T> = { state: 'fulfilled'; value: T } | { state: 'rejected'; reason: unknown } | { state: 'pending' };

/** Where `work` stands after `ms`: done, failed, or still running (it keeps running). */
async function settleWithin<T>(work: Promise<T>, ms: number): Promise<Settled<T>> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<Settled<T>>((resolve) => {
    timer = setTimeout(() => resolve({ state: 'pending' }), ms);
  });
  const settled = work.then(
    (value): Settled<T> => ({ state: 'fulfilled', value }),
    (reason: unknown): Settled<T> => ({ state: 'rejected', reason }),
  );
  try {
    return await Promise.race([settled, pending]);
  } finally {
    clearTimeout(timer);
  }
}

function ephemeral(message: SlackMessage): RespondArguments {
  return { response_type: 'ephemeral', replace_original: false, text: message.text, blocks: message.blocks };
}

interface ViewsOpenResult extends WebAPICallResult {
  view?: { id?: string; hash?: string };
}

interface ConversationsOpenResult extends WebAPICallResult {
  channel?: { id?: string };
}

export function registerHandlers(app: App, deps: HandlerDeps): void {
  const { api, slack, identity, logger } = deps;
  const ackBudgetMs = deps.ackBudgetMs ?? DEFAULT_ACK_BUDGET_MS;

  async function publishHome(actor: Actor, banner?: string): Promise<void> {
    const view = renderHome(await api.home(actor), banner);
    await slack.call('views.publish', { user_id: actor.userId, view });
  }

  /** The audit CSV goes to the requester's direct messages: it is too big and too private for an ephemeral. */
  async function sendAudit(actor: Actor, reply: Extract<Reply, { kind: 'audit' }>, respond: RespondFn): Promise<void> {
    try {
      const dm = await slack.call<ConversationsOpenResult>('conversations.open', { users: actor.userId });
      const channelId = dm.channel?.id;
      if (!channelId) throw new Error('conversations.open answered without a channel id');
      await slack.uploadFile({ channelId, filename: reply.filename, title: reply.filename, content: reply.csv, initialComment: reply.text });
    } catch (err) {
      logger.warn(slackErrorFields(err), 'could not upload the audit CSV');
      const code = slackErrorCode(err);
      const message = `Could not send the audit CSV${code ? ` (Slack said ${code})` : ''}. Try again in a minute, or ask whoever runs jitbot to check its files:write and im:write scopes.`;
      await respond(ephemeral(renderReply({ kind: 'error', message })));
      return;
    }
    // The answer where the command was typed says where to look and nothing else: no link, no rows.
    await respond(ephemeral(renderReply({ kind: 'text', text: `Sent to you personally: the audit CSV (${reply.rows} rows) is in our direct messages: ${reply.filename}` })));
  }

  /** Opens the modal at once with a placeholder, then fills it in: the trigger dies after 3 s. */
  async function openForm(triggerId: string, userId: string, name: string | undefined, respond: RespondFn): Promise<void> {
    let opened: ViewsOpenResult;
    try {
      opened = await slack.call<ViewsOpenResult>('views.open', { trigger_id: triggerId, view: renderLoadingModal() }, { timeoutInMs: TRIGGER_TIMEOUT_MS });
    } catch (err) {
      logger.warn(slackErrorFields(err), 'could not open the request form');
      await respond(ephemeral(renderReply({ kind: 'error', message: 'Slack would not open the request form in time. Type `/jit` again.' })));
      return;
    }
    const viewId = opened.view?.id;
    if (!viewId) throw new Error('views.open answered without a view id');
    const update = (view: ReturnType<typeof renderForm>) => slack.call('views.update', { view_id: viewId, hash: opened.view?.hash, view });
    try {
      const actor = await identity.actorFor(userId, { name });
      const form = await api.form(actor);
      await update(form.ok ? renderForm(form.form) : renderReplyModal(form.reply));
    } catch (err) {
      logger.error(slackErrorFields(err), 'could not fill in the request form');
      await update(renderReplyModal({ kind: 'error', message: SORRY }));
    }
  }

  app.command('/jit', async ({ command, ack, respond }) => {
    const text = (command.text ?? '').trim();
    if (text === '') {
      await ack();
      await openForm(command.trigger_id, command.user_id, command.user_name, respond);
      return;
    }
    // A slash command has no event id; its trigger id is unique per invocation and survives a retry.
    const idempotencyKey = `slack:command:${command.trigger_id}`;
    const work = (async () => {
      const actor = await identity.actorFor(command.user_id, { name: command.user_name });
      return { actor, reply: await api.command(actor, text, { idempotencyKey }) };
    })();
    const early = await settleWithin(work, ackBudgetMs);
    if (early.state === 'rejected') {
      logger.error(slackErrorFields(early.reason), '/jit failed');
      await ack(ephemeral(renderReply({ kind: 'error', message: SORRY })));
      return;
    }
    if (early.state === 'fulfilled' && early.value.reply.kind !== 'audit' && early.value.reply.kind !== 'form') {
      await ack(ephemeral(renderReply(early.value.reply)));
      return;
    }
    await ack();
    const { actor, reply } = await work;
    if (reply.kind === 'audit') await sendAudit(actor, reply, respond);
    else if (reply.kind === 'form') {
      await slack.call('views.open', { trigger_id: command.trigger_id, view: renderForm(reply.form) }, { timeoutInMs: TRIGGER_TIMEOUT_MS });
    } else await respond(ephemeral(renderReply(reply)));
  });

  app.action<BlockAction<ButtonAction>>({ type: 'block_actions', action_id: ACTION_ID_PATTERN }, async ({ ack, body, action, respond }) => {
    await ack();
    const verb = verbOfActionId(action.action_id);
    const requestId = action.value ?? '';
    if (!verb || !REQUEST_ID.test(requestId)) {
      logger.warn({ actionId: action.action_id }, 'ignored a button without a request id');
      return;
    }
    if (verb === 'deny' && body.trigger_id) {
      // The reason is asked for in a modal; the denial happens when it is submitted.
      await slack.call('views.open', { trigger_id: body.trigger_id, view: renderDenyModal(requestId) }, { timeoutInMs: TRIGGER_TIMEOUT_MS });
      return;
    }
    await answerAction(body, respond, verb, requestId, {}, action.action_ts);
  });

  // The extend select: its value is `<request id>:<minutes>`.
  app.action<BlockAction<StaticSelectAction>>({ type: 'block_actions', action_id: EXTEND_BY_ACTION_ID }, async ({ ack, body, action, respond }) => {
    await ack();
    const m = /^([A-Za-z0-9_-]{1,64}):(\d{1,4})$/.exec(action.selected_option?.value ?? '');
    if (!m) {
      logger.warn({ actionId: action.action_id }, 'ignored an extend choice without a request id');
      return;
    }
    await answerAction(body, respond, 'extend', m[1], { durationMinutes: Number(m[2]) }, action.action_ts);
  });

  // A URL button opens its link in the browser; Slack still reports the click, which needs only an ack.
  app.action({ type: 'block_actions', action_id: ADDRESS_LINK_ACTION_ID }, async ({ ack }) => {
    await ack();
  });

  app.view<ViewSubmitAction>({ callback_id: DENY_CALLBACK_ID, type: 'view_submission' }, async ({ ack, body, view }) => {
    const requestId = view.private_metadata ?? '';
    if (!REQUEST_ID.test(requestId)) {
      await ack({ response_action: 'update', view: renderReplyModal({ kind: 'error', message: 'This form names no request.' }) });
      return;
    }
    const state = view.state.values as FormState;
    const reason = state[DENY_REASON_BLOCK_ID]?.[FORM_ACTION_ID]?.value ?? '';
    const actor = await identity.actorFor(body.user.id, { name: body.user.name });
    const result = await api.act(actor, 'deny', requestId, { idempotencyKey: `slack:deny:${view.id}:${view.hash}`, ...(reason.trim() ? { reason } : {}) });
    await ack({ response_action: 'update', view: renderReplyModal(result.ok ? { kind: 'text', text: result.message } : { kind: 'error', message: result.message }) });
  });

  /** Run a card action and answer the clicker where the click came from. */
  async function answerAction(
    body: BlockAction,
    respond: RespondFn | undefined,
    verb: Verb,
    requestId: string,
    extra: { durationMinutes?: number },
    actionTs: string,
  ): Promise<void> {
    const actor = await identity.actorFor(body.user.id, { name: body.user.name });
    // The same click delivered twice carries the same action_ts; two clicks carry two.
    const result = await api.act(actor, verb, requestId, { idempotencyKey: `slack:action:${actionTs}:${body.user.id}`, ...extra });
    if (respond && body.response_url) {
      await respond(ephemeral(renderActionResult(result)));
    } else if (body.view?.type === 'home') {
      // The Home tab has no response_url: the answer shows at the top of the redrawn tab.
      await publishHome(actor, result.message);
    } else {
      logger.warn({ verb, requestId }, 'a button answer had nowhere to go');
    }
  }

  app.view<ViewSubmitAction>({ callback_id: FORM_CALLBACK_ID, type: 'view_submission' }, async ({ ack, body, view }) => {
    const input = readFormInput(view.state.values as FormState);
    const idempotencyKey = `slack:form:${body.trigger_id || `${view.id}:${view.hash}`}`;
    const work = (async () => {
      const actor = await identity.actorFor(body.user.id, { name: body.user.name });
      return { actor, result: await api.submitForm(actor, input, { idempotencyKey }) };
    })();
    const early = await settleWithin(work, ackBudgetMs);
    if (early.state === 'rejected') {
      logger.error(slackErrorFields(early.reason), 'the request form failed');
      await ack({ response_action: 'update', view: renderReplyModal({ kind: 'error', message: SORRY }) });
      return;
    }
    if (early.state === 'fulfilled') {
      const { result } = early.value;
      if (result.ok) {
        await ack({ response_action: 'update', view: renderReplyModal(result.reply) });
        return;
      }
      const errors = formErrors(result.errors);
      if (Object.keys(errors).length > 0) await ack({ response_action: 'errors', errors });
      else await ack({ response_action: 'update', view: renderReplyModal({ kind: 'error', message: 'The form could not be sent. Please check it and try again.' }) });
      return;
    }
    // Too slow for the modal: close it with a promise and answer in a direct message.
    await ack({ response_action: 'update', view: renderReplyModal({ kind: 'text', text: 'Working on it… the answer will come as a direct message.' }) });
    const { actor, result } = await work;
    const reply: Reply = result.ok
      ? result.reply
      : { kind: 'error', message: `The form was not accepted: ${Object.values(result.errors).join(' ')}`, usage: '/jit' };
    const message = renderReply(reply);
    await slack.call('chat.postMessage', { channel: actor.userId, text: message.text, blocks: message.blocks });
  });

  // The request form's VM list, served as the person types (multi_external_select in renderForm).
  app.options<'block_suggestion'>({ type: 'block_suggestion', block_id: FORM_BLOCK_IDS.vm }, async ({ ack, body }) => {
    try {
      const actor = await identity.actorFor(body.user.id);
      const { names, total } = await api.vmChoices(actor, typeof body.value === 'string' ? body.value : '', 100);
      await ack(renderVmOptions(names, total));
    } catch (err) {
      logger.error(slackErrorFields(err), 'could not list VMs for the request form');
      await ack({ options: [] });
    }
  });

  app.event('app_home_opened', async ({ event }) => {
    if (event.tab !== 'home') return;
    await publishHome(await identity.actorFor(event.user));
  });

  const onError: ExtendedErrorHandler = async ({ error, body }) => {
    const original = (error as { original?: unknown }).original ?? error;
    const payload = (body ?? {}) as { type?: unknown; command?: unknown; response_url?: unknown };
    logger.error({ ...slackErrorFields(original), payloadType: payload.type ?? payload.command ?? 'unknown' }, 'Slack request failed');
    if (typeof payload.response_url !== 'string') return;
    try {
      const res = await fetch(payload.response_url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(ephemeral(renderReply({ kind: 'error', message: SORRY }))),
        signal: AbortSignal.timeout(3_000),
      });
      if (!res.ok) logger.warn({ status: res.status }, 'response_url refused the apology');
    } catch (err) {
      logger.warn(slackErrorFields(err), 'could not apologise through response_url');
    }
  };
  app.error(onError);
}
