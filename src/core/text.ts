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
 * The first character of `text` that no command, reason or name may hold, as `U+0000`: C0 and C1
 * controls other than tab, line feed and carriage return (which read as spaces), and unpaired
 * surrogates. PostgreSQL refuses NUL in text and both NUL and lone surrogates in JSON (22P05), and
 * none of them means anything a person typed on purpose. Null when there is none. One pass, no
 * backtracking.
 */
export function controlCharacter(text: string): string | null {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 ? c !== 0x09 && c !== 0x0a && c !== 0x0d : c >= 0x7f && c <= 0x9f) return codePoint(c);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else return codePoint(c);
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return codePoint(c);
    }
  }
  return null;
}

function codePoint(c: number): string {
  return `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** `the reason contains a control character (U+0000)`, or null. */
export function controlCharacterProblem(what: string, text: string): string | null {
  const found = controlCharacter(text);
  if (found === null) return null;
  const kind = found.startsWith('U+D') ? 'a broken character' : 'a control character';
  return `${what} contains ${kind} (${found})`;
}
