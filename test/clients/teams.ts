// Teams as the bot sees it: activity builders shaped like the recorded payloads in
// test/vectors/teams (ids, mention entities, channelData), stamped with the fake connector's
// serviceUrl, and a poster for `/api/messages`.
import { randomUUID } from 'node:crypto';
import type { FakeMember } from '../fakes/bot-connector';

export const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const TEAM_ID = '19:jitteam0000000000000000000000000@thread.tacv2';
export const CHANNEL_ID = '19:approvals000000000000000000000000@thread.tacv2';
export const BOT = { id: '28:00000000-0000-0000-0000-00000000b07a', name: 'jitbot' };

export interface TeamsUser {
  id: string;
  name: string;
  email: string;
  aadObjectId: string;
}

export const users = {
  alice: { id: '29:1alice-Bq8cXg', name: 'Alice', email: 'alice@example.com', aadObjectId: 'a11ce000-0000-4000-8000-000000000001' },
  bob: { id: '29:1bob-Yt3kPw', name: 'Bob', email: 'bob@example.com', aadObjectId: 'b0b00000-0000-4000-8000-000000000002' },
  carol: { id: '29:1carol-Hn5mQz', name: 'Carol', email: 'carol@example.com', aadObjectId: 'ca201000-0000-4000-8000-000000000003' },
  dave: { id: '29:1dave-Rr7tLs', name: 'Dave', email: 'dave@example.com', aadObjectId: 'da7e0000-0000-4000-8000-000000000004' },
  mallory: { id: '29:1mallory-Zz9', name: 'Mallory', email: 'mallory@elsewhere.example', aadObjectId: 'ma110000-0000-4000-8000-000000000005' },
} satisfies Record<string, TeamsUser>;

/**
 * How the connector describes them. Alice and Carol come back as the docs show (`objectId`), Bob and
 * Dave as the SDK fixtures do (`aadObjectId`): the adapter must read both.
 */
export function connectorMembers(): FakeMember[] {
  const docs = (u: TeamsUser): FakeMember => ({ id: u.id, name: u.name, email: u.email, userPrincipalName: u.email, objectId: u.aadObjectId, tenantId: TENANT_ID, userRole: 'user' });
  const sdk = (u: TeamsUser): FakeMember => ({ id: u.id, name: u.name, email: u.email, userPrincipalName: u.email, aadObjectId: u.aadObjectId, tenantId: TENANT_ID });
  return [docs(users.alice), sdk(users.bob), docs(users.carol), sdk(users.dave), sdk(users.mallory)];
}

let seq = 1_763_700_000_000;
const nextId = (): string => String(++seq);

export interface Place {
  serviceUrl: string;
}

function base(place: Place, from: TeamsUser) {
  return {
    id: nextId(),
    timestamp: new Date().toISOString(),
    channelId: 'msteams',
    serviceUrl: place.serviceUrl,
    from: { id: from.id, name: from.name, aadObjectId: from.aadObjectId },
    recipient: { ...BOT },
    locale: 'en-US',
  };
}

function channelConversation(rootId?: string) {
  return {
    conversation: {
      id: rootId ? `${CHANNEL_ID};messageid=${rootId}` : CHANNEL_ID,
      conversationType: 'channel',
      isGroup: true,
      tenantId: TENANT_ID,
    },
    channelData: { teamsChannelId: CHANNEL_ID, teamsTeamId: TEAM_ID, channel: { id: CHANNEL_ID }, team: { id: TEAM_ID, name: 'SRE' }, tenant: { id: TENANT_ID } },
  };
}

export function personalConversationId(user: TeamsUser): string {
  return `a:1personal-${user.id.slice(3)}`;
}

function personalConversation(user: TeamsUser) {
  return {
    conversation: { id: personalConversationId(user), conversationType: 'personal', tenantId: TENANT_ID },
    channelData: { tenant: { id: TENANT_ID } },
  };
}

/** The bot added to a team (conversationUpdate, eventType teamMemberAdded), as in the docs' vector. */
export function installInTeam(place: Place, by: TeamsUser = users.carol) {
  return {
    ...base(place, by),
    type: 'conversationUpdate',
    membersAdded: [{ id: BOT.id }],
    conversation: { id: TEAM_ID, conversationType: 'channel', isGroup: true, tenantId: TENANT_ID },
    channelData: { team: { id: TEAM_ID, name: 'SRE', aadGroupId: 'f3ec8cd2-e704-4344-8c47-9a3a21d683c0' }, eventType: 'teamMemberAdded', tenant: { id: TENANT_ID } },
  };
}

/** installationUpdate add in a team, with the channel the installer picked. */
export function installationUpdateAdd(place: Place, by: TeamsUser = users.carol, selectedChannel = CHANNEL_ID) {
  return {
    ...base(place, by),
    type: 'installationUpdate',
    action: 'add',
    conversation: { id: TEAM_ID, conversationType: 'channel', isGroup: true, tenantId: TENANT_ID },
    channelData: {
      settings: { selectedChannel: { id: selectedChannel } },
      channel: { id: selectedChannel },
      team: { id: TEAM_ID, name: 'SRE' },
      tenant: { id: TENANT_ID },
      source: { name: 'message' },
    },
  };
}

export function installationUpdateRemove(place: Place, by: TeamsUser = users.carol) {
  return { ...installationUpdateAdd(place, by), id: nextId(), action: 'remove' };
}

/** The app installed for one person (their 1:1 chat with the bot). */
export function installPersonal(place: Place, user: TeamsUser) {
  return {
    ...base(place, user),
    type: 'conversationUpdate',
    membersAdded: [{ id: BOT.id }, { id: user.id }],
    ...personalConversation(user),
  };
}

/** `<at>jitbot</at> text` in the approvals channel, as a new post or inside a thread. */
export function channelMessage(place: Place, from: TeamsUser, text: string, opts: { mention?: boolean; threadRootId?: string } = {}) {
  const mention = opts.mention ?? true;
  const at = `<at>${BOT.name}</at>`;
  return {
    ...base(place, from),
    type: 'message',
    textFormat: 'plain',
    text: mention ? `${at} ${text}` : text,
    entities: mention ? [{ type: 'mention', text: at, mentioned: { id: BOT.id, name: BOT.name } }] : [],
    ...channelConversation(opts.threadRootId),
  };
}

export function personalMessage(place: Place, from: TeamsUser, text: string) {
  return { ...base(place, from), type: 'message', textFormat: 'plain', text, ...personalConversation(from) };
}

/**
 * A click on an `Action.Execute` button (`adaptiveCard/action`). `omitVerb` reproduces the recorded
 * Teams invoke that carries no `verb`, only the action's `data`.
 */
export function executeInvoke(
  place: Place,
  from: TeamsUser,
  action: { verb: string; data: Record<string, unknown>; omitVerb?: boolean },
  where: { replyToId?: string; personal?: boolean; trigger?: 'manual' | 'automatic' } = {},
) {
  const act: Record<string, unknown> = { type: 'Action.Execute', data: action.data };
  if (!action.omitVerb) {
    act.verb = action.verb;
    act.id = '';
  } else act.title = action.verb;
  return {
    ...base(place, from),
    id: `f:${randomUUID()}`,
    type: 'invoke',
    name: 'adaptiveCard/action',
    value: { action: act, trigger: where.trigger ?? 'manual' },
    ...(where.replyToId ? { replyToId: where.replyToId } : {}),
    ...(where.personal ? personalConversation(from) : channelConversation(where.replyToId)),
  };
}

/** An `Action.Submit` fallback click: a message with `value` = the action data. */
export function submitMessage(place: Place, from: TeamsUser, value: Record<string, unknown>, replyToId?: string) {
  return { ...base(place, from), type: 'message', value, ...(replyToId ? { replyToId } : {}), ...channelConversation(replyToId) };
}

export interface PostResult {
  status: number;
  body: any;
}

/** POST an activity to the bot. */
export async function postActivity(url: string, activity: object, opts: { token?: string; rawBody?: string; contentType?: string } = {}): Promise<PostResult> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': opts.contentType ?? 'application/json', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
    body: opts.rawBody ?? JSON.stringify(activity),
  });
  const text = await res.text();
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return { status: res.status, body };
}
