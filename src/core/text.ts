// How the bot talks about the words a user typed: quoting them, and "did you mean …?" for typos.

/**
 * A user's word inside a message, in quotes: on one line and cut short, so a pasted paragraph cannot
 * turn a one-line answer into a wall of text.
 */
export function quoteWord(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return `"${t.length > 40 ? `${t.slice(0, 39)}…` : t}"`;
}

/** Levenshtein distance, case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  if (s === t) return 0;
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const current = [i];
    for (let j = 1; j <= t.length; j++) {
      const substitution = previous[j - 1] + (s[i - 1] === t[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[t.length];
}

/**
 * The candidate nearest to `word`, when it is near enough to be a plausible typo: one edit for short
 * words, two for longer ones, and never more than a third of the word (so `db` does not suggest `web`).
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | null {
  const allowed = Math.min(word.length >= 5 ? 2 : 1, Math.max(1, Math.floor(word.length / 3)));
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(word, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== null && bestDistance > 0 && bestDistance <= allowed ? best : null;
}

/**
 * `text` cut to at most `max` UTF-16 units, ending in `…` when cut. Never splits a surrogate pair, so
 * a clipped emoji cannot leave half a character that platforms reject as invalid UTF-8.
 */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - 1);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

/**
 * A list of names for one line of a card: as many as fit in `maxChars` (and at most `maxItems`),
 * then `…and 40 more`. Cards and notices name every VM of a small request and summarise a big one.
 */
export function summariseList(items: readonly string[], opts: { maxItems?: number; maxChars?: number } = {}): string {
  const maxItems = opts.maxItems ?? 10;
  const maxChars = opts.maxChars ?? 300;
  const shown: string[] = [];
  let length = 0;
  for (const item of items) {
    const piece = clipText(item, 80);
    if (shown.length >= maxItems || (shown.length > 0 && length + piece.length + 2 > maxChars)) break;
    shown.push(piece);
    length += piece.length + 2;
  }
  const rest = items.length - shown.length;
  return rest > 0 ? `${shown.join(', ')} …and ${rest} more` : shown.join(', ');
}

/**
 * VM names for a card or notice: every name of a small request; for a big one their shared prefix as
 * a glob with the count, then the first few (`web-* (150 VMs): web-001, web-002 …and 148 more`).
 */
export function vmListText(vms: readonly string[], opts: { maxItems?: number; maxChars?: number } = {}): string {
  const maxItems = opts.maxItems ?? 10;
  if (vms.length <= maxItems) return summariseList(vms, { maxItems, maxChars: opts.maxChars });
  let prefix = vms[0] ?? '';
  for (const vm of vms) while (!vm.startsWith(prefix)) prefix = prefix.slice(0, -1);
  const head = prefix.length >= 2 ? `${clipText(prefix, 60)}* (${vms.length} VMs)` : `${vms.length} VMs`;
  return `${head}: ${summariseList(vms, { maxItems: Math.min(maxItems, 5), maxChars: opts.maxChars })}`;
}
