// The command grammar of DESIGN §3: the words after `/jit` become a typed Command or a one-line
// CommandError. Nothing here throws; every input, however odd, gets an answer.
import { normalizeEmail } from './email';
import { USAGE, type Command, type CommandError, type CommandKind, type EnableCommand, type ParseResult } from './command';
import { parseDuration } from './duration';
import { FROM_ME, normalizeSource } from './cidr';
import { closestMatch, controlCharacterProblem, quoteWord } from './text';
import {
  looksLikePorts,
  parseDays,
  parseDurationWord,
  parsePortList,
  parseReason,
  parseRequestId,
  parseSource,
  parseSourceList,
  parseVmList,
  parseVmName,
  type WordResult,
} from './words';

const KEYWORDS = ['help', 'vms', 'status', 'cancel', 'release', 'extend', 'policy', 'enable', 'audit', 'whois'] as const;
type Keyword = (typeof KEYWORDS)[number];
const HELP_WORDS = new Set(['help', '?', '-h', '--help']);

/**
 * `<at>Name</at>`: Teams wraps every @mention in these. Neither the tag nor the name holds `<`, and
 * excluding it keeps every attempt within the stretch up to the next `<`: linear on hostile input
 * (`<at<at<at…` made `[^>]*` rescan the rest of the text from every `<`).
 */
const MENTION = /<at\b[^<>]*>[^<]*<\/at>/gi;
const LEADING_NOISE = /^(?:\s+|<at\b[^<>]*>[^<]*<\/at>|\/?jit(?=\s|$))/i;
const WHOLE_MENTION = /^<at\b[^<>]*>[^<]*<\/at>$/i;

/** The longest command read; longer text is answered at once, before any other work. */
export const MAX_COMMAND_LENGTH = 2000;

type Step<T> = { ok: true; value: T } | { ok: false; error: CommandError };

function fail(kind: CommandKind, message: string): { ok: false; error: CommandError } {
  return { ok: false, error: { message, usage: USAGE[kind] } };
}

function done(command: Command): ParseResult {
  return { ok: true, command };
}

function lift<T>(kind: CommandKind, r: WordResult<T>): Step<T> {
  return r.ok ? r : fail(kind, r.message);
}

/**
 * The words the user meant: without the bot's own mention (at the start, or else at the end, as Teams
 * sends it), without a leading `/jit` or `jit`, and with non-breaking spaces as spaces. Any other
 * mention (someone named in a reason) stays readable as `@Name`.
 */
export function cleanCommandText(text: string): string {
  let t = text.replace(/&nbsp;/gi, ' ');
  let mentioned = false;
  for (let m = LEADING_NOISE.exec(t); m && m[0] !== ''; m = LEADING_NOISE.exec(t)) {
    mentioned ||= m[0].startsWith('<');
    t = t.slice(m[0].length);
  }
  // The bot is mentioned once; when that was at the start, a mention at the end is someone else's.
  if (!mentioned) t = withoutTrailingMentions(t);
  return t.replace(MENTION, (tag) => `@${tag.replace(/<[^<>]*>/g, '').trim()}`).trim();
}

/**
 * `t` without the mentions it ends with. Each step looks only at the text after the last `<` but one,
 * which the next step cuts away: linear however many mentions there are.
 */
function withoutTrailingMentions(text: string): string {
  let t = text.trimEnd();
  for (;;) {
    if (t.slice(-5).toLowerCase() !== '</at>') return t;
    const open = t.lastIndexOf('<', t.length - 6);
    if (open < 0 || !WHOLE_MENTION.test(t.slice(open))) return t;
    t = t.slice(0, open).trimEnd();
  }
}

/** Spaces after (or before) commas join list items, so `ssh, rdp` is one word. */
function words(text: string): string[] {
  const out: string[] = [];
  for (const w of text.split(/\s+/)) {
    if (w === '') continue;
    if (out.length > 0 && (w.startsWith(',') || out[out.length - 1].endsWith(','))) out[out.length - 1] += w;
    else out.push(w);
  }
  return out;
}

function unexpected(kind: CommandKind, word: string, hint: string): { ok: false; error: CommandError } {
  return fail(kind, `unexpected ${quoteWord(word)} ${hint}`);
}

export function parseCommand(text: string): ParseResult {
  const typed = typeof text === 'string' ? text : '';
  // Before anything else reads it: a pasted log or an attack gets one line, not a scan of it.
  if (typed.length > MAX_COMMAND_LENGTH) {
    return fail('request', `the command is ${typed.length.toLocaleString('en-US')} characters long; keep it to ${MAX_COMMAND_LENGTH.toLocaleString('en-US')}`);
  }
  const control = controlCharacterProblem('the command', typed);
  if (control !== null) return fail('request', `${control}; type it again without it`);
  const cleaned = cleanCommandText(typed);
  if (cleaned === '') return done({ kind: 'form' });
  const first = cleaned.split(/\s+/, 1)[0];
  const keyword = first.toLowerCase();
  if (HELP_WORDS.has(keyword)) return done({ kind: 'help' });
  if ((KEYWORDS as readonly string[]).includes(keyword)) {
    return parseKeywordCommand(keyword as Keyword, words(cleaned).slice(1));
  }
  if (looksLikePorts(first)) return parseRequest(cleaned);
  const suggestion = closestMatch(keyword, KEYWORDS);
  return fail(
    'request',
    `${quoteWord(first)} is not a command or a port; ${suggestion ? `did you mean ${suggestion}?` : 'try /jit help'}`,
  );
}

function parseKeywordCommand(keyword: Keyword, args: string[]): ParseResult {
  switch (keyword) {
    case 'help':
      return done({ kind: 'help' });
    case 'vms':
      return parseVms(args);
    case 'status':
      return args.length === 0 ? done({ kind: keyword }) : unexpected(keyword, args[0], `after ${keyword}; it takes nothing more`);
    case 'cancel':
    case 'release':
      return parseIdCommand(keyword, args);
    case 'extend':
      return parseExtend(args);
    case 'policy':
      return parsePolicy(args);
    case 'enable':
      return parseEnable(args);
    case 'audit':
      return parseAudit(args);
    case 'whois':
      return parseWhois(args);
  }
}

/** `whois <email>`; Slack may send a typed address as `<mailto:a@b|a@b>`, Teams as a mailto link's text. */
function parseWhois(args: string[]): ParseResult {
  if (args.length === 0) return fail('whois', 'whois needs an email address, as in /jit whois alice@example.com');
  if (args.length > 1) return unexpected('whois', args[1], 'after the email address; whois shows one person');
  const word = args[0];
  const mailto = /^<mailto:([^|>]+)(?:\|[^>]*)?>$/i.exec(word);
  const email = normalizeEmail(mailto ? mailto[1] : word);
  return email ? done({ kind: 'whois', email }) : fail('whois', `${quoteWord(word)} is not an email address`);
}

/** A name filter: the characters of a VM name, with `*` as a wildcard. */
const VM_FILTER = /^[A-Za-z0-9._*-]{1,80}$/;
const MAX_PAGE = 10_000;

/** `vms [<filter>] [page <n>]`: the filter matches names that contain it (or, with `*`, the glob). */
function parseVms(args: string[]): ParseResult {
  const rest = [...args];
  let filter: string | undefined;
  if (rest.length > 0 && rest[0].toLowerCase() !== 'page') {
    const word = rest.shift()!;
    if (!VM_FILTER.test(word)) return fail('vms', `${quoteWord(word)} is not part of a VM name`);
    filter = word;
  }
  let page: number | undefined;
  if (rest.length > 0 && rest[0].toLowerCase() === 'page') {
    rest.shift();
    const n = rest.shift();
    if (n === undefined || !/^\d{1,5}$/.test(n) || Number(n) < 1 || Number(n) > MAX_PAGE) return fail('vms', `page needs a number, as in /jit vms page 2`);
    page = Number(n);
  }
  if (rest.length > 0) return unexpected('vms', rest[0], 'after the filter and page');
  return done({ kind: 'vms', ...(filter !== undefined ? { filter } : {}), ...(page !== undefined ? { page } : {}) });
}

function parseIdCommand(kind: 'cancel' | 'release', args: string[]): ParseResult {
  if (args.length === 0) return fail(kind, `${kind} needs a request id, as in /jit ${kind} R4K7QX`);
  if (args.length > 1) return unexpected(kind, args[1], 'after the request id');
  const id = lift(kind, parseRequestId(args[0]));
  return id.ok ? done({ kind, id: id.value }) : id;
}

function parseExtend(args: string[]): ParseResult {
  if (args.length === 0) return fail('extend', 'extend needs a request id and a duration, as in /jit extend R4K7QX 30m');
  if (args.length === 1) {
    return parseDuration(args[0]) !== null
      ? fail('extend', `missing the request id before ${quoteWord(args[0])}`)
      : fail('extend', `missing the duration after ${quoteWord(args[0])}, as in /jit extend R4K7QX 30m`);
  }
  if (args.length > 2) return unexpected('extend', args[2], 'after the duration');
  const id = lift('extend', parseRequestId(args[0]));
  if (!id.ok) return id;
  const minutes = lift('extend', parseDurationWord(args[1]));
  if (!minutes.ok) return minutes;
  return done({ kind: 'extend', id: id.value, durationMinutes: minutes.value });
}

function parsePolicy(args: string[]): ParseResult {
  if (args.length === 0) return fail('policy', 'policy needs a VM name, as in /jit policy web-01');
  if (args.length > 1) return unexpected('policy', args[1], 'after the VM name; policy shows one VM');
  if (args[0].includes(',')) return fail('policy', `${quoteWord(args[0])} names several VMs; policy shows one at a time`);
  const vm = lift('policy', parseVmName(args[0], { allowGlob: false }));
  return vm.ok ? done({ kind: 'policy', vm: vm.value }) : vm;
}

function parseEnable(args: string[]): ParseResult {
  if (args.length === 0) return fail('enable', 'enable needs a VM name, as in /jit enable web-01');
  if (args[0].includes(',')) return fail('enable', `${quoteWord(args[0])} names several VMs; enable one at a time`);
  const vm = lift('enable', parseVmName(args[0], { allowGlob: false }));
  if (!vm.ok) return vm;
  const command: EnableCommand = { kind: 'enable', vm: vm.value };
  for (let i = 1; i < args.length; i++) {
    const word = args[i].toLowerCase();
    if (word === 'max' || word === 'from') {
      const value = args[i + 1];
      const already = word === 'max' ? command.maxDurationMinutes !== undefined : command.sources !== undefined;
      if (already) return fail('enable', `${word} is given twice`);
      if (value === undefined) {
        return fail('enable', word === 'max' ? 'max needs a duration, as in max 3h' : 'from needs prefixes, as in from 10.0.0.0/8');
      }
      i++;
      if (word === 'max') {
        const max = lift('enable', parseDurationWord(value));
        if (!max.ok) return max;
        command.maxDurationMinutes = max.value;
      } else {
        const sources = lift('enable', parseSourceList(value));
        if (!sources.ok) return sources;
        command.sources = sources.value;
      }
    } else if (looksLikePorts(args[i])) {
      if (command.ports !== undefined) return fail('enable', `ports are given twice; list them once, as in ssh,rdp`);
      const ports = lift('enable', parsePortList(args[i]));
      if (!ports.ok) return ports;
      command.ports = ports.value;
    } else {
      return unexpected('enable', args[i], 'after the VM name; enable takes ports, max <duration> and from <prefixes>');
    }
  }
  return done(command);
}

function parseAudit(args: string[]): ParseResult {
  let vm: string | undefined;
  let days: number | undefined;
  for (const arg of args) {
    if (/^\d+d?$/i.test(arg)) {
      if (days !== undefined) return fail('audit', 'the number of days is given twice');
      if (!/d$/i.test(arg)) return fail('audit', `${quoteWord(arg)} is not a number of days; write it as ${arg}d`);
      const n = lift('audit', parseDays(arg));
      if (!n.ok) return n;
      days = n.value;
    } else {
      if (vm !== undefined) return unexpected('audit', arg, 'after the VM name; audit takes one VM name or pattern');
      const name = lift('audit', parseVmName(arg, { allowGlob: true }));
      if (!name.ok) return name;
      vm = name.value;
    }
  }
  return done({ kind: 'audit', ...(vm !== undefined ? { vm } : {}), ...(days !== undefined ? { days } : {}) });
}

/** `<ports> <vms> <duration> [from <source>] [for <reason…>]`; the reason is the rest of the line, as typed. */
function parseRequest(text: string): ParseResult {
  const forWord = /\s(for)(?=\s|$)/i.exec(text);
  const head = forWord ? text.slice(0, forWord.index) : text;
  const reasonText = forWord ? text.slice(forWord.index + 1 + forWord[1].length) : undefined;
  const [portsWord, ...rest] = words(head);

  const ports = lift('request', parsePortList(portsWord));
  if (!ports.ok) return ports;

  const fromAt = rest.findIndex((w) => w.toLowerCase() === 'from');
  const positional = fromAt < 0 ? rest : rest.slice(0, fromAt);
  const shape = checkPositional(positional);
  if (!shape.ok) return shape;
  const vms = lift('request', parseVmList(positional[0]));
  if (!vms.ok) return vms;
  const minutes = lift('request', parseDurationWord(positional[1]));
  if (!minutes.ok) return minutes;

  let source: string | undefined;
  if (fromAt >= 0) {
    const after = rest.slice(fromAt + 1);
    if (after.length === 0) return fail('request', 'from needs an address or CIDR, as in from 203.0.113.7, or from me');
    if (after[0].toLowerCase() === FROM_ME) {
      source = FROM_ME;
    } else {
      const parsed = lift('request', parseSource(after[0]));
      if (!parsed.ok) return parsed;
      source = parsed.value;
    }
    if (after.length > 1) {
      return after[1].toLowerCase() === 'from'
        ? fail('request', 'from is given twice; a request has one source')
        : unexpected('request', after[1], 'after the source; a reason goes after for');
    }
  }

  let reason: string | undefined;
  if (reasonText !== undefined) {
    const parsed = lift('request', parseReason(reasonText));
    if (!parsed.ok) return parsed;
    if (parsed.value === '') return fail('request', 'for needs a reason, as in for INC-4711');
    reason = parsed.value;
  }

  return done({
    kind: 'request',
    ports: ports.value,
    vms: vms.value,
    durationMinutes: minutes.value,
    ...(source !== undefined ? { source } : {}),
    ...(reason !== undefined ? { reason } : {}),
  });
}

/** The words between the ports and `from`: exactly the VMs, then the duration. */
function checkPositional(positional: string[]): Step<void> {
  const isDuration = (w: string) => parseDuration(w) !== null;
  if (positional.length === 0) return fail('request', 'missing the VM names and the duration, as in /jit ssh web-01 1h');
  if (positional.length === 1) {
    return isDuration(positional[0])
      ? fail('request', `missing the VM names before ${quoteWord(positional[0])}`)
      : fail('request', `missing the duration after ${quoteWord(positional[0])}, as in 1h or 30m`);
  }
  if (isDuration(positional[0]) && !isDuration(positional[1])) {
    return fail('request', 'the VM names come before the duration, as in /jit ssh web-01 1h');
  }
  if (positional.length > 2) {
    const extra = positional[2];
    return normalizeSource(extra) !== null
      ? fail('request', `${quoteWord(extra)} needs from before it: from ${extra}`)
      : unexpected('request', extra, 'after the duration; add from <source> and for <reason…>');
  }
  return { ok: true, value: undefined };
}
