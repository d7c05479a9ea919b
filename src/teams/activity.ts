// What the Teams route checks before botbuilder is loaded: the options, and that a body is an
// activity. Kept apart from botbuilder (over a second of loading) so a bot starts without it.
import type * as restify from 'restify';
import { z } from 'zod';
import type { ChatCallObserver } from '../app/observer';
import type { Logger } from '../app/logger';
import { controlCharacter } from '../core/text';
import type { ChatPort, Clock, Store } from '../app/ports';
import type { JitApi } from '../app/api';
import { JitError } from '../core/errors';

export const TEAMS_ROUTE = '/api/messages';
/** Activities are a few KB; a card-heavy one stays far below this. */
export const MAX_BODY_BYTES = 512 * 1024;
export const JSON_ONLY = ['application/json'] as const;
const APP_TYPES = ['MultiTenant', 'SingleTenant', 'UserAssignedMSI'] as const;

const CONTROL_FREE = (s: string) => controlCharacter(s) === null;
/** Ids end up in the store and in URLs of the Bot Connector: text, bounded, no control characters. */
const idText = z.string().min(1).max(1024).refine(CONTROL_FREE, 'contains a control character');
const account = z.looseObject({ id: idText, name: z.string().max(1024).optional(), aadObjectId: z.string().max(256).optional() });
const httpUrl = z
  .string()
  .max(2048)
  .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'must be an http(s) URL');
const dateText = z.string().max(64).refine((d) => !Number.isNaN(Date.parse(d)), 'must be a date');

/**
 * The fields of a Bot Framework activity that botbuilder and our bot read, with the types they
 * assume. Anything else passes through untouched. A body that fails this is answered 400 with the
 * first problem, instead of failing deep inside botbuilder (which answers 500 with its own words).
 */
const ACTIVITY = z.looseObject({
  type: z.string().min(1).max(64),
  id: idText.optional(),
  channelId: z.string().max(64).optional(),
  serviceUrl: httpUrl,
  timestamp: dateText.optional(),
  localTimestamp: dateText.optional(),
  expiration: dateText.optional(),
  from: account,
  recipient: account,
  conversation: z.looseObject({
    id: idText,
    conversationType: z.string().max(64).optional(),
    tenantId: z.string().max(256).optional(),
    isGroup: z.boolean().optional(),
  }),
  replyToId: idText.optional(),
  text: z.string().optional(),
  textFormat: z.string().max(64).optional(),
  name: z.string().max(256).optional(),
  entities: z.array(z.looseObject({ type: z.string().max(64) })).max(100).optional(),
  attachments: z.array(z.looseObject({})).max(100).optional(),
  membersAdded: z.array(account).max(1000).optional(),
  membersRemoved: z.array(account).max(1000).optional(),
  channelData: z.looseObject({}).optional(),
});

/** One short line naming the first problem of a body that is not an activity. */
export function activityProblem(body: unknown): string | null {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'Expected a JSON activity (an object)';
  const parsed = ACTIVITY.safeParse(body);
  if (parsed.success) return null;
  const issue = parsed.error.issues[0];
  const where = issue.path.length > 0 ? issue.path.map(String).join('.') : 'activity';
  return `Invalid activity: ${where.slice(0, 80)} ${issue.code === 'invalid_type' && issue.input === undefined ? 'is missing' : 'is not valid'}`;
}

export interface TeamsAdapterOptions {
  api: JitApi;
  store: Store;
  /** The bot's Entra app id. Empty means no authentication (Bot Framework Emulator): local mode only. */
  appId: string;
  appPassword: string;
  /** `MultiTenant` (default), `SingleTenant` or `UserAssignedMSI`. */
  appType?: string;
  /** Required for SingleTenant and UserAssignedMSI; also limits the bot to this tenant's users. */
  tenantId?: string;
  /** The Entra tenants served; activities from any other are refused before any lookup. Default: `tenantId`. */
  tenants?: string[];
  localMode: boolean;
  logger: Logger;
  clock?: Clock;
  /** Counts 429s and failed Bot Connector calls (metrics). */
  observer?: ChatCallObserver;
  /**
   * Further Bot Framework authentication settings, by their configuration names (sovereign clouds:
   * `ToBotFromChannelOpenIdMetadataUrl`, `ToChannelFromBotLoginUrl`, `OAuthUrl`…). They cannot
   * replace the app id, password, type or tenant.
   */
  botFrameworkSettings?: Record<string, string | boolean>;
}

export interface TeamsAdapter {
  readonly chat: ChatPort;
  /** `POST /api/messages`, with a JSON body parser on this route only. */
  mount(server: restify.Server): void;
}

/** The app id and type the options amount to. */
export interface TeamsIdentitySettings {
  appId: string;
  appType: string;
}

/** Options that could never work are refused at start, before botbuilder is loaded. */
export function checkTeamsOptions(opts: TeamsAdapterOptions): TeamsIdentitySettings {
  const appId = opts.appId.trim();
  const appType = opts.appType?.trim() || 'MultiTenant';
  if (!appId && !opts.localMode) {
    throw configError('MicrosoftAppId is empty: Teams would accept unauthenticated activities. An empty app id is for local mode (Bot Framework Emulator) only.');
  }
  if (!(APP_TYPES as readonly string[]).includes(appType)) throw configError(`MicrosoftAppType "${appType}" is not one of ${APP_TYPES.join(', ')}.`);
  if (appId && appType !== 'UserAssignedMSI' && !opts.appPassword) throw configError('MicrosoftAppPassword is empty but MicrosoftAppId is set.');
  if (appId && appType !== 'MultiTenant' && !opts.tenantId) throw configError(`MicrosoftAppTenantId is required when MicrosoftAppType is ${appType}.`);
  return { appId, appType };
}

function configError(message: string): JitError {
  return new JitError('config', message);
}
