// The two browser routes of a step-up approval: the one-time link (`/step-up/<token>`), which sends the
// approver to the sign-in provider, and the provider's redirect back (`/step-up/callback`). Strangers
// can reach both, so each answers from what it was given and nothing else, and never throws.
import type * as restify from 'restify';
import type { StepUpPage } from '../app/step-up';
import type { Logger } from '../app/logger';
import { messagePage, sendPage } from '../web/page';

export interface StepUpRoutesOptions {
  begin(token: string): Promise<StepUpPage>;
  finish(query: URLSearchParams): Promise<StepUpPage>;
  logger: Logger;
}

function send(res: restify.Response, p: StepUpPage): void {
  if (p.kind === 'redirect') {
    res.writeHead(302, { location: p.url, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
    res.end();
    return;
  }
  sendPage(res, p.status, messagePage(p.title, p.message, p.ok));
}

const SORRY: StepUpPage = { kind: 'page', status: 500, ok: false, title: 'Something went wrong on our side', message: 'Nothing was approved. Try the link again in a minute.' };

export function mountStepUp(o: StepUpRoutesOptions) {
  return (server: restify.Server): void => {
    server.get('/step-up/callback', async (req: restify.Request, res: restify.Response) => {
      try {
        const query = new URL(req.url ?? '/', 'http://local').searchParams;
        send(res, await o.finish(query));
      } catch (err) {
        o.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'step-up callback failed');
        send(res, SORRY);
      }
    });
    server.get('/step-up/:token', async (req: restify.Request, res: restify.Response) => {
      try {
        const token = String((req.params as Record<string, unknown>).token ?? '');
        send(res, await o.begin(token));
      } catch (err) {
        o.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'step-up link failed');
        send(res, SORRY);
      }
    });
  };
}
