// View models for every card the bot can send, in every state, built by the core's own `requestView`
// so the samples cannot drift from what the app really renders.
import type { AccessRequest, Actor } from '../../src/core/types';
import { requestView, type FormView, type Notice, type NoticeKind, type Reply, type RequestView, type VmView } from '../../src/core/views';
import { HELP_EXAMPLES, HELP_LINES } from '../../src/core/command';
import { approvalCard, formCard, noticeCard, replyCard, type AdaptiveCardJson } from '../../src/cards/render';

export const NOW = new Date('2026-11-21T12:00:00Z');
const at = (min: number): Date => new Date(NOW.getTime() + min * 60_000);

export const alice: Actor = { platform: 'teams', userId: '29:alice', email: 'alice@example.com', name: 'Alice', aadObjectId: 'aad-alice' };
export const bob: Actor = { platform: 'teams', userId: '29:bob', email: 'bob@example.com', name: 'Bob', aadObjectId: 'aad-bob' };
export const carol: Actor = { platform: 'slack', userId: 'U0CAROL', email: 'carol@example.com', name: 'Carol' };

export function baseRequest(over: Partial<AccessRequest> = {}): AccessRequest {
  return {
    id: 'R4K7QX',
    version: 1,
    state: 'pending',
    requester: alice,
    vms: [{ id: '/subscriptions/0/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/web-01', name: 'web-01', resourceGroup: 'rg-web', location: 'westeurope' }],
    ports: [{ number: 22, protocol: 'TCP' }],
    source: '10.1.2.3',
    durationMinutes: 60,
    reason: 'INC-4711 ${not.a.template} **bold**',
    rule: 'web',
    requiredApprovals: 1,
    route: { teams: 'installed' },
    approvals: [],
    createdAt: at(-5),
    ...over,
  };
}

export function sampleRequests(): Record<string, AccessRequest> {
  const approval = { by: bob, at: at(-1) };
  return {
    pending: baseRequest(),
    pendingTwo: baseRequest({
      id: 'RSQL01',
      vms: [{ id: 'sql', name: 'sql-01', resourceGroup: 'rg-data', location: 'westeurope' }],
      ports: [{ number: 3389, protocol: '*' }, { number: 5986, protocol: 'TCP' }],
      source: '*',
      requiredApprovals: 2,
      approvals: [approval],
    }),
    opening: baseRequest({ state: 'opening', approvals: [approval] }),
    active: baseRequest({ state: 'active', approvals: [approval], openedAt: at(-1), endsAt: at(59) }),
    activeExtension: baseRequest({
      state: 'active',
      approvals: [approval],
      openedAt: at(-1),
      endsAt: at(59),
      extension: { durationMinutes: 60, requestedAt: NOW, approvals: [] },
    }),
    denied: baseRequest({ state: 'denied', denial: { by: bob, at: NOW, reason: 'not during the freeze' }, closedAt: NOW }),
    cancelled: baseRequest({ state: 'cancelled', cancelledAt: NOW, closedAt: NOW }),
    timedOut: baseRequest({ state: 'timed-out', closedAt: NOW }),
    failed: baseRequest({ state: 'failed', approvals: [approval], failure: 'BadRequest: port 22 is not in the policy', closedAt: NOW }),
    expired: baseRequest({ state: 'expired', approvals: [approval], openedAt: at(-61), endsAt: NOW, closedAt: NOW }),
    released: baseRequest({ state: 'released', approvals: [approval], openedAt: at(-30), endsAt: NOW, closedAt: NOW, releasedBy: alice }),
    auto: baseRequest({ state: 'active', autoApproved: true, openedAt: NOW, endsAt: at(60), requester: carol }),
    hostile: baseRequest({ reason: HOSTILE_REASON, requester: { ...alice, name: 'Mallory **<b>boss</b>**' } }),
    hostileDenied: baseRequest({ state: 'denied', denial: { by: bob, at: NOW, reason: HOSTILE_REASON }, closedAt: NOW }),
    huge: baseRequest({ vms: manyVms(200), reason: LONG_REASON, ports: [{ number: 22, protocol: 'TCP' }, { number: 3389, protocol: '*' }] }),
    escalated: baseRequest({
      escalation: {
        at: NOW,
        to: [{ name: 'Dave', email: 'dave@example.com' }, ...Array.from({ length: 40 }, (_, i) => ({ name: `Mallory ${i} **<b>boss</b>** [x](https://evil.example)`, email: `m${i}@example.com` }))],
      },
    }),
  };
}

/** What an insider might type as a reason: a masked link, a tag with a handler, a crafted href, markdown. */
export const HOSTILE_REASON =
  '[Approve here](https://evil.example/login) <img src=x onerror=alert(1)> [x](https://a.example/"onmouseover="alert(1)) **urgent** _now_ <https://evil.example|Approve>\n# heading\n- item';

/** 2,000 characters, as the size tests ask for. */
export const LONG_REASON = `INC-4711 ${'restart the web tier and check the logs; '.repeat(60)}`.slice(0, 2_000);

/** `web-001` … : VMs of a big glob. */
export function manyVms(n: number): AccessRequest['vms'] {
  return Array.from({ length: n }, (_, i) => {
    const name = `web-${String(i + 1).padStart(3, '0')}`;
    return { id: `/subscriptions/0/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/${name}`, name, resourceGroup: 'rg-web', location: 'westeurope' };
  });
}

export function sampleViews(): Record<string, RequestView> {
  const out: Record<string, RequestView> = {};
  for (const [k, r] of Object.entries(sampleRequests())) out[k] = requestView(r, NOW);
  return out;
}

// Every kind, by construction: a new NoticeKind does not compile until it is here, so the card
// lint covers every notice the bot can send.
const EVERY_NOTICE_KIND: Record<NoticeKind, true> = {
  submitted: true, approval: true, approved: true, denied: true, opened: true, failed: true, reminder: true,
  expired: true, released: true, cancelled: true, 'timed-out': true, 'extension-requested': true, extended: true,
  'extension-denied': true, 'extension-failed': true, 'release-failed': true, superseded: true, 'step-up': true,
  'address-link': true, address: true, escalated: true,
};
const NOTICE_KINDS = Object.keys(EVERY_NOTICE_KIND) as NoticeKind[];

export function sampleNotices(): Notice[] {
  const mention = { name: 'Alice', email: 'alice@example.com', platform: 'teams' as const, userId: '29:alice' };
  return [
    ...NOTICE_KINDS.map((kind) => ({
      kind,
      requestId: 'R4K7QX',
      text: kind === 'reminder' ? 'Alice, your access to 22/TCP on web-01 ends at 12:59 UTC (in 10 min). Extend or release it now.' : `Notice ${kind} for 22/TCP on web-01`,
      ...(kind === 'reminder' ? { mention, actions: ['extend' as const, 'release' as const] } : {}),
      ...(kind === 'step-up' ? { link: { url: 'https://jitbot.example.com/step-up/abc', label: 'Sign in to approve' } } : {}),
    })),
    { kind: 'denied', requestId: 'R4K7QX', text: `Denied by Bob: ${HOSTILE_REASON}`, mention },
    { kind: 'submitted', requestId: 'R4K7QX', text: `Alice asks for 22/TCP on web-* (200 VMs): web-001 …and 199 more: ${LONG_REASON}` },
  ];
}

export const sampleVms: VmView[] = [
  {
    name: 'web-01', resourceGroup: 'rg-web', location: 'westeurope', os: 'linux', jit: true,
    ports: [{ port: '22', protocol: 'TCP', sources: ['10.0.0.0/8'], max: '3h' }],
    approvals: 1, lastAccess: '11:05 UTC', open: ['22/TCP from 10.1.2.3 until 13:00 UTC'],
  },
  {
    name: 'sql-01', resourceGroup: 'rg-data', location: 'westeurope', os: 'windows', jit: true,
    ports: [
      { port: '3389', protocol: '*', sources: ['*'], max: '3h' },
      { port: '5986', protocol: 'TCP', sources: ['*'], max: '1h' },
    ],
    approvals: 2, lastAccess: null, open: [],
  },
  { name: 'build-01', resourceGroup: 'rg-ci', location: 'westeurope', os: 'linux', jit: false, ports: [], approvals: null, lastAccess: null, open: [] },
];

export const sampleForm: FormView = {
  vms: [
    { name: 'web-01', ports: [{ value: '22', label: 'SSH 22/TCP' }], maxMinutes: 180, sources: ['10.0.0.0/8'] },
    { name: 'sql-01', ports: [{ value: '3389', label: 'RDP 3389' }, { value: '5986', label: 'WinRM-HTTPS 5986/TCP' }], maxMinutes: 60, sources: ['*'] },
  ],
  durations: [
    { value: '30m', label: '30 minutes' },
    { value: '1h', label: '1 hour' },
    { value: '3h', label: '3 hours' },
  ],
  defaults: { duration: '1h' },
};

export function sampleReplies(): Reply[] {
  const v = sampleViews();
  return [
    { kind: 'text', text: 'Nothing to do.' },
    { kind: 'error', message: '"web-1" is not a VM you can request; did you mean web-01?', usage: '/jit <ports> <vms> <duration> [from <source>] [for <reason…>]' },
    { kind: 'error', message: 'Something went wrong.' },
    { kind: 'help', help: { commands: HELP_LINES.map((l) => ({ usage: l.usage, description: l.description })), examples: [...HELP_EXAMPLES] } },
    { kind: 'submitted', text: 'Request R4K7QX is waiting for approval.', request: v.pending },
    { kind: 'address-link', text: 'Open this link on the machine you will connect from: https://jit.example.com/from-me/R4K7QX?t=abc', url: 'https://jit.example.com/from-me/R4K7QX?t=abc', request: v.pending },
    { kind: 'status', mine: [v.pending, v.active], awaiting: [v.pendingTwo] },
    { kind: 'status', mine: Array.from({ length: 60 }, () => v.huge), awaiting: Array.from({ length: 60 }, () => v.hostile) },
    { kind: 'status', mine: [], awaiting: [] },
    { kind: 'vms', vms: sampleVms },
    { kind: 'vms', vms: sampleVms, page: { filter: 'web-', page: 2, pages: 9, total: 170, pageSize: 20 } },
    { kind: 'vms', vms: [] },
    { kind: 'policy', vm: sampleVms[1] },
    { kind: 'audit', csv: 'at,type,request\n2026-11-21T12:00:00Z,request.created,R4K7QX\n', filename: 'jit-audit.csv', rows: 1, text: 'The audit trail has 1 row.' },
    { kind: 'audit', csv: 'at,type,request\n', filename: 'jit-audit.csv', rows: 0, text: 'No audit events.' },
    { kind: 'audit', csv: 'at,type,request\n', filename: 'jit-audit.csv', rows: 0, text: 'Audit trail (last 7 days, 0 events); the download link is valid for 10 minutes.', link: 'https://jitbot.example/audit?t=a-_b' },
    { kind: 'form', form: sampleForm },
    { kind: 'form', form: { vms: [], durations: [], defaults: {} } },
    {
      kind: 'whois',
      whois: {
        email: 'frank@example.com',
        // A directory's display name is the person's own words: shown, never interpreted.
        name: HOSTILE_REASON,
        groups: [{ group: 'oncall', from: ['Microsoft Entra ID'] }, { group: 'sre', from: ['the configuration file', 'Slack'] }],
        unchecked: [{ group: 'dbas', directory: 'Slack' }],
        admin: { is: false, via: [] },
        rules: Array.from({ length: 40 }, (_, i) => ({ rule: `rule-${i}`, request: ['* (anyone known)'], approve: ['group:oncall (Microsoft Entra ID)'] })),
      },
    },
    { kind: 'whois', whois: { email: 'nobody@example.com', name: null, groups: [], unchecked: [], admin: { is: false, via: [] }, rules: [] } },
  ];
}

/** Every card the bot can send, by name: each request state for each reader, each notice, each reply, the form. */
export function everySampleCard(): Array<[string, AdaptiveCardJson]> {
  const cards: Array<[string, AdaptiveCardJson]> = [];
  for (const [k, v] of Object.entries(sampleViews())) {
    cards.push([`approval/${k}/approver`, approvalCard(v, { forApprover: true, refreshUserIds: ['29:bob', '29:carol'] })]);
    cards.push([`approval/${k}/requester`, approvalCard(v, { forApprover: false, forRequester: true, note: 'You cancelled it.', noteTone: 'good' })]);
    cards.push([`approval/${k}/readonly`, approvalCard(v, { forApprover: false })]);
  }
  for (const [i, n] of sampleNotices().entries()) {
    cards.push([`notice/${i}/${n.kind}`, noticeCard(n)]);
    cards.push([`notice/${i}/${n.kind}/mention`, noticeCard(n, { teamsMention: true })]);
  }
  const escalated: Notice = { kind: 'escalated', requestId: 'R4K7QX', text: `Alice's request R4K7QX has waited 30m for a decision; escalated to Dave and Mallory.`, mentionEmails: [{ name: 'Dave', email: 'dave@example.com' }] };
  cards.push(['notice/escalated/people', noticeCard(escalated, { teamsMention: true, teamsPeople: [{ name: 'Dave', userId: '29:dave' }, { name: 'Mallory **<b>boss</b>**', userId: '29:mallory' }] })]);
  for (const [i, r] of sampleReplies().entries()) cards.push([`reply/${i}/${r.kind}`, replyCard(r)]);
  cards.push(['form/errors', formCard(sampleForm, { values: { vm: 'web-01', ports: '22', source: '1.2.3.4' }, errors: { source: 'not allowed', duration: 'too long' } })]);
  return cards;
}
