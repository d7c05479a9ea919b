// Step-up approvals, the app side: a one-time link for the approver who clicked, a fresh sign-in at
// the company's OpenID Connect provider, and the approval recorded only once the sign-in proved who
// it was, that it is recent and that it used a second factor.
//
// Everything lives in the store, so any replica can serve the link and the provider's redirect, and
// a restart loses nothing. Links and sign-in attempts are stored under a hash of their secret, and
// each can be spent once (claimKey).
import { createHash, randomBytes } from 'node:crypto';
import { formatDuration } from '../core/duration';
import { SignInError, isJitError } from '../core/errors';
import { openDecision } from '../core/lifecycle';
import { judgeSignIn, type StepUpRequirement } from '../core/step-up';
import type { AccessRequest, Actor, StepUpProof } from '../core/types';
import { formatPort, type ActionResult, type Notice } from '../core/views';
import { errorFields } from './logger';
import type { SignInPort } from './ports';
import { IDEMPOTENCY_TTL_MS, UseCase, type UseCaseContext } from './use-case';

/** The approval a link stands for: the request itself, or the extension asked at `extensionAskedAt`. */
export type StepUpPhase = { kind: 'request' } | { kind: 'extension'; askedAt: string };

export interface StepUpOptions {
  signIn: SignInPort;
  /** The bot's public base URL (links are `${base}/step-up/<token>`). */
  baseUrl: () => string;
  requirement: StepUpRequirement;
  /** How long a link works (10 minutes). */
  linkTtlMs?: number;
  /** Per call to the provider. */
  timeoutInMs?: number;
}

/** Confirms an approval once a sign-in proved it (Actions implements it). */
export interface ApprovalConfirmer {
  confirmStepUp(actor: Actor, requestId: string, proof: StepUpProof, phase: StepUpPhase): Promise<ActionResult>;
}

/** What the browser is shown: a redirect to the provider, or a page with the outcome. */
export type StepUpPage = { kind: 'redirect'; url: string } | { kind: 'page'; status: number; ok: boolean; title: string; message: string };

interface Challenge {
  requestId: string;
  phase: StepUpPhase;
  actor: Actor;
  expiresAt: string;
  /** Set once the approval it stood for was recorded. */
  spentAt?: string;
}

interface Attempt {
  challenge: string;
  nonce: string;
  codeVerifier: string;
  expiresAt: string;
}

const LINKS = 'step-up-link';
const ATTEMPTS = 'step-up-attempt';
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

function secret(): string {
  return randomBytes(32).toString('base64url');
}

function hashOf(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

function page(status: number, ok: boolean, title: string, message: string): StepUpPage {
  return { kind: 'page', status, ok, title, message };
}

export function phaseOf(r: AccessRequest): StepUpPhase {
  return r.state === 'active' && r.extension ? { kind: 'extension', askedAt: r.extension.requestedAt.toISOString() } : { kind: 'request' };
}

export class StepUps extends UseCase {
  constructor(
    ctx: UseCaseContext,
    private readonly approvals: ApprovalConfirmer,
    private readonly o: StepUpOptions,
  ) {
    super(ctx);
  }

  private get linkTtlMs(): number {
    return this.o.linkTtlMs ?? 10 * 60_000;
  }

  /**
   * A link for this approver and this approval, sent to them personally (a direct message on their
   * own platform, written in the outbox like every notice). Returns what their click is answered.
   */
  async ask(actor: Actor, r: AccessRequest): Promise<ActionResult['message']> {
    const token = secret();
    const expiresAt = new Date(this.clock.now().getTime() + this.linkTtlMs);
    const challenge: Challenge = { requestId: r.id, phase: phaseOf(r), actor, expiresAt: expiresAt.toISOString() };
    await this.store.setValue(LINKS, hashOf(token), challenge);
    const url = `${this.o.baseUrl().replace(/\/+$/, '')}/step-up/${token}`;
    const what = `${r.ports.map(formatPort).join(', ')} on ${r.vms.map((v) => v.name).join(', ')} for ${r.requester.name}`;
    const extension = challenge.phase.kind === 'extension' && r.extension ? ` (an extension of ${formatDuration(r.extension.durationMinutes)})` : '';
    const notice: Notice = {
      kind: 'step-up',
      requestId: r.id,
      text: `Rule ${r.rule} needs a fresh sign-in with a second factor before your approval of ${r.id}${extension} counts: ${what}. The link works once, for ${Math.round(this.linkTtlMs / 60_000)} minutes, and only for you.`,
      link: { url, label: 'Sign in to approve' },
    };
    await this.store.scheduleJobs([
      { kind: 'dm', requestId: r.id, dueAt: this.clock.now(), key: `${r.id}:step-up:${hashOf(token).slice(0, 16)}`, payload: { notice, to: actor, about: openDecision(r) } },
    ]);
    await this.store.appendAudit([this.auditEvent('approval.step-up-asked', r, actor, { phase: challenge.phase.kind, expiresAt: challenge.expiresAt })]);
    this.kick();
    return `Rule ${r.rule} needs a fresh sign-in with a second factor before your approval counts. I sent you a one-time sign-in link personally; your approval is not recorded until you sign in.`;
  }

  /** The approver opened the link: send them to the provider with a fresh state, nonce and PKCE verifier. */
  async begin(token: string): Promise<StepUpPage> {
    const found = await this.challengeFor(token);
    if ('kind' in found) return found;
    const state = secret();
    const nonce = secret();
    const codeVerifier = secret();
    // A sign-in attempt lives as long as the link, and never past it.
    const attempt: Attempt = { challenge: hashOf(token), nonce, codeVerifier, expiresAt: found.expiresAt };
    await this.store.setValue(ATTEMPTS, hashOf(state), attempt);
    try {
      const url = await this.o.signIn.authorizationUrl(
        {
          state,
          nonce,
          codeVerifier,
          maxAgeSeconds: this.o.requirement.maxAgeSeconds,
          ...(this.o.requirement.acr ? { acr: this.o.requirement.acr } : {}),
          ...(found.actor.email ? { loginHint: found.actor.email } : {}),
        },
        { timeoutInMs: this.o.timeoutInMs ?? 10_000 },
      );
      return { kind: 'redirect', url: url.href };
    } catch (err) {
      this.log.warn(errorFields(err), 'step-up: the sign-in provider could not be reached');
      return page(502, false, 'The sign-in provider did not answer', 'Nothing was approved. Open the link again in a minute.');
    }
  }

  /** The provider sent the browser back: redeem, judge, and only then approve. */
  async finish(query: URLSearchParams): Promise<StepUpPage> {
    const state = query.get('state') ?? '';
    if (!TOKEN.test(state)) return page(400, false, 'This sign-in is not one of ours', 'Nothing was approved. Open the link from your direct message again.');
    const attempt = await this.store.getValue<Attempt>(ATTEMPTS, hashOf(state));
    if (!attempt) return page(400, false, 'This sign-in is not one of ours', 'Nothing was approved. Open the link from your direct message again.');
    // Each attempt is spent by its first answer, whatever that is: a replayed redirect finds it used.
    if (!(await this.store.claimKey(`step-up:attempt:${hashOf(state)}`, IDEMPOTENCY_TTL_MS, this.clock.now()))) {
      return page(409, false, 'This sign-in was already used', 'Nothing more was approved. Each sign-in counts once.');
    }
    const challenge = await this.store.getValue<Challenge>(LINKS, attempt.challenge);
    if (!challenge) return page(400, false, 'This sign-in is not one of ours', 'Nothing was approved.');
    const r = await this.store.getRequest(challenge.requestId);
    const audit = (type: string, details: Record<string, unknown>) =>
      r ? this.store.appendAudit([this.auditEvent(type, r, challenge.actor, { phase: challenge.phase.kind, ...details })]) : Promise.resolve();
    if (new Date(attempt.expiresAt).getTime() < this.clock.now().getTime()) {
      await audit('approval.step-up-failed', { reason: 'link expired' });
      return page(410, false, 'This link has expired', `Nothing was approved. Click Approve on ${challenge.requestId} again for a new link.`);
    }
    let claims;
    try {
      claims = await this.o.signIn.redeem(query, { state, nonce: attempt.nonce, codeVerifier: attempt.codeVerifier }, { timeoutInMs: this.o.timeoutInMs ?? 10_000 });
    } catch (err) {
      const reason = err instanceof SignInError ? err.message : 'the sign-in provider could not be reached';
      if (!(err instanceof SignInError)) this.log.warn(errorFields(err), 'step-up: redeeming the sign-in failed');
      await audit('approval.step-up-failed', { reason });
      return page(403, false, 'The sign-in did not work', `Nothing was approved: ${reason}.`);
    }
    // Freshness is judged on the real clock: the provider's auth_time is wall-clock time.
    const judged = judgeSignIn(claims, challenge.actor, this.o.requirement, new Date());
    if (!judged.ok) {
      await audit('approval.step-up-failed', { reason: judged.reason, issuer: claims.iss, subject: claims.sub, amr: Array.isArray(claims.amr) ? claims.amr : [] });
      return page(403, false, 'This sign-in does not count', `Nothing was approved: ${judged.reason}.`);
    }
    // The link itself is spent by the first sign-in that proves the approval, never twice.
    const spentKey = `step-up:link:${attempt.challenge}`;
    if (!(await this.store.claimKey(spentKey, IDEMPOTENCY_TTL_MS, this.clock.now()))) {
      return page(409, false, 'This link was already used', 'Your approval was already recorded once; nothing more was done.');
    }
    let result: ActionResult;
    try {
      result = await this.approvals.confirmStepUp(challenge.actor, challenge.requestId, judged.proof, challenge.phase);
    } catch (err) {
      await this.store.releaseKey(spentKey).catch(() => undefined);
      if (isJitError(err)) return page(409, false, 'Nothing was approved', err.message);
      throw err;
    }
    if (!result.ok) await this.store.releaseKey(spentKey).catch(() => undefined);
    else await this.store.setValue(LINKS, attempt.challenge, { ...challenge, spentAt: this.clock.now().toISOString() });
    return page(result.ok ? 200 : 409, result.ok, result.ok ? 'Approval recorded' : 'Nothing was approved', result.message);
  }

  private async challengeFor(token: string): Promise<Challenge | StepUpPage> {
    if (!TOKEN.test(token)) return page(404, false, 'This link is not valid', 'Click Approve on the request again for a new link.');
    const challenge = await this.store.getValue<Challenge>(LINKS, hashOf(token));
    if (!challenge) return page(404, false, 'This link is not valid', 'Click Approve on the request again for a new link.');
    if (new Date(challenge.expiresAt).getTime() < this.clock.now().getTime()) {
      return page(410, false, 'This link has expired', `Click Approve on ${challenge.requestId} again for a new link.`);
    }
    if (challenge.spentAt) return page(409, false, 'This link was already used', `Your approval of ${challenge.requestId} was recorded; a link works once.`);
    const r = await this.store.getRequest(challenge.requestId);
    if (!r) return page(404, false, 'This request no longer exists', 'Nothing to approve.');
    return challenge;
  }
}
