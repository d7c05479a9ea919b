// Speaks to /slack/events the way Slack does: HMAC-SHA256 v0 signatures over the raw body, form
// bodies with the exact content type Slack sends, retries marked with X-Slack-Retry-Num.
import { createHmac } from 'node:crypto';

export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';

/** `v0=` + hex(HMAC-SHA256(secret, `v0:<timestamp>:<raw body>`)). */
export function slackSignature(secret: string, timestampSec: number, rawBody: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestampSec}:${rawBody}`).digest('hex')}`;
}

export type FormEncoding = 'percent' | 'raw';

/**
 * A form body as Slack writes it. `percent` encodes everything (`%2F`, `+` for spaces), as Bolt's own
 * fixtures do; `raw` leaves `/` and `:` as they are and spaces as `%20`, as Slack's docs example does.
 */
export function encodeForm(fields: Record<string, string | undefined>, encoding: FormEncoding = 'percent'): string {
  return Object.entries(fields)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => {
      const value =
        encoding === 'percent'
          ? encodeURIComponent(v).replace(/%20/g, '+')
          : encodeURIComponent(v).replace(/%2F/gi, '/').replace(/%3A/gi, ':');
      return `${encodeURIComponent(k)}=${value}`;
    })
    .join('&');
}

export interface SendOptions {
  /** Unix seconds used in the signature and header (default: now). */
  timestampSec?: number;
  retryNum?: number;
  retryReason?: string;
  /** Sign with this secret instead (a forger's). */
  secret?: string;
  /** Leave the signature header out. */
  omitSignature?: boolean;
  omitTimestamp?: boolean;
  /** Sign one body, send another (tampering on the way). */
  sendBody?: string;
  contentType?: string;
}

export interface SlackHttpResponse {
  status: number;
  text: string;
  /** The body as JSON, when it is JSON. */
  json: unknown;
}

export class SlackTestClient {
  constructor(
    private readonly eventsUrl: string,
    private readonly signingSecret: string,
  ) {}

  async post(rawBody: string, contentType: string, opts: SendOptions = {}): Promise<SlackHttpResponse> {
    const ts = opts.timestampSec ?? Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = { 'content-type': opts.contentType ?? contentType };
    if (!opts.omitTimestamp) headers['x-slack-request-timestamp'] = String(ts);
    if (!opts.omitSignature) headers['x-slack-signature'] = slackSignature(opts.secret ?? this.signingSecret, ts, rawBody);
    if (opts.retryNum !== undefined) headers['x-slack-retry-num'] = String(opts.retryNum);
    if (opts.retryReason !== undefined) headers['x-slack-retry-reason'] = opts.retryReason;
    const res = await fetch(this.eventsUrl, { method: 'POST', headers, body: opts.sendBody ?? rawBody });
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json };
  }

  /** A slash command: form fields. */
  command(fields: SlashCommandFields, opts: SendOptions & { encoding?: FormEncoding } = {}): Promise<SlackHttpResponse> {
    return this.post(encodeForm({ ...fields }, opts.encoding), FORM_CONTENT_TYPE, opts);
  }

  /** Interactivity: one form field `payload` holding JSON. */
  interactive(payload: object, opts: SendOptions = {}): Promise<SlackHttpResponse> {
    return this.post(`payload=${encodeURIComponent(JSON.stringify(payload))}`, FORM_CONTENT_TYPE, opts);
  }

  /** Events API: a JSON body. */
  event(body: object, opts: SendOptions = {}): Promise<SlackHttpResponse> {
    return this.post(JSON.stringify(body), 'application/json', opts);
  }
}

// ---- payload builders (shapes from test/vectors/slack) -----------------------------------------

export interface SlashCommandFields {
  token?: string;
  team_id?: string;
  team_domain?: string;
  channel_id?: string;
  channel_name?: string;
  user_id: string;
  user_name?: string;
  command?: string;
  text: string;
  api_app_id?: string;
  is_enterprise_install?: string;
  response_url: string;
  trigger_id: string;
}

let counter = 0;
function next(): number {
  counter += 1;
  return counter;
}

export function slashCommand(fields: Partial<SlashCommandFields> & Pick<SlashCommandFields, 'user_id' | 'text' | 'response_url'>): SlashCommandFields {
  return {
    token: 'legacy-verification-token',
    team_id: 'T0JIT',
    team_domain: 'jitbot-test',
    channel_id: 'C0DEV',
    channel_name: 'dev',
    user_name: fields.user_id.slice(2).toLowerCase(),
    command: '/jit',
    api_app_id: 'A0JIT',
    is_enterprise_install: 'false',
    trigger_id: `${next()}.1111.trigger${next()}`,
    ...fields,
  };
}

export interface ButtonClick {
  user: string;
  actionId: string;
  value: string;
  responseUrl: string;
  channel?: string;
  messageTs?: string;
  actionTs?: string;
  /** A click in the App Home tab: no channel, no message, no response_url. */
  home?: boolean;
}

export function blockActions(click: ButtonClick): Record<string, unknown> {
  const actionTs = click.actionTs ?? `1700000100.${String(next()).padStart(6, '0')}`;
  const action = { type: 'button', block_id: 'jit_card', action_id: click.actionId, value: click.value, text: { type: 'plain_text', text: click.actionId }, action_ts: actionTs };
  const base = {
    type: 'block_actions',
    user: { id: click.user, username: click.user.slice(2).toLowerCase(), name: click.user.slice(2).toLowerCase(), team_id: 'T0JIT' },
    api_app_id: 'A0JIT',
    token: 'legacy-verification-token',
    trigger_id: `${next()}.2222.trigger`,
    team: { id: 'T0JIT', domain: 'jitbot-test' },
    is_enterprise_install: false,
    actions: [action],
  };
  if (click.home) {
    return {
      ...base,
      container: { type: 'view', view_id: 'VHOME' },
      view: { id: 'VHOME', type: 'home', team_id: 'T0JIT', blocks: [], state: { values: {} }, hash: 'h', callback_id: '', private_metadata: '' },
    };
  }
  const channel = click.channel ?? 'C0JITAPPROVALS';
  const messageTs = click.messageTs ?? '1700000000.000001';
  return {
    ...base,
    container: { type: 'message', message_ts: messageTs, channel_id: channel, is_ephemeral: false },
    channel: { id: channel, name: 'jit-approvals' },
    message: { type: 'message', ts: messageTs, text: 'approval card', bot_id: 'B0BOT' },
    response_url: click.responseUrl,
  };
}

export function viewSubmission(input: { user: string; values: Record<string, Record<string, unknown>>; viewId?: string; hash?: string; callbackId?: string; privateMetadata?: string }): Record<string, unknown> {
  return {
    type: 'view_submission',
    team: { id: 'T0JIT', domain: 'jitbot-test' },
    user: { id: input.user, username: input.user.slice(2).toLowerCase(), name: input.user.slice(2).toLowerCase(), team_id: 'T0JIT' },
    api_app_id: 'A0JIT',
    token: 'legacy-verification-token',
    trigger_id: `${next()}.3333.trigger`,
    view: {
      id: input.viewId ?? 'VFORM',
      team_id: 'T0JIT',
      type: 'modal',
      callback_id: input.callbackId ?? 'jit_request_form',
      private_metadata: input.privateMetadata ?? '',
      title: { type: 'plain_text', text: 'JIT access' },
      blocks: [],
      state: { values: input.values },
      hash: input.hash ?? '1596530361.3wRYuk3R',
      root_view_id: input.viewId ?? 'VFORM',
      previous_view_id: null,
      clear_on_close: false,
      notify_on_close: false,
      app_id: 'A0JIT',
      bot_id: 'B0BOT',
    },
    response_urls: [],
    is_enterprise_install: false,
  };
}

/** Form state as Slack sends it: selects carry `selected_option(s)`, text inputs `value`. */
export function formValues(input: { vm?: string; ports?: string[]; duration?: string; source?: string; reason?: string }): Record<string, Record<string, unknown>> {
  const select = (value: string | undefined) => ({ type: 'static_select', selected_option: value ? { text: { type: 'plain_text', text: value }, value } : null });
  return {
    // The VM field is a multi_external_select: its options come from the bot as the person types.
    jit_vm: { value: { type: 'multi_external_select', selected_options: (input.vm ? input.vm.split(',') : []).map((v) => ({ text: { type: 'plain_text', text: v }, value: v })) } },
    jit_ports: { value: { type: 'multi_static_select', selected_options: (input.ports ?? []).map((p) => ({ text: { type: 'plain_text', text: p }, value: p })) } },
    jit_duration: { value: select(input.duration) },
    jit_source: { value: { type: 'plain_text_input', value: input.source ?? null } },
    jit_reason: { value: { type: 'plain_text_input', value: input.reason ?? null } },
  };
}

/**
 * What Slack sends while someone types into an external select (`block_suggestion`), after Slack's
 * documented options payload; answered with `{ options }` or `{ option_groups }` within 3 s.
 */
export function blockSuggestion(input: { user: string; value: string; blockId?: string; actionId?: string }): Record<string, unknown> {
  return {
    type: 'block_suggestion',
    user: { id: input.user, username: input.user.slice(2).toLowerCase(), name: input.user.slice(2).toLowerCase(), team_id: 'T0JIT' },
    container: { type: 'view', view_id: 'VFORM' },
    api_app_id: 'A0JIT',
    token: 'legacy-verification-token',
    action_id: input.actionId ?? 'value',
    block_id: input.blockId ?? 'jit_vm',
    value: input.value,
    team: { id: 'T0JIT', domain: 'jitbot-test' },
    enterprise: null,
    is_enterprise_install: false,
    view: { id: 'VFORM', team_id: 'T0JIT', type: 'modal', callback_id: 'jit_request_form', private_metadata: '', blocks: [], state: { values: {} }, hash: '1596530361.3wRYuk3R', app_id: 'A0JIT', bot_id: 'B0BOT' },
  };
}

export function appHomeOpened(user: string, tab: 'home' | 'messages' = 'home'): Record<string, unknown> {
  return {
    token: 'legacy-verification-token',
    team_id: 'T0JIT',
    api_app_id: 'A0JIT',
    event: { type: 'app_home_opened', user, channel: 'D0HOME', tab, ...(tab === 'home' ? { view: { id: 'VHOME', type: 'home', hash: 'h' } } : {}) },
    type: 'event_callback',
    event_id: `Ev${next()}`,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ enterprise_id: null, team_id: 'T0JIT', user_id: 'U0BOT', is_bot: true, is_enterprise_install: false }],
  };
}
