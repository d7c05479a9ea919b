// Who a person is for the access rules: the file's `people:` entry and the directory groups they are
// in (Entra ID, Slack user groups). Memberships are cached per person: an answer younger than half
// the TTL is used as is, an older one is used while a fresh one is fetched in the background, and
// one past the TTL is never used, so a removal from a group takes effect within the TTL. A directory
// that does not answer grants nothing (its groups are listed as unchecked); the file still counts.
import { findPerson } from '../core/access';
import { normalizeEmail } from '../core/email';
import { DirectoryError } from '../core/errors';
import type { AccessPolicy, Person, UnknownGroup } from '../core/policy';
import { FILE_ORIGIN, type Origin } from '../core/whois';
import { errorFields, type Logger } from './logger';
import type { Clock, Directory, DirectoryGroupRef, DirectoryKind } from './ports';

export const DEFAULT_DIRECTORY_TTL_MS = 10 * 60_000;
const DEFAULT_TIMEOUT_MS = 8_000;
/** Past this many cached answers, expired ones are dropped before another is added. */
const MAX_CACHED = 10_000;
/** How long a failed lookup stands before the directory is asked again. */
const FAILURE_HOLD_MS = 30_000;

/** What one directory said about a person: their groups there, or why it could not say. */
type Answer =
  | { ok: true; name?: string; groups: string[]; expiresAt: number; refreshAt: number }
  /** Kept until retryAt, so a directory that hangs costs one deadline a half-minute, not one per click. */
  | { ok: false; error: DirectoryError; retryAt: number };

/** One directory's answer about one person: the lookup under way, and the last good answer. */
interface Entry {
  pending?: Promise<Answer>;
  settled?: Answer;
  refreshing?: boolean;
}

export interface ResolvedPerson {
  person: Person | null;
  /** Lower-cased group name → where the membership was read. */
  origins: Map<string, Origin[]>;
  /**
   * True when the person is in no `people:` entry and in no group a directory confirmed, but a
   * directory did not answer: they may be someone, and are given nothing until it does.
   */
  provisional: boolean;
}

export interface PeopleOptions {
  policy: AccessPolicy;
  groups?: readonly DirectoryGroupRef[];
  clock: Clock;
  log: Logger;
  ttlMs?: number;
  /** Per directory call. */
  timeoutMs?: number;
}

/** The last thing each directory said about itself, for readiness and logs. */
export interface DirectoryStatus {
  directory: string;
  ok: boolean;
  message?: string;
}

export class People {
  private readonly directories = new Map<DirectoryKind, Directory>();
  private readonly cache = new Map<string, Entry>();
  private readonly memberCache = new Map<string, { at: number; members: Promise<Person[]> }>();
  private readonly status = new Map<DirectoryKind, DirectoryStatus>();
  private readonly groups: DirectoryGroupRef[];
  private readonly ttlMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly o: PeopleOptions) {
    this.groups = (o.groups ?? []).map((g) => ({ ...g, name: g.name.toLowerCase() }));
    this.ttlMs = o.ttlMs ?? DEFAULT_DIRECTORY_TTL_MS;
    this.timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** A directory to read; groups of a kind with no directory added are unchecked (they grant nothing). */
  addDirectory(d: Directory): void {
    this.directories.set(d.kind, d);
  }

  /** Kinds the configuration names groups of. */
  get kinds(): DirectoryKind[] {
    return [...new Set(this.groups.map((g) => g.kind))];
  }

  /**
   * The person for the access rules, or null when neither the file nor any directory that answered
   * knows them; then `unchecked` lists the groups of directories that did not answer (so the person
   * can be told the directory is why, without naming the groups).
   */
  async known(email: string | null, hint?: { name?: string }): Promise<{ person: Person | null; unchecked: UnknownGroup[] }> {
    const r = await this.resolve(email, hint);
    if (r.provisional) return { person: null, unchecked: r.person?.unknownGroups ?? [] };
    return { person: r.person, unchecked: [] };
  }

  /** As `known`, for commands and views: the person or null. */
  async person(email: string | null, hint?: { name?: string }): Promise<Person | null> {
    return (await this.known(email, hint)).person;
  }

  /**
   * The person deciding on one request: also someone known to no one only because a directory did
   * not answer, so their refusal names the directory and the rule's group rather than a stranger's.
   */
  async decider(email: string | null, hint?: { name?: string }): Promise<Person | null> {
    return (await this.resolve(email, hint)).person;
  }

  /** The person, with where each of their groups was read (whois). */
  async resolve(email: string | null, hint?: { name?: string }): Promise<ResolvedPerson> {
    const e = normalizeEmail(email);
    const origins = new Map<string, Origin[]>();
    if (!e) return { person: null, origins, provisional: false };
    const fromFile = findPerson(this.o.policy, e);
    for (const g of fromFile?.groups ?? []) origins.set(g.toLowerCase(), [FILE_ORIGIN]);
    if (this.groups.length === 0) return { person: fromFile, origins, provisional: false };

    const answers = await this.answersFor(e);
    const groups = new Set((fromFile?.groups ?? []).map((g) => g.toLowerCase()));
    const unknown: UnknownGroup[] = [];
    let name: string | undefined;
    for (const g of this.groups) {
      const answer = answers.get(g.kind);
      const label = this.labelOf(g.kind);
      if (!answer || !answer.ok) {
        const why = answer && !answer.ok && answer.error.kind === 'consent' ? 'not-permitted' : 'unreachable';
        if (!groups.has(g.name)) unknown.push({ group: g.name, directory: label, why });
        continue;
      }
      name ??= answer.name;
      if (answer.groups.includes(g.name)) {
        groups.add(g.name);
        origins.set(g.name, [...(origins.get(g.name) ?? []), label]);
      }
    }
    const viaDirectory = [...groups].some((g) => origins.get(g)?.some((o) => o !== FILE_ORIGIN));
    // Every directory answered and none knows them, nor does the file: a stranger.
    if (!fromFile && !viaDirectory && unknown.length === 0) return { person: null, origins, provisional: false };
    const person: Person = {
      email: e,
      name: fromFile?.name ?? name ?? hint?.name?.trim() ?? e,
      groups: [...groups],
      ...(unknown.length ? { unknownGroups: unknown } : {}),
    };
    return { person, origins, provisional: !fromFile && !viaDirectory };
  }

  /** True when the file or a recent directory answer knows the email (no directory call is made). */
  knowsNow(email: string | null): boolean {
    const e = normalizeEmail(email);
    if (!e) return false;
    if (findPerson(this.o.policy, e)) return true;
    const now = this.o.clock.now().getTime();
    return this.kinds.some((kind) => {
      const a = this.cache.get(`${kind}:${e}`)?.settled;
      return a !== undefined && a.ok && a.expiresAt > now && a.groups.length > 0;
    });
  }

  /**
   * People the directories list in these groups (approver lists), each with the groups they were
   * listed in. A group whose directory does not answer adds nobody; approving still checks rights.
   */
  async membersOf(groupNames: readonly string[]): Promise<Person[]> {
    const wanted = new Set(groupNames.map((g) => g.toLowerCase()));
    const lists = await Promise.all(this.groups.filter((g) => wanted.has(g.name)).map((g) => this.groupMembers(g)));
    const byEmail = new Map<string, Person>();
    for (const p of lists.flat()) {
      const known = byEmail.get(p.email);
      byEmail.set(p.email, known ? { ...known, groups: [...new Set([...known.groups, ...p.groups])] } : p);
    }
    return [...byEmail.values()];
  }

  /** What each directory last said (readiness): a 403 names the missing permission. */
  directoryStatus(): DirectoryStatus[] {
    return this.kinds.map((k) => this.status.get(k) ?? { directory: this.labelOf(k), ok: true });
  }

  private labelOf(kind: DirectoryKind): string {
    return this.directories.get(kind)?.label ?? (kind === 'entra' ? 'Microsoft Entra ID' : 'Slack');
  }

  private async answersFor(email: string): Promise<Map<DirectoryKind, Answer>> {
    const kinds = this.kinds;
    const answers = await Promise.all(kinds.map((kind) => this.answerFor(kind, email)));
    return new Map(kinds.map((kind, i) => [kind, answers[i]]));
  }

  /** One directory's answer about one person, from the cache while it may be trusted. */
  private answerFor(kind: DirectoryKind, email: string): Promise<Answer> {
    const key = `${kind}:${email}`;
    const now = this.o.clock.now().getTime();
    const entry = this.cache.get(key);
    const settled = entry?.settled;
    if (entry && settled && settled.ok && settled.expiresAt > now) {
      if (!entry.refreshing && settled.refreshAt <= now) this.refreshInBackground(kind, email, entry);
      return Promise.resolve(settled);
    }
    if (entry?.pending) return entry.pending;
    if (settled && !settled.ok && settled.retryAt > now) return Promise.resolve(settled);
    if (this.cache.size >= MAX_CACHED) this.prune(now);
    const fresh: Entry = { pending: this.fetch(kind, email) };
    this.cache.set(key, fresh);
    void fresh.pending!.then((answer) => {
      fresh.settled = answer;
      delete fresh.pending;
    });
    return fresh.pending!;
  }

  /** Drops answers past their TTL, so the cache holds about the people active within one TTL. */
  private prune(now: number): void {
    for (const [key, entry] of this.cache) {
      const a = entry.settled;
      if (!entry.pending && (!a || (a.ok ? a.expiresAt : a.retryAt) <= now)) this.cache.delete(key);
    }
  }

  private refreshInBackground(kind: DirectoryKind, email: string, entry: Entry): void {
    entry.refreshing = true;
    void this.fetch(kind, email).then((answer) => {
      // A failed refresh keeps the answer still within its TTL; past the TTL it is not used anyway.
      if (answer.ok) entry.settled = answer;
      entry.refreshing = false;
    });
  }

  private async fetch(kind: DirectoryKind, email: string): Promise<Answer> {
    const groups = this.groups.filter((g) => g.kind === kind);
    const directory = this.directories.get(kind);
    if (!directory) return { ok: false, error: new DirectoryError('unknown', `${this.labelOf(kind)} is not connected to jitbot`), retryAt: 0 };
    try {
      const r = await directory.membership(email, groups, { timeoutInMs: this.timeoutMs });
      const ids = new Set(r.groupIds.map((id) => id.toLowerCase()));
      const asOf = Math.min(r.asOf.getTime(), this.o.clock.now().getTime());
      this.status.set(kind, { directory: directory.label, ok: true });
      return {
        ok: true,
        ...(r.name ? { name: r.name } : {}),
        groups: groups.filter((g) => ids.has(g.id.toLowerCase())).map((g) => g.name),
        expiresAt: asOf + this.ttlMs,
        refreshAt: asOf + this.ttlMs / 2,
      };
    } catch (err) {
      const error = err instanceof DirectoryError ? err : new DirectoryError('unknown', `${directory.label} failed`, { cause: err });
      this.status.set(kind, { directory: directory.label, ok: false, message: error.message });
      this.o.log.warn({ ...errorFields(err), directory: directory.label, kind: error.kind }, error.message);
      return { ok: false, error, retryAt: this.o.clock.now().getTime() + FAILURE_HOLD_MS };
    }
  }

  private groupMembers(g: DirectoryGroupRef): Promise<Person[]> {
    const now = this.o.clock.now().getTime();
    const key = `${g.kind}:${g.id}`;
    const hit = this.memberCache.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.members;
    const directory = this.directories.get(g.kind);
    if (!directory) return Promise.resolve([]);
    const members = directory.members(g, { timeoutInMs: this.timeoutMs }).then(
      (list) => list.map((m): Person => ({ email: m.email, name: m.name ?? m.email, groups: [g.name] })),
      (err: unknown) => {
        // Held briefly like a failed membership lookup: card refreshes must not each wait for a dead directory.
        this.memberCache.set(key, { at: now - this.ttlMs + FAILURE_HOLD_MS, members: Promise.resolve([]) });
        this.o.log.warn({ ...errorFields(err), directory: directory.label, group: g.name }, 'could not list a directory group; its members are left out of approver lists');
        return [];
      },
    );
    this.memberCache.set(key, { at: now, members });
    return members;
  }
}
