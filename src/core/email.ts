// Emails are how people are known across platforms and in the access rules, so two spellings must
// never meet on one person by accident. Directories hand back whatever their users typed, and Unicode
// has look-alikes that fold onto ASCII: NFKC turns the Kelvin sign (U+212A) into `K`, so
// `\u212Aate@example.com` would become Kate's address. Mail systems refuse such characters anyway, so
// an address that NFKC changes, or that keeps anything outside printable ASCII, is refused outright:
// it names nobody rather than the person it imitates.

const SHAPE = /^[^@\s]+@[^@\s]+$/;

/** The address in the form people are compared by (NFKC, lower case), or null when it is refused. */
export function normalizeEmail(text: string | null | undefined): string | null {
  if (typeof text !== 'string') return null;
  const raw = text.trim();
  const folded = raw.normalize('NFKC');
  if (folded !== raw || !/^[\x21-\x7e]+$/.test(folded) || !SHAPE.test(folded)) return null;
  return folded.toLowerCase();
}

/** True when both are the same, acceptable address. */
export function sameEmail(a: string | null | undefined, b: string | null | undefined): boolean {
  const x = normalizeEmail(a);
  return x !== null && x === normalizeEmail(b);
}
