// Dev harness (temporary): the console on a stand-in api while the real one is assembled.
import { readFileSync } from 'node:fs';
import * as restify from 'restify';
import YAML from 'yaml';
import { AdjustableClock } from '../../src/app/clock';
import type { JitApi } from '../../src/app/api';
import { silentLogger } from '../../src/app/logger';
import { startAzureSim } from '../../src/azure-sim/server';
import { worldFromYaml } from '../../src/azure-sim/world-yaml';
import { createConsole, mountLocalClock } from '../../src/console';
import { expiredNotice, openedNotice, reminderNotice, submittedNotice, approvedNotice } from '../../src/core/notices';
import type { AccessRequest, Actor, Vm } from '../../src/core/types';
import { formView } from '../../src/app/vm-views';
import { requestView, type Reply } from '../../src/core/views';

async function main(): Promise<void> {
  const doc = YAML.parse(readFileSync('examples/local.yaml', 'utf8'));
  const world = worldFromYaml(doc);
  const clock = new AdjustableClock();
  const sim = await startAzureSim({ world, clock, port: 0 });
  const people = doc.people as Array<{ email: string; name: string; groups: string[] }>;
  const vmsOf = (): Vm[] => world.vms.filter((v) => v.jit).map((v) => ({ id: v.name, name: v.name, resourceGroup: v.resourceGroup, location: v.location, os: v.os, tags: {}, jit: v.jit }));
  const reqs = new Map<string, AccessRequest>();
  let seq = 0;
  // eslint-disable-next-line prefer-const
  let chat: ReturnType<typeof createConsole>['chat'];
  const ref = (id: string) => ({ platform: 'console' as const, v: 1 as const, data: { channel: 'approvals', id } });
  const api: JitApi = {
    async command(actor: Actor, text: string): Promise<Reply> {
      if (actor.email === 'dave@example.com') return { kind: 'error', message: 'You may not request web-01: no access rule lets you (ask an admin to add you to a group).' };
      if (text === '') return { kind: 'form', form: formView(vmsOf(), {}) };
      if (text === 'help') return { kind: 'help', help: { commands: [{ usage: '/jit <ports> <vms> <duration> [from <source>] [for <reason>]', description: 'request access' }, { usage: '/jit status', description: 'your requests' }], examples: ['/jit ssh web-01 1h from 10.1.2.3 for INC-4711'] } };
      const m = /^ssh (\S+) 1h from (\S+) for (.+)$/.exec(text);
      if (!m) return { kind: 'error', message: `"${text}" is not a command I know.`, usage: '/jit help' };
      const id = `R${++seq}ABC`;
      const r: AccessRequest = {
        id, version: 1, state: 'pending', requester: actor, vms: [{ id: `/subscriptions/${world.subscriptionId}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/${m[1]}`, name: m[1], resourceGroup: 'rg-web', location: 'westeurope' }],
        ports: [{ number: 22, protocol: 'TCP' }], source: m[2], durationMinutes: 60, reason: m[3], rule: 'web', requiredApprovals: 1, route: {}, approvals: [], createdAt: clock.now(),
      };
      reqs.set(id, r);
      await chat.postCard({}, requestView(r, clock.now()));
      await chat.replyInThread(ref(id), submittedNotice(r));
      return { kind: 'submitted', text: `Request ${id} sent for approval.`, request: requestView(r, clock.now()) };
    },
    async act(actor, verb, id) {
      const r = reqs.get(id);
      if (!r) return { ok: false, message: 'no such request', view: null };
      if (verb !== 'approve') return { ok: false, message: `${verb} is not in the harness`, view: null };
      if (actor.email === r.requester.email) return { ok: false, message: 'You cannot approve your own request.', view: requestView(r, clock.now()) };
      const now = clock.now();
      r.approvals.push({ by: actor, at: now });
      r.state = 'active';
      r.openedAt = now;
      r.endsAt = new Date(now.getTime() + 60 * 60_000);
      const res = await fetch(`${sim.url}/subscriptions/${world.subscriptionId}/resourceGroups/rg-web/providers/Microsoft.Security/locations/westeurope/jitNetworkAccessPolicies/default/initiate?api-version=2020-01-01`, {
        method: 'POST', headers: { authorization: 'Bearer x', 'content-type': 'application/json' },
        body: JSON.stringify({ virtualMachines: [{ id: r.vms[0].id, ports: [{ number: 22, allowedSourceAddressPrefix: r.source, endTimeUtc: r.endsAt.toISOString() }] }], justification: r.reason }),
      });
      if (!res.ok) console.error('initiate', res.status, await res.text());
      await chat.updateCard(ref(id), requestView(r, now));
      await chat.replyInThread(ref(id), approvedNotice(r));
      await chat.replyInThread(ref(id), openedNotice(r, now));
      await chat.notifyPerson(r.requester, openedNotice(r, now));
      return { ok: true, message: `You approved ${id}.`, view: requestView(r, now) };
    },
    async form(_a, d) { return { ok: true, form: formView(vmsOf(), d ?? {}) }; },
    async submitForm(_a, input) { return input.source ? { ok: true, reply: { kind: 'text', text: `form ok ${JSON.stringify(input)}` } } : { ok: false, errors: { source: 'Name a source address: port 22 allows 10.0.0.0/8.' } }; },
    async view(id) { const r = reqs.get(id); return r ? requestView(r, clock.now()) : null; },
    async home() { return { grants: [], pending: [], awaiting: [] }; },
    async approverEmails(id) { const r = reqs.get(id); return r && r.state === 'pending' ? ['bob@example.com', 'carol@example.com'] : []; },
    knows: (e) => people.some((p) => p.email === e),
  };
  const console_ = createConsole({ api, people, clock, sim: { url: sim.url, subscriptionId: process.env.NO_SUB ? undefined : world.subscriptionId }, vmNames: () => world.vms.map((v) => v.name), logger: silentLogger, reloadAssets: true });
  chat = console_.chat;
  const reminded = new Set<string>();
  const server = restify.createServer({ handleUncaughtExceptions: false });
  console_.mount(server);
  mountLocalClock(server, clock, async (now) => {
    for (const r of reqs.values()) {
      if (r.state !== 'active' || !r.endsAt) continue;
      if (now.getTime() >= r.endsAt.getTime()) {
        r.state = 'expired';
        await chat.updateCard(ref(r.id), requestView(r, now));
        await chat.replyInThread(ref(r.id), expiredNotice(r));
        await chat.notifyPerson(r.requester, expiredNotice(r));
      } else if (now.getTime() >= r.endsAt.getTime() - 10 * 60_000 && !reminded.has(r.id)) {
        reminded.add(r.id);
        await chat.replyInThread(ref(r.id), reminderNotice(r, now));
        await chat.notifyPerson(r.requester, reminderNotice(r, now));
      }
    }
  });
  const port = Number(process.env.PORT ?? 3999);
  server.listen(port, '127.0.0.1', () => console.log(`dev console on http://127.0.0.1:${port}/`));
}

void main();
