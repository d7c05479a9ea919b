// IPv4 and IPv6 addresses and CIDR prefixes: parsing, the canonical form, and containment.
// Sources and allowed prefixes are compared as numbers, never as strings, so `10.0.0.0/8` contains
// `10.1.2.3` and `2001:db8::/32` contains `2001:0db8:0:0::1`.
import { quoteWord } from './text';

export type IpFamily = 4 | 6;

/** A prefix with its host bits clear. A single address is a prefix of full length. */
export interface IpPrefix {
  family: IpFamily;
  address: bigint;
  length: number;
}

const WIDTH: Record<IpFamily, number> = { 4: 32, 6: 128 };
/** `::ffff:0:0/96`: where dual-stack sockets put IPv4 clients. */
const V4_MAPPED = 0xffffn << 32n;
const V4_MAPPED_MASK = ((1n << 96n) - 1n) << 32n;

export const ANY_SOURCE = '*';

type Reading = Readonly<{ ok: true; prefix: Readonly<IpPrefix>; hostBits: boolean } | { ok: false; problem: string }>;

function parseIPv4(text: string): bigint | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    // Leading zeros are refused: some tools read them as octal, so `010` is ambiguous.
    if (!/^(?:0|[1-9]\d{0,2})$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseIPv6(text: string): bigint | null {
  let hex = text;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.indexOf('.', lastColon) >= 0) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    hex = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const gap = hex.indexOf('::');
  if (gap !== hex.lastIndexOf('::')) return null;
  let groups: string[];
  if (gap >= 0) {
    const left = hex.slice(0, gap);
    const right = hex.slice(gap + 2);
    const l = left === '' ? [] : left.split(':');
    const r = right === '' ? [] : right.split(':');
    if (l.length + r.length > 7) return null;
    groups = [...l, ...new Array<string>(8 - l.length - r.length).fill('0'), ...r];
  } else {
    groups = hex.split(':');
    if (groups.length !== 8) return null;
  }
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return null;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  return value;
}

function hostMask(family: IpFamily, length: number): bigint {
  return (1n << BigInt(WIDTH[family] - length)) - 1n;
}

/**
 * An IPv4-mapped IPv6 prefix becomes the IPv4 prefix it stands for: dual-stack servers and logs show
 * IPv4 clients as `::ffff:a.b.c.d`, and the network security group sees those clients as IPv4.
 */
function unmap(p: IpPrefix): IpPrefix {
  if (p.family === 6 && p.length >= 96 && (p.address & V4_MAPPED_MASK) === V4_MAPPED) {
    return { family: 4, address: p.address & 0xffffffffn, length: p.length - 96 };
  }
  return p;
}

/**
 * Readings of recent texts. Every command and click checks its sources against the rule's and the
 * policy's prefixes, which are the same few texts each time; parsing them again was a tenth of the
 * memory a Slack command allocated (bench, heap sampling). Readings are never changed by their
 * readers. Bounded, since the texts include what people type: emptied when full, and a text longer
 * than any address or CIDR (`ffff:…:ffff/128` is 43 characters) is read afresh and not kept.
 */
const readings = new Map<string, Reading>();
const READINGS_KEPT = 1_024;
const LONGEST_KEPT = 64;

function read(text: string): Reading {
  const t = text.trim();
  if (t.length > LONGEST_KEPT) return readAfresh(t);
  const known = readings.get(t);
  if (known) return known;
  if (readings.size >= READINGS_KEPT) readings.clear();
  const reading = readAfresh(t);
  readings.set(t, reading);
  return reading;
}

function readAfresh(t: string): Reading {
  const slash = t.indexOf('/');
  const addressText = slash < 0 ? t : t.slice(0, slash);
  const family: IpFamily = addressText.includes(':') ? 6 : 4;
  const address = family === 6 ? parseIPv6(addressText) : parseIPv4(addressText);
  if (address === null) return { ok: false, problem: `${quoteWord(t)} is not an IP address or CIDR; use 203.0.113.7, 10.0.0.0/8 or 2001:db8::/32` };
  let length = WIDTH[family];
  if (slash >= 0) {
    const lengthText = t.slice(slash + 1);
    if (!/^(?:0|[1-9]\d{0,2})$/.test(lengthText) || Number(lengthText) > WIDTH[family]) {
      return { ok: false, problem: `${quoteWord(t)} has a bad prefix length; an IPv${family} prefix length is 0 to ${WIDTH[family]}` };
    }
    length = Number(lengthText);
  }
  const mask = hostMask(family, length);
  const prefix = unmap({ family, address: address & ~mask, length });
  return { ok: true, prefix, hostBits: (address & mask) !== 0n };
}

function formatIPv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

/** RFC 5952: lower case, no leading zeros, the longest run (first on a tie) of two or more zero groups as `::`. */
function formatIPv6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

/** The canonical text: a bare address for a full-length prefix, `address/length` otherwise. */
export function formatPrefix(p: IpPrefix): string {
  const address = p.family === 4 ? formatIPv4(p.address) : formatIPv6(p.address);
  return p.length === WIDTH[p.family] ? address : `${address}/${p.length}`;
}

/** An address or CIDR with no host bits set; null otherwise. `*` is not a prefix (see normalizeSource). */
export function parsePrefix(text: string): Readonly<IpPrefix> | null {
  const r = read(text);
  return r.ok && !r.hostBits ? r.prefix : null;
}

/**
 * Why `text` is not a usable source, in one line; null when it is. A CIDR with host bits set
 * (`10.1.2.3/8`) is refused rather than silently widened or narrowed: the user meant one of two
 * things and the bot should not guess which.
 */
export function describeSourceProblem(text: string): string | null {
  const t = text.trim();
  if (t === ANY_SOURCE) return null;
  const r = read(t);
  if (!r.ok) return r.problem;
  if (r.hostBits) {
    const address = t.slice(0, t.indexOf('/'));
    return `${quoteWord(t)} has host bits set; use ${formatPrefix(r.prefix)} for the network or ${address} for the one address`;
  }
  return null;
}

/** The canonical form of a source (`*`, an address, or a CIDR), or null when it is not one. */
export function normalizeSource(text: string): string | null {
  const t = text.trim();
  if (t === ANY_SOURCE) return ANY_SOURCE;
  const p = parsePrefix(t);
  return p ? formatPrefix(p) : null;
}

/** `*`, `0.0.0.0/0` and `::/0`: the whole internet. */
export function isAnySource(text: string): boolean {
  const t = text.trim();
  if (t === ANY_SOURCE) return true;
  const p = parsePrefix(t);
  return p !== null && p.length === 0;
}

/**
 * True when every address `inner` names lies inside `outer`. `*` contains everything; only `*`
 * contains `*`. IPv4 and IPv6 never contain each other. An `outer` with host bits set (possible in an
 * Azure policy written by hand) is read as its network; anything unreadable contains nothing.
 */
export function prefixContains(outer: string, inner: string): boolean {
  const o = outer.trim();
  const i = inner.trim();
  if (i === ANY_SOURCE) return o === ANY_SOURCE;
  const ri = read(i);
  if (!ri.ok) return false;
  if (o === ANY_SOURCE) return true;
  const ro = read(o);
  if (!ro.ok) return false;
  const a = ro.prefix;
  const b = ri.prefix;
  if (a.family !== b.family || a.length > b.length) return false;
  const shift = BigInt(WIDTH[a.family] - a.length);
  return a.address >> shift === b.address >> shift;
}

/** True when `source` lies inside at least one of the allowed prefixes. */
export function sourceAllowed(source: string, allowed: readonly string[]): boolean {
  return allowed.some((prefix) => prefixContains(prefix, source));
}

/**
 * The widest prefixes that still count as naming a network rather than "anywhere". A source wider
 * than these opens a port to so many addresses (a /1 is half the internet) that it needs a rule's
 * `allowAnySource`, exactly like `*`.
 */
export interface SourceLimits {
  /** Shortest IPv4 prefix length that is not "any source" (16: a /16 is 65,536 addresses). */
  ipv4: number;
  /** Shortest IPv6 prefix length that is not "any source" (48: one site's allocation). */
  ipv6: number;
}

export const DEFAULT_SOURCE_LIMITS: Readonly<SourceLimits> = { ipv4: 16, ipv6: 48 };

/** How many addresses a source covers: 1 for an address, 2^(width − length) for a CIDR, null for `*` or junk. */
export function addressCount(source: string): bigint | null {
  const t = source.trim();
  if (t === ANY_SOURCE) return null;
  const r = read(t);
  if (!r.ok) return null;
  return 1n << BigInt(WIDTH[r.prefix.family] - r.prefix.length);
}

/**
 * True when the source is wider than the limit for its family: `*`, `/0`, `0.0.0.0/1` and `::/1`
 * all are under the default limits, `10.1.0.0/16` and `2001:db8:1::/48` are not. Unreadable text
 * counts as wide, so nothing unparsed slips past a check built on this.
 */
export function isWiderThan(source: string, limits: SourceLimits = DEFAULT_SOURCE_LIMITS): boolean {
  const t = source.trim();
  if (t === ANY_SOURCE) return true;
  const r = read(t);
  if (!r.ok) return true;
  return r.prefix.length < (r.prefix.family === 4 ? limits.ipv4 : limits.ipv6);
}

/** `1 address`, `256 addresses`, `2^64 addresses`: the count people can read on a card. */
export function describeAddressCount(source: string): string {
  return countWords(addressCount(source));
}

function countWords(n: bigint | null): string {
  if (n === null) return 'every address';
  if (n === 1n) return '1 address';
  if (n <= 1n << 32n) return `${n.toLocaleString('en-US')} addresses`;
  // Not a power of two when several prefixes add up; the nearest power is what a person can read.
  const bits = n.toString(2).length - 1;
  return `${n === 1n << BigInt(bits) ? '' : 'about '}2^${bits} addresses`;
}

/** The prefixes a request opens: several where it took the policy's list, else its one source. */
export function sourcesOf(r: { source: string; sources?: readonly string[] }): string[] {
  return r.sources && r.sources.length > 0 ? [...r.sources] : [r.source];
}

/** `10.0.0.0/8 and 192.168.0.0/16`, `a, b and c`. */
export function sourcesText(sources: readonly string[]): string {
  return sources.length <= 1 ? (sources[0] ?? '') : `${sources.slice(0, -1).join(', ')} and ${sources[sources.length - 1]}`;
}

/** The prefixes that no other one of them contains: CIDRs either nest or do not meet, so these never overlap. */
function outermost(sources: readonly string[]): string[] {
  const unique = [...new Set(sources.map((s) => normalizeSource(s) ?? s.trim()))];
  return unique.filter((p, i) => !unique.some((q, j) => j !== i && prefixContains(q, p) && (!prefixContains(p, q) || j < i)));
}

/** How many distinct addresses the prefixes cover together (nested ones once); null when one is `*` or unreadable. */
export function totalAddressCount(sources: readonly string[]): bigint | null {
  let total = 0n;
  for (const p of outermost(sources)) {
    const n = addressCount(p);
    if (n === null) return null;
    total += n;
  }
  return total;
}

/** `16,842,752 addresses` for 10.0.0.0/8 and 192.168.0.0/16. */
export function describeAddressTotal(sources: readonly string[]): string {
  return countWords(totalAddressCount(sources));
}

/**
 * Several prefixes count as wide when one of them is, or when together they cover more addresses of
 * a family than the widest single prefix allowed for it: two /17s are no narrower than a /16.
 */
export function isSetWiderThan(sources: readonly string[], limits: SourceLimits = DEFAULT_SOURCE_LIMITS): boolean {
  if (sources.some((s) => isWiderThan(s, limits))) return true;
  const byFamily = { 4: 0n, 6: 0n };
  for (const p of outermost(sources)) {
    const parsed = parsePrefix(p);
    if (!parsed) return true;
    byFamily[parsed.family] += 1n << BigInt(WIDTH[parsed.family] - parsed.length);
  }
  return byFamily[4] > 1n << BigInt(32 - limits.ipv4) || byFamily[6] > 1n << BigInt(128 - limits.ipv6);
}

/** True when both name the same prefixes, in any order and spelling. */
export function sameSources(a: readonly string[], b: readonly string[]): boolean {
  const norm = (xs: readonly string[]) => [...new Set(xs.map((x) => normalizeSource(x) ?? x.trim()))].sort();
  const x = norm(a);
  const y = norm(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** The source word of `from me`: the address the requester's browser comes from, captured by the link. */
export const FROM_ME = 'me';

/**
 * RFC 1918 and RFC 4193 ranges (and loopback): a bot on the internet never sees a client address in
 * them, so a policy limited to them cannot be met by `from me` unless the bot sits inside the network.
 */
const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'];

export function isPrivatePrefix(prefix: string): boolean {
  return PRIVATE_RANGES.some((range) => prefixContains(range, prefix));
}

/** An address a socket reports, as a single-address source (`::ffff:a.b.c.d` becomes `a.b.c.d`); null when unreadable. */
export function singleAddress(text: string): string | null {
  const t = text.trim().replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (t.includes('/')) return null;
  const p = parsePrefix(t);
  return p ? formatPrefix(p) : null;
}
