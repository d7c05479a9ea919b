// Shared by the store tests: which engines to run on, sample requests, and a look at raw job rows.
import { randomBytes } from 'node:crypto';
import type { AccessRequest, Actor, AuditEvent } from '../../src/core/types';
import { openTestStore, type TestStore } from '../../src/store';

export interface StoreEngine {
  name: 'pglite' | 'postgres';
  open(): Promise<TestStore>;
}

/** PGlite always; PostgreSQL as well when TEST_DATABASE_URL names a database. */
export function storeEngines(): StoreEngine[] {
  const url = process.env.TEST_DATABASE_URL;
  const list: StoreEngine[] = [{ name: 'pglite', open: () => openTestStore() }];
  if (url) list.push({ name: 'postgres', open: () => openTestStore({ databaseUrl: url }) });
  return list;
}

export const T0 = new Date('2026-11-21T12:00:00Z');

export function at(offsetMs: number): Date {
  return new Date(T0.getTime() + offsetMs);
}

export function person(email: string, platform: Actor['platform'] = 'slack'): Actor {
  return { platform, userId: `U${email.split('@')[0].toUpperCase()}`, email, name: email.split('@')[0] };
}

export function newId(): string {
  return `R${randomBytes(4).toString('hex').toUpperCase()}`;
}

export function sampleRequest(overrides: Partial<AccessRequest> = {}): AccessRequest {
  return {
    id: newId(),
    version: 1,
    state: 'pending',
    requester: person('alice@example.com'),
    vms: [
      {
        id: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/web-01',
        name: 'web-01',
        resourceGroup: 'rg-web',
        location: 'westeurope',
        policyName: 'default',
      },
    ],
    ports: [{ number: 22, protocol: 'TCP' }],
    source: '203.0.113.7',
    durationMinutes: 60,
    reason: 'INC-4711 2026-11-21T00:00:00Z looks like a date but is text',
    rule: 'web-servers',
    requiredApprovals: 1,
    route: { slack: 'C0JIT' },
    approvals: [],
    createdAt: T0,
    ...overrides,
  };
}

export function auditEvent(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    at: T0,
    requestId: null,
    type: 'request.created',
    actor: person('alice@example.com'),
    platform: 'slack',
    vmNames: ['web-01'],
    details: {},
    ...overrides,
  };
}

export interface JobRowView {
  id: string;
  key: string;
  attempts: number;
  lease_owner: string | null;
  lease_until: Date | null;
  due_at: Date;
  done: boolean;
  cancelled: boolean;
  failed: boolean;
  last_error: string | null;
}

/** Every job row, oldest first, as the scheduler tables hold it. */
export function jobRows(store: TestStore): Promise<JobRowView[]> {
  return store.db.query<JobRowView>(
    `SELECT id::text AS id, key, attempts, lease_owner, lease_until, due_at,
            done_at IS NOT NULL AS done, cancelled_at IS NOT NULL AS cancelled, failed_at IS NOT NULL AS failed, last_error
     FROM jobs ORDER BY id`,
  );
}
