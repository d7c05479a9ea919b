import assert from 'node:assert/strict';
import { configFromDocument } from '../../src/config/file';
import { judgeSignIn, stepUpRequired, type SignInClaims } from '../../src/core/step-up';
import type { AccessRequest, Actor } from '../../src/core/types';

const NOW = new Date('2026-12-01T12:00:00Z');
const at = (secondsAgo: number) => Math.floor(NOW.getTime() / 1000) - secondsAgo;
const need = { maxAgeSeconds: 600 };

const bobInSlack: Actor = { platform: 'slack', userId: 'U_BOB', email: 'bob@example.com', name: 'Bob' };
const carolInTeams: Actor = { platform: 'teams', userId: '29:carol', email: 'carol@example.com', name: 'Carol', aadObjectId: 'AAAA-1' };

function claims(extra: Partial<SignInClaims>): SignInClaims {
  return { iss: 'https://idp.example.com', sub: 'bob-sub', auth_time: at(30), amr: ['pwd', 'mfa'], email: 'bob@example.com', ...extra };
}

describe('judging a step-up sign-in', () => {
  it('a recent sign-in with mfa by the approver counts, and the proof says who and how', () => {
    const j = judgeSignIn(claims({}), bobInSlack, need, NOW);
    assert.ok(j.ok);
    assert.deepEqual(j.proof, { issuer: 'https://idp.example.com', subject: 'bob-sub', amr: ['pwd', 'mfa'], authTime: new Date(at(30) * 1000) });
  });

  it('a password alone does not count, and the answer names what the provider reported', () => {
    const j = judgeSignIn(claims({ amr: ['pwd'] }), bobInSlack, need, NOW);
    assert.equal(j.ok, false);
    assert.match(!j.ok ? j.reason : '', /did not use a second factor \(the provider reported methods pwd\)/);
  });

  it('an acr counts only when the operator named that value', () => {
    assert.equal(judgeSignIn(claims({ amr: ['pwd'], acr: 'loa-high' }), bobInSlack, need, NOW).ok, false);
    assert.equal(judgeSignIn(claims({ amr: ['pwd'], acr: 'loa-high' }), bobInSlack, { ...need, acr: 'loa-high' }, NOW).ok, true);
    assert.equal(judgeSignIn(claims({ amr: ['pwd'], acr: 'loa-low' }), bobInSlack, { ...need, acr: 'loa-high' }, NOW).ok, false);
  });

  it("Entra's authentication contexts (acrs) count when they list the named one", () => {
    const j = judgeSignIn(claims({ amr: undefined, acrs: ['c1', 'c2'] }), bobInSlack, { ...need, acr: 'c2' }, NOW);
    assert.ok(j.ok);
    assert.equal(j.proof.acr, 'c2');
    assert.equal(judgeSignIn(claims({ amr: undefined, acrs: ['c1'] }), bobInSlack, { ...need, acr: 'c2' }, NOW).ok, false);
  });

  it('a sign-in older than max_age does not count', () => {
    const j = judgeSignIn(claims({ auth_time: at(20 * 60) }), bobInSlack, need, NOW);
    assert.equal(j.ok, false);
    assert.match(!j.ok ? j.reason : '', /20 minutes old; approvals need one from the last 10 minutes/);
  });

  it('tolerates a minute of clock difference either way, and no more', () => {
    assert.equal(judgeSignIn(claims({ auth_time: at(600 + 50) }), bobInSlack, need, NOW).ok, true);
    assert.equal(judgeSignIn(claims({ auth_time: at(-50) }), bobInSlack, need, NOW).ok, true);
    const future = judgeSignIn(claims({ auth_time: at(-120) }), bobInSlack, need, NOW);
    assert.match(!future.ok ? future.reason : '', /dated in the future/);
  });

  it('without auth_time freshness cannot be shown, so it does not count', () => {
    assert.equal(judgeSignIn(claims({ auth_time: undefined }), bobInSlack, need, NOW).ok, false);
  });

  it('Slack approvers are matched by email, case folded, verified, and never through a look-alike', () => {
    assert.equal(judgeSignIn(claims({ email: 'BOB@Example.com' }), bobInSlack, need, NOW).ok, true);
    assert.equal(judgeSignIn(claims({ email: 'carol@example.com' }), bobInSlack, need, NOW).ok, false);
    assert.equal(judgeSignIn(claims({ email: undefined }), bobInSlack, need, NOW).ok, false);
    assert.equal(judgeSignIn(claims({ email_verified: false }), bobInSlack, need, NOW).ok, false);
    assert.equal(judgeSignIn(claims({ email: 'ｂob@example.com' }), bobInSlack, need, NOW).ok, false, 'a full-width b is not Bob');
  });

  it('Teams approvers are matched by Entra object id, whatever the email says', () => {
    assert.equal(judgeSignIn(claims({ email: 'carol@example.com', oid: 'aaaa-1' }), carolInTeams, need, NOW).ok, true);
    const other = judgeSignIn(claims({ email: 'carol@example.com', oid: 'BBBB-2' }), carolInTeams, need, NOW);
    assert.match(!other.ok ? other.reason : '', /another account than Carol's/);
    assert.equal(judgeSignIn(claims({ email: 'carol@example.com' }), carolInTeams, need, NOW).ok, false, 'no oid, no match');
  });
});

describe('who must step up', () => {
  const doc = (stepUp: unknown) => ({
    people: [
      { email: 'bob@example.com', name: 'Bob', groups: ['sre'] },
      { email: 'carol@example.com', name: 'Carol', groups: ['sre', 'admins'] },
    ],
    rules: [{ name: 'web', vms: { names: ['web-*'] }, requesters: ['*'], approvers: ['group:sre'], stepUp }],
  });
  const request = { rule: 'web' } as AccessRequest;

  it('stepUp: true asks every approver, a list only the principals it names', () => {
    const all = configFromDocument(doc(true)).policy;
    const some = configFromDocument(doc(['group:admins'])).policy;
    const [bob, carol] = all.people;
    assert.equal(stepUpRequired(all, bob, request), true);
    assert.equal(stepUpRequired(some, bob, request), false);
    assert.equal(stepUpRequired(some, carol, request), true);
    assert.equal(stepUpRequired(configFromDocument(doc(false)).policy, carol, request), false);
  });

  it('the config refuses stepUp with autoApprove, and an empty list', () => {
    assert.throws(() => configFromDocument({ ...doc(true), rules: [{ ...doc(true).rules[0], autoApprove: true }] }), /rules\[0\]\.stepUp: has no effect with autoApprove/);
    assert.throws(() => configFromDocument(doc([])), /rules\[0\]\.stepUp: must name at least one principal/);
  });
});
