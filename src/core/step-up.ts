// Step-up approvals: on a rule with `stepUp`, a click on Approve counts only once the approver has
// signed in again at the company's OpenID Connect provider, recently and with a second factor. This
// module holds the pure parts: who must step up, and whether an ID token's claims prove it.
import { hasPrincipal } from './access';
import { sameEmail } from './email';
import type { AccessPolicy, Person } from './policy';
import type { AccessRequest, Actor, StepUpProof } from './types';

export type { StepUpProof } from './types';

/** The claims of a validated ID token that the judgement reads (signature, iss, aud, nonce already checked). */
export interface SignInClaims {
  iss: string;
  sub: string;
  auth_time?: number;
  amr?: unknown;
  acr?: unknown;
  /** Entra ID: the Conditional Access authentication contexts (`c1`…) the sign-in satisfied. */
  acrs?: unknown;
  email?: unknown;
  email_verified?: unknown;
  /** Entra ID: the user's object id, which Teams gives as `aadObjectId`. */
  oid?: unknown;
}

export interface StepUpRequirement {
  /** How old the sign-in may be (`max_age`), in seconds. */
  maxAgeSeconds: number;
  /**
   * When set, an `acr` equal to this, or an Entra `acrs` listing it, also proves a second factor (for
   * providers that say so with an authentication context rather than `amr`).
   */
  acr?: string;
  /** Clock difference tolerated between the provider and us, in seconds. */
  clockToleranceSeconds?: number;
}

export type Judgement = { ok: true; proof: StepUpProof } | { ok: false; reason: string };

/** Whether this approver's click on this request must be confirmed by a fresh sign-in. */
export function stepUpRequired(policy: AccessPolicy, person: Person, request: AccessRequest): boolean {
  const rule = policy.rules.find((r) => r.name === request.rule);
  if (!rule?.stepUp) return false;
  return rule.stepUp === true || hasPrincipal(person, rule.stepUp);
}

/** True when any rule asks for step-up (then the start needs a sign-in provider). */
export function anyRuleNeedsStepUp(policy: AccessPolicy): string[] {
  return policy.rules.filter((r) => r.stepUp === true || (Array.isArray(r.stepUp) && r.stepUp.length > 0)).map((r) => r.name);
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * Does this sign-in belong to the approver who clicked, is it fresh, and did it use a second factor?
 * Teams approvers are matched by Entra object id (an email can be renamed or reused; the object id
 * cannot), everyone else by the email claim.
 */
export function judgeSignIn(claims: SignInClaims, approver: Actor, need: StepUpRequirement, now: Date): Judgement {
  const tolerance = need.clockToleranceSeconds ?? 60;
  if (approver.platform === 'teams' && approver.aadObjectId) {
    const oid = typeof claims.oid === 'string' ? claims.oid : null;
    if (!oid) return { ok: false, reason: 'the sign-in did not say which Entra ID user it was (no oid claim), so it cannot be matched to your Teams account' };
    if (oid.toLowerCase() !== approver.aadObjectId.toLowerCase()) {
      return { ok: false, reason: `the sign-in was by another account than ${approver.name}'s; sign in as yourself` };
    }
  } else {
    const email = typeof claims.email === 'string' ? claims.email : null;
    if (!email) return { ok: false, reason: 'the sign-in did not give an email address, so it cannot be matched to you' };
    if (claims.email_verified === false) return { ok: false, reason: `the provider says ${email} is not verified` };
    if (!sameEmail(email, approver.email)) {
      return { ok: false, reason: `the sign-in was by ${email}, not by ${approver.name}; sign in as yourself` };
    }
  }
  if (typeof claims.auth_time !== 'number' || !Number.isFinite(claims.auth_time)) {
    return { ok: false, reason: 'the provider did not say when you signed in (no auth_time), so freshness cannot be checked' };
  }
  const authMs = claims.auth_time * 1000;
  const ageSeconds = (now.getTime() - authMs) / 1000;
  if (ageSeconds > need.maxAgeSeconds + tolerance) {
    return { ok: false, reason: `the sign-in was ${Math.round(ageSeconds / 60)} minutes old; approvals need one from the last ${Math.round(need.maxAgeSeconds / 60)} minutes` };
  }
  if (ageSeconds < -tolerance) return { ok: false, reason: "the sign-in is dated in the future; the provider's clock and ours disagree" };
  const amr = strings(claims.amr);
  const contexts = strings(claims.acrs);
  const acr = typeof claims.acr === 'string' ? claims.acr : need.acr !== undefined && contexts.includes(need.acr) ? need.acr : undefined;
  const secondFactor = amr.includes('mfa') || (need.acr !== undefined && acr === need.acr);
  if (!secondFactor) {
    const said = amr.length ? `methods ${amr.join(', ')}` : 'no methods';
    return { ok: false, reason: `the sign-in did not use a second factor (the provider reported ${said}${acr ? `, acr ${acr}` : ''})` };
  }
  return { ok: true, proof: { issuer: claims.iss, subject: claims.sub, amr, ...(acr !== undefined ? { acr } : {}), authTime: new Date(authMs) } };
}
