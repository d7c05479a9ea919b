// The Teams adapter as the bot mounts it: options checked and the route in place at start, and
// botbuilder (over a second of module loading, most of a PostgreSQL bot's start) loaded only when the
// first activity that passes the route's checks arrives, or the app first posts to Teams.
import type * as restify from 'restify';
import { errorFields } from '../app/logger';
import type { CallOptions, ChatPort, MessageRef } from '../app/ports';
import type { Actor, Route } from '../core/types';
import type { Notice, RequestView } from '../core/views';
import { HttpBodyError, parseJson, readBody, sendBodyError } from '../http/body';
import { activityProblem, checkTeamsOptions, JSON_ONLY, MAX_BODY_BYTES, TEAMS_ROUTE, type TeamsAdapter, type TeamsAdapterOptions } from './activity';
import type { TeamsRuntime } from './adapter';

export function createTeamsAdapter(opts: TeamsAdapterOptions): TeamsAdapter {
  const settings = checkTeamsOptions(opts);
  const log = opts.logger;
  let runtime: TeamsRuntime | null = null;
  const load = (): TeamsRuntime => {
    if (runtime) return runtime;
    const started = performance.now();
    const { createTeamsRuntime } = require('./adapter') as typeof import('./adapter');
    runtime = createTeamsRuntime(opts, settings);
    log.info({ ms: Math.round(performance.now() - started) }, 'Teams adapter loaded');
    return runtime;
  };

  const chat: ChatPort = {
    platform: 'teams',
    postCard: (route: Route, view: RequestView, o?: CallOptions) => load().chat.postCard(route, view, o),
    updateCard: (ref: MessageRef, view: RequestView, o?: CallOptions) => load().chat.updateCard(ref, view, o),
    replyInThread: (ref: MessageRef, notice: Notice, o?: CallOptions) => load().chat.replyInThread(ref, notice, o),
    notifyPerson: (person: Actor, notice: Notice, o?: CallOptions) => load().chat.notifyPerson(person, notice, o),
    messagePerson: (person: Actor, notice: Notice, o?: CallOptions) => load().chat.messagePerson(person, notice, o),
    updateNotice: (ref: MessageRef, notice: Notice, o?: CallOptions) => load().chat.updateNotice(ref, notice, o),
    postCopy: (person: Actor, view: RequestView, o?: CallOptions) => load().chat.postCopy(person, view, o),
    updateCopy: (ref: MessageRef, view: RequestView, o?: CallOptions) => load().chat.updateCopy(ref, view, o),
  };

  return {
    chat,
    mount(server: restify.Server) {
      server.post(TEAMS_ROUTE, async (req: restify.Request, res: restify.Response) => {
        // restify routes `/api/messages;x` and `/api/%6dessages` here too; only the exact path is ours.
        if ((req.url ?? '').split('?')[0] !== TEAMS_ROUTE) {
          res.send(404, { error: 'Not found' });
          return;
        }
        let body: unknown;
        try {
          body = parseJson(await readBody(req, { accept: JSON_ONLY, maxBytes: MAX_BODY_BYTES }));
        } catch (err) {
          if (!(err instanceof HttpBodyError)) throw err;
          log.warn({ status: err.status, reason: err.message }, 'Teams request refused');
          return sendBodyError(res, err);
        }
        const problem = activityProblem(body);
        if (problem) {
          log.warn({ reason: problem }, 'Teams request refused: not an activity');
          res.send(400, { error: problem });
          return;
        }
        let teams: TeamsRuntime;
        try {
          teams = load();
        } catch (err) {
          log.error(errorFields(err), 'the Teams adapter could not be loaded');
          res.send(500, { error: 'Something went wrong in jitbot; the server log has the details.' });
          return;
        }
        await teams.handle(req, res, body);
      });
    },
  };
}
