// The words of every thread reply and direct message, built from the request as it now is.
import { formatDuration, formatUtc } from './duration';
import type { AccessRequest, Actor } from './types';
import { clipText, summariseList, vmListText } from './text';
import { connectLines, formatPort, openSourcesText, peopleText, personView, sourceText, type Notice, type NoticeKind } from './views';

/** Longest reason a notice quotes; the audit keeps the whole text. */
const NOTICE_REASON_MAX = 300;

// A glob over hundreds of VMs would make every notice longer than a chat message may be.
function what(r: AccessRequest): string {
  return `${r.ports.map(formatPort).join(', ')} on ${vmListText(r.vms.map((v) => v.name))}`;
}

function quoted(reason: string): string {
  return clipText(reason, NOTICE_REASON_MAX);
}

function notice(r: AccessRequest, kind: NoticeKind, text: string, extra: Partial<Notice> = {}): Notice {
  return { kind, requestId: r.id, text, ...extra };
}

export function submittedNotice(r: AccessRequest): Notice {
  return notice(r, 'submitted', `${r.requester.name} asks for ${what(r)} from ${sourceText(r)} for ${formatDuration(r.durationMinutes)}${r.reason ? `: ${quoted(r.reason)}` : ''}.`);
}

export function approvalNotice(r: AccessRequest, by: Actor): Notice {
  return notice(r, 'approval', `${by.name} approved ${r.id} (${r.approvals.length} of ${r.requiredApprovals}).`);
}

export function approvedNotice(r: AccessRequest): Notice {
  const by = r.autoApproved ? 'automatically by rule' : `by ${r.approvals.map((a) => a.by.name).join(' and ')}`;
  // Azure writes the rules seconds after it accepts them: "open" comes in its own notice once it has.
  return notice(r, 'approved', `Approved ${by}; opening ${what(r)}…`);
}

export function deniedNotice(r: AccessRequest): Notice {
  const reason = r.denial?.reason ? `: ${quoted(r.denial.reason)}` : '.';
  return notice(r, 'denied', `Denied by ${r.denial?.by.name ?? 'an approver'}${reason}`, { mention: personView(r.requester) });
}

export function openedNotice(r: AccessRequest, now: Date): Notice {
  const until = r.endsAt ? formatUtc(r.endsAt, now) : 'the end time';
  const via = connectLines(r);
  // Every VM behind the firewall has its own line; a glob over many is summarised like the VM list.
  const connect = via.length > 0 ? ` Connect through Azure Firewall: ${summariseList(via, { maxItems: 10, maxChars: 600 })}.` : '';
  return notice(r, 'opened', `Open until ${until} from ${openSourcesText(r)}: ${what(r)}.${connect}`, { mention: personView(r.requester) });
}

export function failedNotice(r: AccessRequest): Notice {
  // The reason is a sentence of its own. When the bot could not make sure the ports closed again it
  // says so there ("… may stay open until …"), and "nothing was opened" would then be false.
  const reason = clipText((r.failure ?? 'Azure did not accept the request').trim(), 600).replace(/\.+$/, '');
  const closing = /\bmay stay open\b/.test(reason) ? '' : ' Nothing was opened.';
  return notice(r, 'failed', `Could not open ${what(r)}: ${reason}.${closing}`, {
    mention: personView(r.requester),
  });
}

export function reminderNotice(r: AccessRequest, now: Date): Notice {
  const until = r.endsAt ? formatUtc(r.endsAt, now) : 'soon';
  const mins = r.endsAt ? Math.max(0, Math.round((r.endsAt.getTime() - now.getTime()) / 60_000)) : 0;
  return notice(r, 'reminder', `${r.requester.name}, your access to ${what(r)} ends at ${until} (in ${mins} min). Extend or release it now.`, {
    mention: personView(r.requester),
    actions: ['extend', 'release'],
  });
}

export function expiredNotice(r: AccessRequest): Notice {
  return notice(r, 'expired', `Expired, ports closed: ${what(r)}.`, { mention: personView(r.requester) });
}

export function releasedNotice(r: AccessRequest): Notice {
  return notice(r, 'released', `Released by ${r.releasedBy?.name ?? r.requester.name}; Azure closes ${what(r)} within a minute.`);
}

export function cancelledNotice(r: AccessRequest): Notice {
  return notice(r, 'cancelled', `Cancelled by ${r.requester.name}.`);
}

export function timedOutNotice(r: AccessRequest): Notice {
  return notice(r, 'timed-out', `Nobody decided in time; request ${r.id} timed out. Ask again if you still need access.`, {
    mention: personView(r.requester),
  });
}

export function extensionRequestedNotice(r: AccessRequest): Notice {
  const d = r.extension ? formatDuration(r.extension.durationMinutes) : '';
  return notice(r, 'extension-requested', `${r.requester.name} asks to extend ${r.id} by ${d}; approvers, decide on the card.`);
}

export function extendedNotice(r: AccessRequest, now: Date): Notice {
  const until = r.endsAt ? formatUtc(r.endsAt, now) : 'the new end time';
  return notice(r, 'extended', `Extended: open until ${until} from ${openSourcesText(r)}.`, { mention: personView(r.requester) });
}

export function extensionDeniedNotice(r: AccessRequest, by: Actor, reason?: string): Notice {
  return notice(r, 'extension-denied', `Extension denied by ${by.name}${reason ? `: ${reason}` : ''}; access still ends as planned.`, { mention: personView(r.requester) });
}

/**
 * Azure keeps one grant per VM port: a newer request for the same port ends the older one. `ports`
 * are the ones this request lost (`22 on web-01`); `all` when nothing of it is left open.
 */
export function supersededNotice(r: AccessRequest, by: AccessRequest, lost: string[], all: boolean): Notice {
  const lostText = summariseList(lost);
  const ended = all ? 'Your access has ended' : `Your access to ${lostText} has ended; the rest stays open`;
  return notice(r, 'superseded', `Azure replaced ${lostText} with ${by.requester.name}'s request ${by.id} (from ${openSourcesText(by)}). ${ended}.`, {
    mention: personView(r.requester),
  });
}

/** Azure did not apply the close: the grant stays as it was, and the requester must know. */
export function releaseFailedNotice(r: AccessRequest, reason: string, now: Date): Notice {
  const until = r.endsAt ? formatUtc(r.endsAt, now) : 'its end time';
  return notice(r, 'release-failed', `Could not release ${r.id}: ${clipText(reason.trim().replace(/\.+$/, ''), 600)}. The ports stay open until ${until}.`, {
    mention: personView(r.requester),
  });
}

export function extensionFailedNotice(r: AccessRequest, reason: string): Notice {
  return notice(r, 'extension-failed', `Could not extend: ${clipText(reason, 600)}. Access still ends as planned.`, { mention: personView(r.requester) });
}

/** `from me`: the link, for the requester alone (a Teams channel cannot hold it, so it goes to them directly). */
export function addressLinkNotice(r: AccessRequest, url: string): Notice {
  return notice(r, 'address-link', `Open this link on the machine you will connect from, within 10 minutes, to record its address for ${r.id} (${what(r)}): ${url}`, {
    mention: personView(r.requester),
  });
}

export function addressCapturedNotice(r: AccessRequest): Notice {
  const next = r.state === 'opening' ? `opening ${what(r)} now` : `sent for approval; it needs ${r.requiredApprovals} approval${r.requiredApprovals === 1 ? '' : 's'}`;
  return notice(r, 'address', `Recorded your address ${r.source} for ${r.id}; ${next}.`, { mention: personView(r.requester) });
}

export function addressRefusedNotice(r: AccessRequest): Notice {
  return notice(r, 'failed', `${r.id} cannot go on: ${r.failure ?? 'your address is outside the policy'}. Nothing was opened.`, { mention: personView(r.requester) });
}

export function addressTimedOutNotice(r: AccessRequest): Notice {
  return notice(r, 'timed-out', `The link for ${r.id} was not opened within 10 minutes; the request timed out. Ask again when you are at the machine you will connect from.`, {
    mention: personView(r.requester),
  });
}

/** At start: the store said open, Azure shows no such grant any more. */
export function vanishedNotice(r: AccessRequest): Notice {
  return notice(r, 'expired', `Azure no longer shows this access (${what(r)}), so jitbot marked it as ended. Ask again if you still need it.`, {
    mention: personView(r.requester),
  });
}

/**
 * What a reminder says once its grant has ended: how and when, and no buttons, so nobody clicks
 * Extend on a grant that is gone.
 */
export function reminderEndedNotice(r: AccessRequest, now: Date): Notice {
  const at = r.closedAt ?? r.endsAt;
  const when = at ? `Closed at ${formatUtc(at, now)}` : 'Closed';
  const how =
    r.state === 'released'
      ? `released by ${r.releasedBy?.name ?? r.requester.name}`
      : r.state === 'expired'
        ? 'the access ended'
        : r.state === 'failed'
          ? 'the access failed'
          : `the request is ${r.state}`;
  return notice(r, 'reminder', `${when}: ${how}. Access to ${what(r)} has ended; nothing here can be extended or released any more.`);
}

// ---- escalation -----------------------------------------------------------------------------------

/** What waits: the request itself, or the extension asked on it. */
function waiting(r: AccessRequest): { what: string; since: Date; extension: boolean } {
  if (r.state === 'active' && r.extension) {
    return { what: `${r.requester.name}'s extension of ${r.id} by ${formatDuration(r.extension.durationMinutes)}`, since: r.extension.requestedAt, extension: true };
  }
  return { what: `${r.requester.name}'s request ${r.id}`, since: r.createdAt, extension: false };
}

function waitedText(since: Date, now: Date): string {
  return formatDuration(Math.max(1, Math.round((now.getTime() - since.getTime()) / 60_000)));
}

/**
 * In the card's thread: nobody decided in time, and who is asked now. Each person asked is mentioned
 * where the platform knows them; the text names them all.
 */
export function escalatedNotice(r: AccessRequest, to: ReadonlyArray<{ name: string; email: string }>, now: Date): Notice {
  const w = waiting(r);
  const waited = waitedText(w.since, now);
  if (to.length === 0) {
    return notice(r, 'escalated', `${w.what} has waited ${waited} for a decision and the rule names nobody else to ask; approvers, decide on the card.`);
  }
  return notice(r, 'escalated', `${w.what} has waited ${waited} for a decision; escalated to ${peopleText(to.map((p) => p.name), 20)}, who may now approve or deny it on the card.`, {
    mentionEmails: to.map((p) => ({ name: p.name, email: p.email })),
  });
}

/** To one escalation person directly: what waits, for how long, and the buttons to decide it there. */
export function escalationAskNotice(r: AccessRequest, to: { name: string }, now: Date): Notice {
  const w = waiting(r);
  const ask = w.extension
    ? `${w.what} (${what(r)} from ${sourceText(r)}, open until ${r.endsAt ? formatUtc(r.endsAt, now) : 'its end'})`
    : `${w.what} for ${what(r)} from ${sourceText(r)} for ${formatDuration(r.durationMinutes)}${r.reason ? `: ${quoted(r.reason)}` : ''}`;
  return notice(r, 'escalated', `${to.name}, ${ask} has waited ${waitedText(w.since, now)} for approval and was escalated to you. Approve or deny it here or on the card; /jit status lists it too.`, {
    actions: ['approve', 'deny'],
  });
}

/** To the requester: still waiting, and who else was asked. */
export function escalatedToRequesterNotice(r: AccessRequest, to: ReadonlyArray<{ name: string }>, now: Date): Notice {
  const w = waiting(r);
  const subject = w.extension ? `Your extension of ${r.id}` : `Your request ${r.id}`;
  const who = to.length > 0 ? `it was escalated to ${peopleText(to.map((p) => p.name), 20)}` : 'the approvers were reminded';
  return notice(r, 'escalated', `${subject} has waited ${waitedText(w.since, now)} for a decision; ${who}.`, { mention: personView(r.requester) });
}
