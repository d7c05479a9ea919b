// A JitApi that records what the adapter asked and answers from a script: for testing the Teams
// adapter alone (the end-to-end tests use the real app).
import type { ActOptions, CommandOptions, FormSubmitResult, HomeView, JitApi } from '../../src/app/api';
import type { MessageRef } from '../../src/app/ports';
import type { Actor } from '../../src/core/types';
import type { ActionResult, FormInput, FormView, Reply, RequestView, Verb } from '../../src/core/views';
import { sampleForm, sampleViews } from './card-samples';

export interface ApiCall {
  method: keyof JitApi;
  actor?: Actor;
  text?: string;
  verb?: Verb;
  requestId?: string;
  input?: FormInput;
  key?: string;
  ref?: MessageRef;
}

export class StubApi implements JitApi {
  readonly calls: ApiCall[] = [];
  views = new Map<string, RequestView>([sampleViews().pending, sampleViews().pendingTwo].map((v) => [v.id, v]));
  approvers = ['bob@example.com', 'carol@example.com'];
  people = new Set(['alice@example.com', 'bob@example.com', 'carol@example.com', 'dave@example.com']);
  reply: (actor: Actor, text: string) => Reply = (_a, text) => ({ kind: 'text', text: `you said: ${text}` });
  actResult: (actor: Actor, verb: Verb, id: string) => ActionResult = (_a, verb, id) => ({ ok: true, message: `${verb} recorded`, view: this.views.get(id) ?? null });
  formResult: (actor: Actor, input: FormInput) => FormSubmitResult = () => ({ ok: false, errors: { source: 'Source 1.2.3.4 is outside 10.0.0.0/8' } });

  async command(actor: Actor, text: string, opts?: CommandOptions): Promise<Reply> {
    this.calls.push({ method: 'command', actor, text, ...(opts?.idempotencyKey ? { key: opts.idempotencyKey } : {}) });
    return this.reply(actor, text);
  }
  async act(actor: Actor, verb: Verb, requestId: string, opts?: ActOptions): Promise<ActionResult> {
    this.calls.push({ method: 'act', actor, verb, requestId, ...(opts?.idempotencyKey ? { key: opts.idempotencyKey } : {}) });
    return this.actResult(actor, verb, requestId);
  }
  async vmChoices(actor: Actor, query: string, limit = 100): Promise<{ names: string[]; total: number }> {
    const names = sampleForm.vms.map((v) => v.name).filter((n) => n.includes(query));
    return { names: names.slice(0, limit), total: names.length };
  }
  async form(actor: Actor): Promise<{ ok: true; form: FormView } | { ok: false; reply: Reply }> {
    this.calls.push({ method: 'form', actor });
    return { ok: true, form: sampleForm };
  }
  async submitForm(actor: Actor, input: FormInput, opts?: CommandOptions): Promise<FormSubmitResult> {
    this.calls.push({ method: 'submitForm', actor, input, ...(opts?.idempotencyKey ? { key: opts.idempotencyKey } : {}) });
    return this.formResult(actor, input);
  }
  async view(requestId: string): Promise<RequestView | null> {
    this.calls.push({ method: 'view', requestId });
    return this.views.get(requestId) ?? null;
  }
  async home(): Promise<HomeView> {
    return { grants: [], pending: [], awaiting: [] };
  }
  async approverEmails(requestId: string): Promise<string[]> {
    this.calls.push({ method: 'approverEmails', requestId });
    return this.approvers;
  }
  /** Emails the script treats as strangers to every request. */
  strangers = new Set<string>();
  async involved(actor: Actor, requestId: string): Promise<boolean> {
    this.calls.push({ method: 'involved', actor, requestId });
    return this.views.has(requestId) && !(actor.email !== null && this.strangers.has(actor.email));
  }
  knows(email: string | null): boolean {
    return email !== null && this.people.has(email);
  }
  async keepCopy(actor: Actor, requestId: string, ref: MessageRef): Promise<void> {
    this.calls.push({ method: 'keepCopy', actor, requestId, ref });
  }
}
