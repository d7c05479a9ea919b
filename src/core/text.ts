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
