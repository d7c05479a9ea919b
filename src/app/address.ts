// `from me`: the one-time link that records the address a requester will connect from. The link's
// token is stored only as a hash on the request; opening the page (GET, which link previewers also
// do) records nothing, and only the page's form POST, once, within ten minutes, moves the request on.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { checkCapturedAddress } from '../core/access';
import { JitError } from '../core/errors';
import * as notices from '../core/notices';
import type { AccessRequest } from '../core/types';
import { requestView, type RequestView } from '../core/views';
import { postCardJobs } from './outbox';
import { escalationJobs } from './escalation';
import type { JobSpec } from './ports';
import { UseCase } from './use-case';

export const ADDRESS_LINK_MS = 10 * 60_000;

export function newAddressToken(): string {
  return randomBytes(24).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export type AddressPage =
  | { ok: true; view: RequestView; expiresAt: Date }
  | { ok: false; message: string };

export type AddressOutcome = { ok: boolean; message: string; view: RequestView | null };

const INVALID = 'This link is not valid (any more). Links work once and for 10 minutes; ask again with /jit … from me.';

export class AddressCapture extends UseCase {
  /** The job that ends the request `timed-out` when its link is not used in time. */
  linkJobs(r: AccessRequest): JobSpec[] {
    if (!r.addressLink) return [];
    return [{ kind: 'pending-timeout', requestId: r.id, dueAt: r.addressLink.expiresAt, key: `${r.id}:address-timeout`, payload: { stage: 'address' } }];
  }

  private valid(r: AccessRequest | null, token: string): r is AccessRequest & { addressLink: { tokenHash: string; expiresAt: Date } } {
    if (!r || r.state !== 'awaiting-address' || !r.addressLink) return false;
    const given = Buffer.from(hashToken(token), 'utf8');
    const expected = Buffer.from(r.addressLink.tokenHash, 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
    return r.addressLink.expiresAt.getTime() > this.clock.now().getTime();
  }

  private async find(id: string): Promise<AccessRequest | null> {
    return /^[A-Z0-9]{1,16}$/i.test(id) ? this.store.getRequest(id.toUpperCase()) : null;
  }

  /** What the page shows. Reads only. */
  async page(id: string, token: string): Promise<AddressPage> {
    const r = await this.find(id);
    if (!this.valid(r, token)) return { ok: false, message: INVALID };
    return { ok: true, view: requestView(r, this.clock.now()), expiresAt: r.addressLink.expiresAt };
  }

  /** The page's button: check the address against the policy and the rule, and go on with it or end the request. */
  async capture(id: string, token: string, address: string): Promise<AddressOutcome> {
    const r = await this.find(id);
    if (!this.valid(r, token)) return { ok: false, message: INVALID, view: null };
    const check = checkCapturedAddress({ request: r, vms: await this.vms({ fresh: true }), address });
    const at = this.clock.now();
    try {
      if (!check.ok) {
        const { next } = await this.apply(
          r.id,
          (cur) => (this.valid(cur, token) ? { type: 'address-refused', at, from: address, reason: check.message } : new JitError('conflict', INVALID)),
          (n) => ({ cancelKinds: ['pending-timeout', 'escalate'], announce: { card: true, dm: notices.addressRefusedNotice(n) } }),
        );
        return { ok: false, message: `${next.id} cannot go on: ${check.message}.`, view: requestView(next, this.clock.now()) };
      }
      const { next } = await this.apply(
        r.id,
        (cur) => (this.valid(cur, token) ? { type: 'address', at, source: check.source, from: address } : new JitError('conflict', INVALID)),
        (n) => {
          const now = this.clock.now();
          const schedule: JobSpec[] = [...postCardJobs(n, this.platforms, now)];
          if (n.state === 'opening') schedule.push({ kind: 'open', requestId: n.id, dueAt: now, key: `${n.id}:open` });
          else {
            schedule.push({
              kind: 'pending-timeout',
              requestId: n.id,
              dueAt: new Date(now.getTime() + this.policy.pendingTimeoutMinutes * 60_000),
              key: `${n.id}:pending-timeout`,
            });
            schedule.push(...escalationJobs(this.policy, n, now));
          }
          return { schedule, cancelKinds: ['pending-timeout'], announce: { dm: notices.addressCapturedNotice(n) } };
        },
      );
      return { ok: true, message: notices.addressCapturedNotice(next).text, view: requestView(next, this.clock.now()) };
    } catch (err) {
      if (err instanceof JitError && err.code === 'conflict') return { ok: false, message: INVALID, view: null };
      throw err;
    }
  }
}
