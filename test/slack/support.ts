// Shared pieces for the Slack adapter tests: a recording JitApi stand-in, a recording logger, and a
// harness that runs the real Bolt app inside a real restify server against the fake Web API.
import type { AddressInfo } from 'node:net';
import * as restify from 'restify';
import type { ActOptions, CommandOptions, FormSubmitResult, HomeView, JitApi } from '../../src/app/api';
import type { Clock } from '../../src/app/ports';
import type { Actor } from '../../src/core/types';
import type { ActionResult, FormInput, FormView, Reply, RequestView, Verb } from '../../src/core/views';
import { createSlackAdapter, type SlackAdapter, type SlackAdapterOptions } from '../../src/slack';
import type { LoggerLike } from '../../src/slack/log';
import { SlackTestClient } from '../clients/slack';
import { FakeSlackApi } from '../fakes/slack-api';

export const BOT_TOKEN = 'xoxb-1111-2222-test-bot-token';
export const APP_TOKEN = 'xapp-1-A0JIT-3333-test-app-token';
export const SIGNING_SECRET = 'test-signing-secret-8f2a9c';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: object;
  msg: string | undefined;
}

export class RecordingLogger implements LoggerLike {
  readonly lines: LogLine[] = [];
  debug(obj: object, msg?: string): void {
    this.lines.push({ level: 'debug', obj, msg });
  }
  info(obj: object, msg?: string): void {
    this.lines.push({ level: 'info', obj, msg });
  }
  warn(obj: object, msg?: string): void {
    this.lines.push({ level: 'warn', obj, msg });
  }
  error(obj: object, msg?: string): void {
    this.lines.push({ level: 'error', obj, msg });
  }
  /** Everything logged, as one string, for "no secret leaked" checks. */
  text(): string {
    return this.lines.map((l) => `${l.level} ${JSON.stringify(l.obj)} ${l.msg ?? ''}`).join('\n');
  }
}

export type ApiCall =
  | { fn: 'command'; actor: Actor; text: string; opts?: CommandOptions }
  | { fn: 'act'; actor: Actor; verb: Verb; requestId: string; opts?: ActOptions }
  | { fn: 'form'; actor: Actor }
  | { fn: 'vmChoices'; actor: Actor; query: string }
  | { fn: 'submitForm'; actor: Actor; input: FormInput; opts?: CommandOptions }
  | { fn: 'home'; actor: Actor };

export const SAMPLE_VIEW: RequestView = {
  id: 'R4K7QX',
  state: 'pending',
  headline: 'Waiting for approval (0 of 1)',
  requester: { name: 'Alice', email: 'alice@example.com', platform: 'slack', userId: 'U0ALICE' },
  vms: ['web-01'],
  ports: ['22/TCP'],
  source: '10.1.2.3',
  sourceSize: '1 address',
  sourceWide: false,
  duration: '1h',
  reason: 'INC-4711',
  approvalsText: '0 of 1',
  approvedBy: [],
  decision: null,
  endsAt: null,
  failure: null,
  extension: null,
  approverActions: ['approve', 'deny'],
  requesterActions: ['cancel'],
  extendChoices: [],
  extendLimit: null,
  createdAt: '12:00 UTC',
  final: false,
};

export const SAMPLE_FORM: FormView = {
  vms: [{ name: 'web-01', ports: [{ value: '22', label: '22/TCP (ssh)' }], maxMinutes: 180, sources: ['10.0.0.0/8'] }],
  durations: [{ value: '1h', label: '1 hour' }],
  defaults: {},
};

/** A JitApi that records what the adapter asked and answers what the test set, optionally slowly. */
export class StubApi implements JitApi {
  readonly calls: ApiCall[] = [];
  delayMs = 0;
  commandReply: (text: string, actor: Actor) => Reply = (text) =>
    text === 'help' ? { kind: 'help', help: { commands: [{ usage: '/jit help', description: 'usage' }], examples: [] } } : { kind: 'submitted', text: `Sent for approval: ${SAMPLE_VIEW.id}.`, request: SAMPLE_VIEW };
  actResult: (verb: Verb, requestId: string, actor: Actor) => ActionResult = (verb, id) => ({ ok: true, message: `${verb} ${id}: done.`, view: SAMPLE_VIEW });
  formResult: (actor: Actor) => { ok: true; form: FormView } | { ok: false; reply: Reply } = () => ({ ok: true, form: SAMPLE_FORM });
  submitResult: (input: FormInput) => FormSubmitResult = () => ({ ok: true, reply: { kind: 'submitted', text: `Sent for approval: ${SAMPLE_VIEW.id}.`, request: SAMPLE_VIEW } });
  homeView: HomeView = { grants: [], pending: [SAMPLE_VIEW], awaiting: [] };
  fail: Error | null = null;

  private async pause(): Promise<void> {
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.fail) throw this.fail;
  }

  calledWith<F extends ApiCall['fn']>(fn: F): Array<Extract<ApiCall, { fn: F }>> {
    return this.calls.filter((c): c is Extract<ApiCall, { fn: F }> => c.fn === fn);
  }

  async command(actor: Actor, text: string, opts?: CommandOptions): Promise<Reply> {
    this.calls.push({ fn: 'command', actor, text, opts });
    await this.pause();
    return this.commandReply(text, actor);
  }
  async act(actor: Actor, verb: Verb, requestId: string, opts?: ActOptions): Promise<ActionResult> {
    this.calls.push({ fn: 'act', actor, verb, requestId, opts });
    await this.pause();
    return this.actResult(verb, requestId, actor);
  }
  /** Names the options handler offers; tests set as many as they like. */
  vmNames: string[] = SAMPLE_FORM.vms.map((v) => v.name);
  async vmChoices(actor: Actor, query: string, limit = 100): Promise<{ names: string[]; total: number }> {
    this.calls.push({ fn: 'vmChoices', actor, query });
    const names = this.vmNames.filter((n) => n.toLowerCase().includes(query.toLowerCase()));
    return { names: names.slice(0, limit), total: names.length };
  }
  async form(actor: Actor): Promise<{ ok: true; form: FormView } | { ok: false; reply: Reply }> {
    this.calls.push({ fn: 'form', actor });
    await this.pause();
    return this.formResult(actor);
  }
  async submitForm(actor: Actor, input: FormInput, opts?: CommandOptions): Promise<FormSubmitResult> {
    this.calls.push({ fn: 'submitForm', actor, input, opts });
    await this.pause();
    return this.submitResult(input);
  }
  async view(): Promise<RequestView | null> {
    return SAMPLE_VIEW;
  }
  async home(actor: Actor): Promise<HomeView> {
    this.calls.push({ fn: 'home', actor });
    await this.pause();
    return this.homeView;
  }
  async approverEmails(): Promise<string[]> {
    return [];
  }
  async involved(): Promise<boolean> {
    return true;
  }
  knows(email: string | null): boolean {
    return email !== null && email.endsWith('@example.com');
  }
  async keepCopy(): Promise<void> {}
}

export interface SlackHarness {
  fake: FakeSlackApi;
  adapter: SlackAdapter;
  server: restify.Server;
  client: SlackTestClient;
  logger: RecordingLogger;
  /** `http://127.0.0.1:PORT/slack/events` */
  eventsUrl: string;
  close(): Promise<void>;
}

/** Fake Web API → adapter → restify on a loopback port. The adapter is started (auth.test). */
export async function startSlackHarness(
  api: JitApi,
  opts: Partial<Omit<SlackAdapterOptions, 'api' | 'logger'>> & { fake?: FakeSlackApi; clock?: Clock } = {},
): Promise<SlackHarness> {
  const fake = opts.fake ?? (await FakeSlackApi.start());
  const logger = new RecordingLogger();
  const adapter = createSlackAdapter({
    botToken: BOT_TOKEN,
    signingSecret: SIGNING_SECRET,
    apiUrl: fake.apiUrl,
    processBeforeResponse: true,
    ...opts,
    api,
    logger,
  });
  const server = restify.createServer({ handleUncaughtExceptions: false });
  adapter.mount(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  await adapter.start();
  const port = (server.address() as AddressInfo).port;
  const eventsUrl = `http://127.0.0.1:${port}/slack/events`;
  return {
    fake,
    adapter,
    server,
    logger,
    eventsUrl,
    client: new SlackTestClient(eventsUrl, SIGNING_SECRET),
    close: async () => {
      await adapter.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (!opts.fake) await fake.close();
    },
  };
}
