// What a Teams message says to the bot: the words after `jit`, with the bot's @mention and Teams'
// HTML left behind. Pure, so the recorded Teams payloads can be checked without a server.
import type { Activity } from 'botbuilder';

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
  let text = activity.text ?? '';
  const botId = activity.recipient?.id;
  for (const e of activity.entities ?? []) {
    const m = e as { type?: string; text?: string; mentioned?: { id?: string } };
    if (m.type === 'mention' && botId && m.mentioned?.id === botId && m.text) text = text.split(m.text).join(' ');
  }
  text = text.replace(/<[^>]*>/g, ' ');
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
  const c = activity.conversation;
  // Old payloads carry no conversationType; a conversation outside a team that is not a group is 1:1.
  const personal = c?.conversationType === 'personal' || (!c?.conversationType && c?.isGroup !== true && !activity.channelData?.team);
  if (personal || mentionsBot(activity)) return text;
  return null;
}
