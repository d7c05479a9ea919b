// The console's HTTP surface. Handlers turn page requests into JitApi calls and render the answers
// with the shared cards; every decision stays behind the api.
import type { Request, Response, Server } from 'restify';
import type { JitApi } from '../app/api';
import { errorFields, type Logger } from '../app/logger';
import { formCard, formInputFrom, replyCard } from '../cards/render';
import { isJitError } from '../core/errors';
import type { Actor } from '../core/types';
import type { Reply, Verb } from '../core/views';
import type { Assets, Asset } from './assets';
import type { ConsoleFeed } from './feed';
import { HttpBodyError, queryOf, readJsonBody, sendBytes, sendJson } from './http';
import type { ConsoleRoom } from './room';
import type { ConsoleState } from './state';
import { wireEntry, type Viewer } from './wire';

export interface ConsolePerson {
  email: string;
  name: string;
  groups: string[];
}

export interface RouteDeps {
  api: JitApi;
  people: ConsolePerson[];
  room: ConsoleRoom;
  feed: ConsoleFeed;
  assets: Assets;
  state: () => Promise<ConsoleState>;
  logger: Logger;
}

const VERBS: readonly Verb[] = ['approve', 'deny', 'extend', 'release', 'cancel'];
const MAX_COMMAND_CHARS = 2000;

/**
 * The page is ours alone: scripts and styles from this origin only, so even a string that slipped
 * past escaping could not load or run anything. Adaptive Cards set element styles from script,
 * which `style-src` does not govern, and markdown output is inserted as DOM, not as inline script.
 */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
};

/** A request the page got wrong: answered with a one-line message the page shows as is. */
class BadInput extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function mountRoutes(server: Server, deps: RouteDeps): void {
  const { api, room, feed, assets, logger } = deps;
  const people = new Map(deps.people.map((p) => [p.email.toLowerCase(), { ...p, email: p.email.toLowerCase() }]));

  const actorFor = (as: unknown): Actor => {
    const email = typeof as === 'string' ? as.trim().toLowerCase() : '';
    const person = people.get(email);
    if (!person) throw new BadInput(400, 'Choose who you are from the people of the config.');
    return { platform: 'console', userId: person.email, email: person.email, name: person.name };
  };
  const viewerFor = (email: string): Viewer => ({ email, approverEmails: (id) => api.approverEmails(id) });

  /** Runs a JSON route: bad input and unexpected failures both answer `{ error }` the page can show. */
  const json =
    (what: string, handle: (body: Record<string, unknown>) => Promise<unknown>) =>
    async (req: Request, res: Response): Promise<void> => {
      try {
        const body = await readJsonBody(req);
        if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new BadInput(400, 'send a JSON object');
        sendJson(res, 200, await handle(body as Record<string, unknown>));
      } catch (err) {
        if (err instanceof BadInput || err instanceof HttpBodyError) return sendJson(res, err.status, { error: err.message });
        logger.error({ ...errorFields(err), route: what }, 'console: request failed');
        sendJson(res, 500, { error: 'Something went wrong in jitbot; the server log has the details.' });
      }
    };

  const asset = (get: () => Asset, headers?: Record<string, string>) => async (_req: Request, res: Response) => {
    let a: Asset;
    try {
      a = get();
    } catch (err) {
      logger.error({ ...errorFields(err) }, 'console: could not read a page file');
      return sendJson(res, 500, { error: 'The console could not read its page files; the server log has the details.' });
    }
    sendBytes(res, a.contentType, a.body, headers);
  };

  server.get('/', asset(assets.page, PAGE_HEADERS));
  server.get('/console/app.js', asset(assets.appJs));
  server.get('/console/app.css', asset(assets.appCss));
  server.get('/console/adaptivecards.js', asset(assets.adaptiveCardsJs));
  server.get('/console/markdown-it.js', asset(assets.markdownItJs));

  server.get('/console/people', async (_req, res) => {
    sendJson(res, 200, { people: [...people.values()] });
  });

  server.get('/console/state', async (_req, res) => {
    try {
      sendJson(res, 200, await deps.state());
    } catch (err) {
      logger.warn({ ...errorFields(err) }, 'console: could not read the simulated Azure state');
      sendJson(res, 502, { error: 'Could not read the simulated Azure state.' });
    }
  });

  server.post(
    '/console/command',
    json('command', async (body) => {
      const actor = actorFor(body.as);
      const typed = typeof body.text === 'string' ? body.text.trim() : '';
      if (typed.length > MAX_COMMAND_CHARS) throw new BadInput(400, `Commands are at most ${MAX_COMMAND_CHARS} characters.`);
      const viewer = viewerFor(actor.userId);
      const asked = room.addToConversation(actor.userId, { kind: 'command', text: typed === '' ? '/jit' : typed });
      let reply: Reply;
      try {
        reply = await api.command(actor, wordsAfterJit(typed), { idempotencyKey: idempotencyKey(body.key) });
      } catch (err) {
        logger.error({ ...errorFields(err), route: 'command' }, 'console: command failed');
        reply = { kind: 'error', message: isJitError(err) ? err.message : 'Something went wrong in jitbot; the server log has the details.' };
      }
      const answered = room.addToConversation(actor.userId, { kind: 'reply', reply });
      return { kind: reply.kind, card: replyCard(reply), entries: [wireEntry(asked, viewer), wireEntry(answered, viewer)] };
    }),
  );

  server.post(
    '/console/action',
    json('action', async (body) => {
      const actor = actorFor(body.as);
      const verb = body.verb;
      const requestId = typeof body.requestId === 'string' ? body.requestId.trim() : '';
      if (typeof verb !== 'string' || !(VERBS as readonly string[]).includes(verb)) throw new BadInput(400, `Unknown button "${String(verb)}".`);
      if (requestId === '') throw new BadInput(400, 'The button names no request.');
      try {
        return await api.act(actor, verb as Verb, requestId, { idempotencyKey: idempotencyKey(body.key) });
      } catch (err) {
        // Refusals the api throws are answers for the clicker, exactly like the ones it returns.
        if (isJitError(err) && err.code !== 'internal') return { ok: false, message: err.message, view: null };
        throw err;
      }
    }),
  );

  server.post(
    '/console/form',
    json('form', async (body) => {
      const actor = actorFor(body.as);
      const raw = body.input !== null && typeof body.input === 'object' ? (body.input as Record<string, unknown>) : {};
      const input = formInputFrom(raw);
      const result = await api.submitForm(actor, input, { idempotencyKey: idempotencyKey(body.key) });
      if (result.ok) {
        const answered = room.addToConversation(actor.userId, { kind: 'reply', reply: result.reply });
        return { ok: true, card: replyCard(result.reply), entries: [wireEntry(answered, viewerFor(actor.userId))] };
      }
      // The form comes back with the person's values and one line per wrong field, as Teams redraws it.
      const again = await api.form(actor, input);
      const card = again.ok ? formCard(again.form, { values: input, errors: result.errors }) : replyCard(again.reply);
      return { ok: false, errors: result.errors, card };
    }),
  );

  // Three parameters and no async: the stream outlives the handler, and restify 11 lets only
  // callback-style handlers decide when they are done.
  server.get('/console/events', (req: Request, res: Response, next: (err?: unknown) => void) => {
    let actor: Actor;
    try {
      actor = actorFor(queryOf(req).get('as'));
    } catch (err) {
      sendJson(res, 400, { error: (err as Error).message });
      return next();
    }
    feed.subscribe(actor.userId, res, () => next());
  });
}

/** The console takes the words as Slack's `/jit` or a Teams message would carry them. */
export function wordsAfterJit(typed: string): string {
  return typed.replace(/^\/?jit(?:\s+|$)/i, '').trim();
}

function idempotencyKey(key: unknown): string | undefined {
  return typeof key === 'string' && /^[\w-]{8,64}$/.test(key) ? `console:${key}` : undefined;
}
