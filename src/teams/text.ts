// What a Teams message says to the bot: the words after `jit`, with the bot's @mention and Teams'
// HTML left behind. Pure, so the recorded Teams payloads can be checked without a server.
import type { Activity } from 'botbuilder';

/** The raw message (HTML included) longest read; the command inside is capped again by the grammar. */
export const MAX_MESSAGE_LENGTH = 16_000;
const MAX_MENTION_ENTITIES = 10;

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/** True when one of the activity's mention entities names the bot (the activity's recipient). */
export function mentionsBot(activity: Partial<Activity>): boolean {
  const botId = activity.recipient?.id;
  if (!botId) return false;
  return (activity.entities ?? []).some((e) => e.type === 'mention' && (e as { mentioned?: { id?: string } }).mentioned?.id === botId);
}

/**
 * The message text without the bot's `<at>…</at>` mention (matched by id, as several people can be
 * mentioned), other tags (a mention of someone else keeps their name), entities and extra spaces.
 */
export function plainText(activity: Partial<Activity>): string {
  let text = typeof activity.text === 'string' ? activity.text : '';
  const botId = activity.recipient?.id;
  // The bot is mentioned once or twice; a message listing more mention entities gets no more passes.
  const mentions = (Array.isArray(activity.entities) ? activity.entities : []).slice(0, MAX_MENTION_ENTITIES);
  for (const e of mentions) {
    const m = e as { type?: string; text?: string; mentioned?: { id?: string } };
    if (m.type === 'mention' && botId && m.mentioned?.id === botId && typeof m.text === 'string' && m.text) text = text.split(m.text).join(' ');
  }
  // `[^<>]`, not `[^>]`: with 150,000 `<` and no `>`, the latter rescanned the rest of the text from
  // every `<` (14 s of a blocked event loop); this one stops at the next `<`.
  text = text.replace(/<[^<>]*>/g, ' ');
  return decodeEntities(text).replace(/[\s\u00a0\u200b]+/g, ' ').trim();
}

/**
 * The words after `jit` or `/jit` when the message is for the bot; null when it is not (a group
 * conversation message neither mentioning the bot nor starting with `jit`). In a personal chat
 * everything is for the bot, so `help` works as well as `jit help`.
 */
export function commandText(activity: Partial<Activity>): string | null {
  const text = plainText(activity);
  const m = /^\/?jit(?:\s+|$)/i.exec(text);
  if (m) return text.slice(m[0].length).trim();
  return isForTheBot(activity) ? text : null;
}

/** A personal chat, or a message that mentions the bot. */
export function isForTheBot(activity: Partial<Activity>): boolean {
  const c = activity.conversation;
  // Old payloads carry no conversationType; a conversation outside a team that is not a group is 1:1.
  const personal = c?.conversationType === 'personal' || (!c?.conversationType && c?.isGroup !== true && !activity.channelData?.team);
  return personal || mentionsBot(activity);
}
