// The real Teams adapter on the real HTTP server (restify, loopback port 0), talking to the fake Bot
// Connector. The api behind it is whatever the test passes: the real app, or a recording stub.
import type { JitApi } from '../../src/app/api';
import type { Logger } from '../../src/app/logger';
import type { Clock, Store } from '../../src/app/ports';
import { createHttpServer, type HttpServer } from '../../src/server';
import { createTeamsAdapter, type TeamsAdapter } from '../../src/teams';
import { connectorMembers, installationUpdateAdd, postActivity } from '../clients/teams';
import { startWorld, type TestWorld, type WorldOptions } from '../helpers/world';
import { startFakeBotConnector, type FakeBotConnector } from '../fakes/bot-connector';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: object;
  msg?: string;
}

export function recordingLogger(lines: LogLine[] = []): Logger & { lines: LogLine[] } {
  const at =
    (level: LogLine['level']) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj, ...(msg !== undefined ? { msg } : {}) });
    };
  const logger: Logger & { lines: LogLine[] } = {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}

export interface TeamsHarness {
  url: string;
  connector: FakeBotConnector;
  teams: TeamsAdapter;
  http: HttpServer;
  logs: LogLine[];
  close(): Promise<void>;
}

export async function startTeamsHarness(opts: {
  api: JitApi;
  store: Store;
  clock?: Clock;
  appId?: string;
  appPassword?: string;
  tenantId?: string;
  /** The tenant allow-list, when it is more than `tenantId`. */
  tenants?: string[];
  connector?: FakeBotConnector;
}): Promise<TeamsHarness> {
  const connector = opts.connector ?? (await startFakeBotConnector({ members: connectorMembers() }));
  const logger = recordingLogger();
  const appId = opts.appId ?? '';
  const teams = createTeamsAdapter({
    api: opts.api,
    store: opts.store,
    appId,
    appPassword: opts.appPassword ?? (appId ? 'not-a-real-secret' : ''),
    localMode: appId === '',
    logger,
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.tenantId ? { tenantId: opts.tenantId, appType: 'SingleTenant' } : {}),
    ...(opts.tenants ? { tenants: opts.tenants } : {}),
    ...(appId ? { botFrameworkSettings: { ToBotFromChannelOpenIdMetadataUrl: connector.openIdMetadataUrl } } : {}),
  });
  const http = createHttpServer({ logger, mounts: [(s) => teams.mount(s)] });
  const base = await http.listen(0, '127.0.0.1');
  return {
    url: `${base}/api/messages`,
    connector,
    teams,
    http,
    logs: logger.lines,
    close: async () => {
      await http.close();
      if (!opts.connector) await connector.close();
    },
  };
}

/** Only the key-value part of the Store: enough for the adapter alone. */
export function memoryKvStore(): Store {
  const spaces = new Map<string, Map<string, unknown>>();
  const space = (ns: string): Map<string, unknown> => {
    let s = spaces.get(ns);
    if (!s) spaces.set(ns, (s = new Map()));
    return s;
  };
  const kv = {
    async getValue<T>(ns: string, key: string): Promise<T | null> {
      const v = space(ns).get(key);
      return v === undefined ? null : (structuredClone(v) as T);
    },
    async setValue(ns: string, key: string, value: unknown): Promise<void> {
      space(ns).set(key, structuredClone(value));
    },
    async listValues<T>(ns: string): Promise<Array<{ key: string; value: T }>> {
      return [...space(ns).entries()].map(([key, value]) => ({ key, value: structuredClone(value) as T }));
    },
  };
  return new Proxy(kv, {
    get(target, prop) {
      if (prop in target) return (target as Record<string | symbol, unknown>)[prop];
      if (prop === 'then') return undefined;
      return () => {
        throw new Error(`memoryKvStore: ${String(prop)} is not part of this test`);
      };
    },
  }) as unknown as Store;
}

/** A whole Teams world for end-to-end tests: the app, a fake Bot Connector, the adapter, installed in the team. */
export interface TeamsWorld {
  world: TestWorld;
  connector: FakeBotConnector;
  h: TeamsHarness;
  close(): Promise<void>;
}

export async function startTeamsWorld(opts: { world?: WorldOptions } = {}): Promise<TeamsWorld> {
  const world = await startWorld(opts.world);
  const connector = await startFakeBotConnector({ members: connectorMembers() });
  const h = await startTeamsHarness({ api: world.app, store: world.store, clock: world.clock, connector });
  world.addChat(h.teams.chat);
  const installed = await postActivity(h.url, installationUpdateAdd({ serviceUrl: connector.url }));
  if (installed.status !== 200) throw new Error(`installing the bot in the team answered ${installed.status}`);
  return {
    world,
    connector,
    h,
    close: async () => {
      await h.close();
      await connector.close();
      await world.close();
    },
  };
}
