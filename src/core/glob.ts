// Name globs for VMs and access-rule selectors. Only `*` is special, so no regular expression is built
// from user text.

export function isGlob(pattern: string): boolean {
  return pattern.includes('*');
}

/** True when `name` matches `pattern`; `*` matches any run of characters (also none). Case-insensitive. */
export function matchGlob(pattern: string, name: string): boolean {
  const parts = pattern.toLowerCase().split('*');
  const text = name.toLowerCase();
  if (parts.length === 1) return parts[0] === text;
  const first = parts[0];
  const last = parts[parts.length - 1];
  if (first.length + last.length > text.length || !text.startsWith(first) || !text.endsWith(last)) return false;
  // Leftmost placement of each middle piece leaves the most room for the rest, so greedy is exact here.
  let at = first.length;
  const end = text.length - last.length;
  for (const piece of parts.slice(1, -1)) {
    const found = text.indexOf(piece, at);
    if (found < 0 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}
