// What the chat adapters call. Adapters turn platform requests into these calls and render the
// answers; every decision (who may, what opens, what is refused) is made behind this interface.
import type { MessageRef } from './ports';
import type { Actor } from '../core/types';
import type { ActionResult, FormField, FormInput, FormView, Reply, RequestView, Verb } from '../core/views';

export interface CommandOptions {
  /** Slack retries and Teams re-sends carry the same key; the second delivery changes nothing. */
  idempotencyKey?: string;
}

export interface ActOptions {
  idempotencyKey?: string;
  /** For `extend` from a button: how much more time (defaults to the request's own duration, or what is left of the maximum). */
  durationMinutes?: number;
  /** For `deny`: why, shown to the requester and in the thread. */
  reason?: string;
}

export type FormSubmitResult =
  | { ok: true; reply: Reply }
  | { ok: false; errors: Partial<Record<FormField, string>> };

export interface HomeView {
  grants: RequestView[];
  pending: RequestView[];
  awaiting: RequestView[];
}

export interface JitApi {
  /** Run the words after `/jit` for this person; the answer is for them alone. */
  command(actor: Actor, text: string, opts?: CommandOptions): Promise<Reply>;
  /** A button on a card or notice. */
  act(actor: Actor, verb: Verb, requestId: string, opts?: ActOptions): Promise<ActionResult>;
  /** VM names this person may request that contain `query` (or match it as a glob), at most `limit`, with the full count. */
  vmChoices(actor: Actor, query: string, limit?: number): Promise<{ names: string[]; total: number }>;
  /** The request form, limited to what this person may request; an error reply for unknown people. */
  form(actor: Actor, defaults?: Partial<FormInput>): Promise<{ ok: true; form: FormView } | { ok: false; reply: Reply }>;
  /** A filled form; field errors come back by field and nothing is stored. */
  submitForm(actor: Actor, input: FormInput, opts?: CommandOptions): Promise<FormSubmitResult>;
  /** The card as it is now. */
  view(requestId: string): Promise<RequestView | null>;
  /** App Home / status panel for a person. */
  home(actor: Actor): Promise<HomeView>;
  /** Emails of the people who may approve this request now (Teams refresh `userIds`). */
  approverEmails(requestId: string): Promise<string[]>;
  /**
   * True when this person is part of the request (requester, an approver under its rule, someone
   * who decided it, or an admin): only they may see it.
   */
  involved(actor: Actor, requestId: string): Promise<boolean>;
  /** True when the email belongs to a person in the config. */
  knows(email: string | null): boolean;
  /**
   * The platform's own answer to a request (Teams' reply card) is the requester's copy: it is
   * redrawn on every transition. Only the requester's answer is kept; anyone else's is ignored.
   * `drawnVersion`: the version the answer shows; it is redrawn at once only when the request has moved on since.
   */
  keepCopy(actor: Actor, requestId: string, ref: MessageRef, opts?: { drawnVersion?: number }): Promise<void>;
}
