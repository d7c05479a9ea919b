// Reading card actions back: which of our verbs a click names, wherever the client put it.
import type { Verb } from '../core/views';

/** The card verbs beyond the request buttons: the automatic refresh and the request form. */
export type CardVerb = Verb | 'refresh' | 'submit-form';

const CARD_VERBS: readonly CardVerb[] = ['approve', 'deny', 'extend', 'release', 'cancel', 'refresh', 'submit-form'];

export function isCardVerb(v: unknown): v is CardVerb {
  return typeof v === 'string' && (CARD_VERBS as readonly string[]).includes(v);
}

/**
 * The verb of a card action: `verb` when the client sent it, else `data.verb` (recorded Teams
 * invokes carry no `verb`). Null when neither names one of ours.
 */
export function actionVerb(action: { verb?: unknown; data?: unknown } | undefined): CardVerb | null {
  if (!action) return null;
  if (isCardVerb(action.verb)) return action.verb;
  const data = action.data;
  if (data && typeof data === 'object' && isCardVerb((data as { verb?: unknown }).verb)) return (data as { verb: CardVerb }).verb;
  return null;
}
