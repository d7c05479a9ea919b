// The words of the command grammar (DESIGN §3), one parser each. The grammar and the request form both
// use these, so a value typed in a form field is read exactly as the same word typed after /jit.
import { describeSourceProblem, normalizeSource, ANY_SOURCE } from './cidr';
import { formatDuration, parseDuration, MAX_DURATION_MINUTES, MIN_DURATION_MINUTES } from './duration';
import { controlCharacterProblem, quoteWord } from './text';
import type { PortSpec } from './types';

/** A parsed word, or what was wrong with it in one line. */
export type WordResult<T> = { ok: true; value: T } | { ok: false; message: string };

export const PORT_ALIASES: Readonly<Record<string, number>> = { ssh: 22, rdp: 3389, winrm: 5985, 'winrm-https': 5986 };

export const MAX_AUDIT_DAYS = 3650;
export const MAX_REASON_LENGTH = 500;

const PORT_FORMS = 'use ssh, rdp, winrm, winrm-https or a number 1-65535 with an optional /tcp or /udp';
const VM_FORMS = 'use a name like web-01, rg-web/web-01 or web-*';
const VM_NAME = /^[a-z0-9_.-]{1,64}$/i;
const VM_GLOB_STEM = /^[a-z0-9_.-]{0,63}$/i;
const RESOURCE_GROUP = /^[a-z0-9_().-]{1,90}$/i;
const REQUEST_ID = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/i;

function ok<T>(value: T): WordResult<T> {
  return { ok: true, value };
}

function bad<T>(message: string): WordResult<T> {
  return { ok: false, message };
}

/** The items of a comma list; null when one is empty (`ssh,,rdp`, `ssh,`). */
function items(text: string): string[] | null {
  const parts = text.split(',').map((p) => p.trim());
  return parts.some((p) => p === '') ? null : parts;
}

/** True when the first item of `word` is a port alias or starts like a port number, i.e. the user meant ports. */
export function looksLikePorts(word: string): boolean {
  const first = word.split(',')[0].trim().toLowerCase();
  const base = first.split('/')[0];
  return Object.hasOwn(PORT_ALIASES, base) || /^\d/.test(base);
}

/** `ssh`, `22`, `5986/tcp`, `53/udp`. Aliases and bare numbers leave the protocol to the policy (`*`). */
export function parsePort(word: string): WordResult<PortSpec> {
  const w = word.trim();
  const slash = w.indexOf('/');
  const base = (slash < 0 ? w : w.slice(0, slash)).toLowerCase();
  let number: number;
  if (Object.hasOwn(PORT_ALIASES, base)) {
    number = PORT_ALIASES[base];
  } else if (/^\d+$/.test(base)) {
    number = base.length > 5 ? Infinity : Number(base);
    if (number < 1 || number > 65535) return bad(`${quoteWord(base)} is not a port number; use 1 to 65535`);
  } else {
    return bad(`${quoteWord(w)} is not a port; ${PORT_FORMS}`);
  }
  if (slash < 0) return ok({ number, protocol: '*' });
  const protocol = w.slice(slash + 1).toLowerCase();
  if (protocol === 'tcp') return ok({ number, protocol: 'TCP' });
  if (protocol === 'udp') return ok({ number, protocol: 'UDP' });
  return bad(`${quoteWord(w)} has an unknown protocol; use /tcp or /udp, or leave it out`);
}

/** `ssh,rdp`, `22,8443/tcp`; repeated ports count once. */
export function parsePortList(text: string): WordResult<PortSpec[]> {
  const parts = items(text);
  if (!parts) return bad(`${quoteWord(text.trim())} has an empty item; separate ports with commas, as in ssh,rdp`);
  const ports: PortSpec[] = [];
  for (const part of parts) {
    const port = parsePort(part);
    if (!port.ok) return port;
    if (!ports.some((p) => p.number === port.value.number && p.protocol === port.value.protocol)) ports.push(port.value);
  }
  return ok(ports);
}

/** One VM: `web-01`, `rg-web/web-01`, or with `allowGlob` a trailing-`*` glob (`web-*`, `rg-web/*`). */
export function parseVmName(text: string, options: { allowGlob: boolean }): WordResult<string> {
  const t = text.trim();
  const slash = t.indexOf('/');
  if (slash >= 0 && !RESOURCE_GROUP.test(t.slice(0, slash))) return bad(`${quoteWord(t)} is not a VM name; ${VM_FORMS}`);
  const name = slash < 0 ? t : t.slice(slash + 1);
  const star = name.indexOf('*');
  if (star >= 0) {
    if (!options.allowGlob) return bad(`${quoteWord(t)} is a pattern; name one VM, as in web-01`);
    if (star !== name.length - 1) return bad(`${quoteWord(t)} has a * that is not at the end; a pattern looks like web-*`);
    if (!VM_GLOB_STEM.test(name.slice(0, -1))) return bad(`${quoteWord(t)} is not a VM name; ${VM_FORMS}`);
    return ok(t);
  }
  if (!VM_NAME.test(name)) return bad(`${quoteWord(t)} is not a VM name; ${VM_FORMS}`);
  return ok(t);
}

/** `web-01,web-02`, `web-*`; repeated names (in any case) count once. */
export function parseVmList(text: string): WordResult<string[]> {
  const parts = items(text);
  if (!parts) return bad(`${quoteWord(text.trim())} has an empty item; separate VM names with commas, as in web-01,web-02`);
  const names: string[] = [];
  for (const part of parts) {
    const name = parseVmName(part, { allowGlob: true });
    if (!name.ok) return name;
    if (!names.some((n) => n.toLowerCase() === name.value.toLowerCase())) names.push(name.value);
  }
  return ok(names);
}

/** A duration in minutes within Azure's limits (5 minutes to 24 hours). */
export function parseDurationWord(text: string): WordResult<number> {
  const t = text.trim();
  const minutes = parseDuration(t);
  if (minutes === null) return bad(`${quoteWord(t)} is not a duration; use 30m, 1h, 1h30m or PT1H30M`);
  if (minutes < MIN_DURATION_MINUTES || minutes > MAX_DURATION_MINUTES) {
    const limits = `a duration is ${formatDuration(MIN_DURATION_MINUTES)} to ${formatDuration(MAX_DURATION_MINUTES)}`;
    return minutes < MIN_DURATION_MINUTES
      ? bad(`${t} is shorter than the ${formatDuration(MIN_DURATION_MINUTES)} minimum; ${limits}`)
      : bad(`${t} is longer than the ${formatDuration(MAX_DURATION_MINUTES)} maximum; ${limits}`);
  }
  return ok(minutes);
}

/** An address, CIDR or `*`, in canonical form. */
export function parseSource(text: string): WordResult<string> {
  const problem = describeSourceProblem(text);
  if (problem !== null) return bad(problem);
  const source = normalizeSource(text);
  return source === null ? bad(`${quoteWord(text.trim())} is not an IP address or CIDR`) : ok(source);
}

/** Prefixes for `enable … from`: a comma list of sources; `*` only on its own. */
export function parseSourceList(text: string): WordResult<string[]> {
  const parts = items(text);
  if (!parts) return bad(`${quoteWord(text.trim())} has an empty item; separate prefixes with commas, as in 10.0.0.0/8,192.168.1.0/24`);
  const sources: string[] = [];
  for (const part of parts) {
    const source = parseSource(part);
    if (!source.ok) return source;
    if (!sources.includes(source.value)) sources.push(source.value);
  }
  if (sources.length > 1 && sources.includes(ANY_SOURCE)) return bad('* already allows every source; give it on its own');
  return ok(sources);
}

/** Request ids are typed by people, so case and a leading `#` do not matter. */
export function parseRequestId(text: string): WordResult<string> {
  const t = text.trim();
  const id = t.startsWith('#') ? t.slice(1) : t;
  if (!REQUEST_ID.test(id)) return bad(`${quoteWord(t)} is not a request id; ids look like R4K7QX`);
  return ok(id.toUpperCase());
}

/** `7d`, `30d`. */
export function parseDays(text: string): WordResult<number> {
  const t = text.trim();
  const m = /^(\d{1,6})d$/i.exec(t);
  const days = m ? Number(m[1]) : NaN;
  if (!(days >= 1 && days <= MAX_AUDIT_DAYS)) return bad(`${quoteWord(t)} is not a number of days; use 1d to ${MAX_AUDIT_DAYS}d`);
  return ok(days);
}

/** Free text for `for`: one line, at most MAX_REASON_LENGTH characters. */
export function parseReason(text: string): WordResult<string> {
  // Measured before any other work, so a pasted megabyte costs one comparison.
  if (text.length > MAX_REASON_LENGTH * 4) return bad(`the reason is ${text.length.toLocaleString('en-US')} characters long; keep it to ${MAX_REASON_LENGTH}`);
  const control = controlCharacterProblem('the reason', text);
  if (control !== null) return bad(`${control}; type it again without it`);
  const reason = text.replace(/\s+/g, ' ').trim();
  if (reason.length > MAX_REASON_LENGTH) {
    return bad(`the reason is ${reason.length} characters long; keep it to ${MAX_REASON_LENGTH}`);
  }
  return ok(reason);
}
