// The local web console: a chat box that speaks the same words as Slack and Teams, the approvals
// channel with its threads, and the simulated Azure subscription, in one page served by the bot.
import type { Server } from 'restify';
import type { JitApi } from '../app/api';
import type { AdjustableClock } from '../app/clock';
import type { Logger } from '../app/logger';
import type { ChatPort } from '../app/ports';
import { createAssets } from './assets';
import { createConsoleChat } from './chat';
import { ConsoleFeed } from './feed';
import { ConsoleRoom } from './room';
import { mountRoutes, type ConsolePerson } from './routes';
import { createStateReader, type SimEndpoint } from './state';

export type { ConsolePerson } from './routes';
export type { ConsoleState, SimEndpoint } from './state';
export { mountLocalClock, parseIsoDurationMs } from './local-clock';

export interface ConsoleOptions {
  api: JitApi;
  /** Who can be chosen at the top of the page: the people of the config. */
  people: ConsolePerson[];
  clock: AdjustableClock;
  /** The Azure simulator, for the side panel. Without it the panel lists VM names only. */
  sim?: SimEndpoint;
  vmNames: () => Promise<string[]> | string[];
  logger: Logger;
  /** Re-read the page's files on every request (working on the page itself). */
  reloadAssets?: boolean;
}

export interface ConsoleAdapter {
  /** Platform `console`: every route's approval card, thread replies and direct messages. */
  chat: ChatPort;
  mount(server: Server): void;
  /** End every open page's event stream (the server's own close also ends them). */
  close(): void;
}

export function createConsole(opts: ConsoleOptions): ConsoleAdapter {
  const people = opts.people.map((p) => ({ ...p, email: p.email.toLowerCase() }));
  const emails = new Set(people.map((p) => p.email));
  const room = new ConsoleRoom(() => opts.clock.now());
  const chat = createConsoleChat({ room, knows: (email) => emails.has(email.toLowerCase()), view: (id) => opts.api.view(id) });
  const feed = new ConsoleFeed({
    room,
    approverEmails: async (id) => (await opts.api.approverEmails(id)).map((e) => e.toLowerCase()),
    now: () => opts.clock.now(),
    logger: opts.logger,
  });
  const stopClock = opts.clock.onAdvance((now) => feed.clockMoved(now));
  const state = createStateReader({ sim: opts.sim, vmNames: opts.vmNames, now: () => opts.clock.now() });

  return {
    chat,
    mount(server) {
      // Read now, so a missing public/ folder fails the start instead of the first page view.
      const assets = createAssets({ reload: opts.reloadAssets });
      assets.page();
      mountRoutes(server, { api: opts.api, people, room, feed, assets, state, logger: opts.logger });
    },
    close() {
      stopClock();
      feed.close();
    },
  };
}
