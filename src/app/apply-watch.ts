// Azure answers an initiate with 202 and `Initiating`, and writes the NSG (or firewall) rules
// seconds later, where it can still fail. This reads Azure's request history to tell whether the
// initiate this bot sent for a request has been applied, is still on its way, or failed.
import type { Actor, AccessRequest, ConnectDetail } from '../core/types';
import type { CloudAccessRecord } from './ports';

export type ApplyWhat = 'open' | 'extend' | 'close';

/** What a `confirm` job carries: enough to find our initiate in Azure's history after a restart. */
export interface ConfirmPayload {
  what: ApplyWhat;
  /** The justification of the initiate: it names the request and tells open, extension and close apart. */
  justification: string;
  /** When Azure accepted it (the deadline counts from here). */
  acceptedAt: string;
  /** The end time asked for (open, extend): older grants of the same request do not count. */
  endsAt?: string;
  /** Who released (close). */
  by?: Actor;
  /** Polls so far. */
  attempt: number;
}

export type ApplyVerdict =
  /** `replacedBy`: ids of this bot's newer requests that already replaced some of these ports. */
  | { state: 'applied'; endsAt: Date | null; connect: ConnectDetail[]; replacedBy: string[] }
  /** `unrecorded`: Azure's history has no trace of the initiate for every waiting port. */
  | { state: 'waiting'; waiting: string[]; unrecorded?: boolean }
  | { state: 'failed'; reason: string };

/**
 * A close is an initiate that ends within a minute. A grant of ours still open for longer than this
 * while the close is not listed yet means Azure has not recorded the close.
 */
const CLOSE_SLACK_MS = 2 * 60_000;
/** Azure echoes the end time it was sent; allow for rounding to whole seconds. */
const END_TOLERANCE_MS = 2_000;

function sameVm(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function isStatus(x: CloudAccessRecord, status: string): boolean {
  return x.status.toLowerCase() === status.toLowerCase();
}

/** Azure's words for a port that will not be applied. */
function failureWords(x: CloudAccessRecord): string {
  if (isStatus(x, 'NewerRequestInitiated')) return 'Azure replaced it with a newer request before applying it';
  if (isStatus(x, 'Expired')) return 'it expired before Azure applied it';
  const reason = (x.statusReason ?? '').trim().replace(/\.+$/, '');
  if (reason !== '' && reason.toLowerCase() !== x.status.toLowerCase()) return reason;
  return `Azure reports it as ${x.status}`;
}

/** The verdict over every (VM, port) of the request. */
export function judgeApply(records: readonly CloudAccessRecord[], r: AccessRequest, p: Pick<ConfirmPayload, 'what' | 'justification' | 'endsAt'>, now: Date): ApplyVerdict {
  const waiting: string[] = [];
  let unrecorded = 0;
  const failed: string[] = [];
  const applied: Array<{ vm: string; x: CloudAccessRecord }> = [];
  const replacedBy = new Set<string>();
  const expectedEnd = p.endsAt ? new Date(p.endsAt).getTime() : null;
  for (const vm of r.vms) {
    for (const port of r.ports) {
      const label = `port ${port.number} on ${vm.name}`;
      // Oldest first: the last entry is the newest request for this VM port.
      const mine = records.filter((x) => sameVm(x.vmId, vm.id) && x.port === port.number && x.justification?.startsWith(`jitbot ${r.id} `));
      if (p.what === 'close') {
        const latest = mine[mine.length - 1];
        if (mine.some((x) => isStatus(x, 'Initiating'))) waiting.push(label);
        else if (!latest) continue;
        else if (latest.justification === p.justification) {
          if (isStatus(latest, 'Failed')) failed.push(`${label}: ${failureWords(latest)}`);
        } else if (isStatus(latest, 'Initiated') && latest.endsAt.getTime() > now.getTime() + CLOSE_SLACK_MS) {
          waiting.push(label);
        }
        continue;
      }
      // While a request is opening, every initiate of it is an open (extensions and releases need it
      // active), so any of them counts, including one a process sent just before it died.
      const ours = mine.filter(
        (x) => (p.what === 'open' || x.justification === p.justification) && (expectedEnd === null || x.endsAt.getTime() >= expectedEnd - END_TOLERANCE_MS),
      );
      const x = ours[ours.length - 1];
      if (!x) unrecorded += 1;
      if (!x || isStatus(x, 'Initiating')) waiting.push(label);
      else if (isStatus(x, 'Initiated')) applied.push({ vm: vm.name, x });
      else if (isStatus(x, 'NewerRequestInitiated') && newerRequestOf(records, x, r.id)) {
        // Azure wrote it, and another of this bot's requests for the same port has since replaced
        // it: it counts as opened, and the newer request's check tells this one it was replaced.
        applied.push({ vm: vm.name, x });
        replacedBy.add(newerRequestOf(records, x, r.id)!);
      } else failed.push(`${label}: ${failureWords(x)}`);
    }
  }
  if (failed.length > 0) return { state: 'failed', reason: `Azure could not apply ${failed.join('; ')}` };
  if (waiting.length > 0) return { state: 'waiting', waiting, ...(unrecorded === waiting.length ? { unrecorded: true } : {}) };
  const ends = applied.map((a) => a.x.endsAt.getTime());
  const connect = applied
    .filter((a) => a.x.connectTo)
    .map((a) => ({ vm: a.vm, port: a.x.port, address: a.x.connectTo!.address, mappedPort: a.x.connectTo!.port }));
  return { state: 'applied', endsAt: ends.length > 0 ? new Date(Math.min(...ends)) : null, connect, replacedBy: [...replacedBy] };
}

/** The id of the bot's request that came after `x` on the same VM port, if one did. */
function newerRequestOf(records: readonly CloudAccessRecord[], x: CloudAccessRecord, ownId: string): string | null {
  const later = records.filter((y) => sameVm(y.vmId, x.vmId) && y.port === x.port && y.startedAt.getTime() >= x.startedAt.getTime() && y !== x);
  for (const y of later.reverse()) {
    const id = /^jitbot (\S+) /.exec(y.justification ?? '')?.[1];
    if (id && id !== ownId) return id;
  }
  return null;
}

/** 1 s, 2 s, 4 s, 8 s, then every 15 s: Azure usually applies within seconds, sometimes half a minute. */
export function pollDelayMs(attempt: number): number {
  return Math.min(1_000 * 2 ** Math.max(0, attempt - 1), 15_000);
}

/** `port 22 on web-01 and port 3389 on sql-01`. */
export function listPorts(labels: readonly string[]): string {
  return labels.length <= 1 ? (labels[0] ?? 'the ports') : `${labels.slice(0, -1).join(', ')} and ${labels[labels.length - 1]}`;
}
