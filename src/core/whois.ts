// `/jit whois <email>`: which groups a person is in, which rules let them request or approve, and
// where each of those facts comes from (the file, or a directory). Pure: the app resolves the person
// and says where each group came from.
import { hasPrincipal, isAdmin } from './access';
import type { AccessPolicy, Person, Principal } from './policy';

/** Where a membership was read: the file, or a directory by its name (`Microsoft Entra ID`, `Slack`). */
export type Origin = string;
export const FILE_ORIGIN: Origin = 'the configuration file';

export interface WhoisView {
  email: string;
  /** Null when the person is unknown to the file and to every directory that answered. */
  name: string | null;
  groups: Array<{ group: string; from: Origin[] }>;
  /** Directory groups that could not be checked now; they grant nothing until they can. */
  unchecked: Array<{ group: string; directory: string; why?: 'unreachable' | 'not-permitted' }>;
  admin: { is: boolean; via: string[] };
  rules: Array<{ rule: string; request: string[]; approve: string[] }>;
}

/** `group:sre (Microsoft Entra ID)`, `bob@example.com (named)`, `* (anyone known)`. */
function matchedVia(person: Person, principals: readonly Principal[], origins: ReadonlyMap<string, Origin[]>): string[] {
  const out: string[] = [];
  for (const raw of principals) {
    const p = raw.trim().toLowerCase();
    if (!hasPrincipal(person, [p])) continue;
    if (p === '*') out.push('* (anyone known)');
    else if (p.startsWith('group:')) out.push(`${p} (${(origins.get(p.slice('group:'.length)) ?? [FILE_ORIGIN]).join(', ')})`);
    else out.push(`${p} (named)`);
  }
  return out;
}

/**
 * What applies to the person. `origins` maps each lower-cased group name to where the person's
 * membership was read (the file, a directory, or both).
 */
export function whoisView(policy: AccessPolicy, email: string, person: Person | null, origins: ReadonlyMap<string, Origin[]>): WhoisView {
  if (!person) return { email, name: null, groups: [], unchecked: [], admin: { is: false, via: [] }, rules: [] };
  return {
    email,
    name: person.name,
    groups: [...new Set(person.groups.map((g) => g.toLowerCase()))].sort().map((group) => ({ group, from: origins.get(group) ?? [FILE_ORIGIN] })),
    unchecked: (person.unknownGroups ?? []).map((u) => ({ group: u.group, directory: u.directory, ...(u.why ? { why: u.why } : {}) })),
    admin: { is: isAdmin(policy, person), via: matchedVia(person, policy.admins, origins) },
    rules: policy.rules
      .map((r) => ({ rule: r.name, request: matchedVia(person, r.requesters, origins), approve: matchedVia(person, r.approvers, origins) }))
      .filter((r) => r.request.length > 0 || r.approve.length > 0),
  };
}

/** The view as lines of plain text, for every platform's rendering. */
export function whoisLines(v: WhoisView): string[] {
  if (v.name === null) return [`${v.email} is not known to jitbot: not in the configuration file, and in no directory group it reads.`];
  const lines = [`${v.name} <${v.email}>`];
  lines.push(v.groups.length ? `Groups: ${v.groups.map((g) => `group:${g.group} (${g.from.join(', ')})`).join('; ')}` : 'Groups: none');
  for (const u of v.unchecked) {
    const because = u.why === 'not-permitted' ? `jitbot is not permitted to read ${u.directory}` : `${u.directory} could not be reached`;
    lines.push(`Not checked: group:${u.group}, because ${because}; it grants nothing until it answers`);
  }
  lines.push(v.admin.is ? `Admin: yes, through ${v.admin.via.join(', ')}` : 'Admin: no');
  if (v.rules.length === 0) lines.push('Rules: none lets this person request or approve');
  for (const r of v.rules) {
    const parts = [
      ...(r.request.length ? [`may request through ${r.request.join(', ')}`] : []),
      ...(r.approve.length ? [`may approve through ${r.approve.join(', ')}`] : []),
    ];
    lines.push(`Rule ${r.rule}: ${parts.join('; ')}`);
  }
  return lines;
}
