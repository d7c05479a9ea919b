// Several bot processes as they run in production behind a load balancer: one PostgreSQL schema
// shared by all, one Azure simulator (in the test process, on a clock the test moves), one fake Bot
// Connector that every Teams post lands on, and Teams activities sent to whichever replica the test
// picks. The bots run in local mode (no Teams authentication) with JITBOT_AZURE_SIM_URL.
import { strict as assert } from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'pg';
import { AdjustableClock } from '../../src/app/clock';
import type { Cloud } from '../../src/app/ports';
import { createAzureCloud } from '../../src/azure';
import { startAzureSim, type AzureSim } from '../../src/azure-sim/server';
import { loadConfigFile } from '../../src/config/file';
import { openTestStore, newTestSchemaName, type TestStore } from '../../src/store';
import { CHANNEL_ID, channelMessage, connectorMembers, executeInvoke, installationUpdateAdd, installPersonal, postActivity, users, type TeamsUser } from '../clients/teams';
import { startFakeBotConnector, type ConnectorCall, type FakeBotConnector } from '../fakes/bot-connector';
import { BotProcess, spawnBot, tempDir, urlWithSearchPath, waitUntil, writeFleetConfig, type FleetTarget } from './support';

export interface Cluster {
  clock: AdjustableClock;
  sim: AzureSim;
  /** The real Azure client on the simulator, for the test to read Azure's side (request history). */
  cloud: Cloud;
  connector: FakeBotConnector;
  /**
   * Teams as the bots reach it (the serviceUrl of every activity): the fake connector behind a proxy
   * that can hold its answers back. A slow answer to a post that Teams already took is the moment a
   * crash turns one post into two.
   */
  teams: { serviceUrl: string; slowAnswersMs: number };
  /** The test's own view of the shared schema (dropped on close). */
  store: TestStore;
  schema: string;
  databaseUrl: string;
  targets: FleetTarget[];
  bots: BotProcess[];
  startBot(name: string, env?: Record<string, string>): Promise<BotProcess>;
  /** Move every clock: the simulator's first (Azure must never be behind a bot), then each live bot's. */
  advance(by: string, ms: number): Promise<void>;
  /**
   * Until no job is due and unfinished (every live bot polls twice a second), leaving out jobs
   * leased by `deadOwner`. Call it before moving the clocks: a jump past the leases of work still in
   * flight would hand that work to a second replica while the first still runs it.
   */
  settle(opts?: { deadOwner?: string; timeoutMs?: number }): Promise<void>;
  close(): Promise<void>;
}

export async function startCluster(opts: { vms: number; portsPerVm: number }): Promise<Cluster> {
  const databaseBase = process.env.TEST_DATABASE_URL;
  if (!databaseBase) throw new Error('the cluster needs TEST_DATABASE_URL');
  const dir = tempDir('jitbot-ops');
  const fleet = writeFleetConfig(dir.path, opts);
  const config = loadConfigFile(fleet.path);
  const clock = new AdjustableClock();
  const sim = await startAzureSim({ world: config.world!, clock, port: 0 });
  const connector = await startFakeBotConnector({ members: connectorMembers() });
  const proxy = await startSlowProxy(connector.url);
  const schema = newTestSchemaName().replace('jit_test_', 'jit_ops_');
  // openTestStore creates the schema (with the tables) and drops it on close.
  const store = await openTestStore({ databaseUrl: databaseBase, schema });
  const databaseUrl = urlWithSearchPath(databaseBase, schema);
  // The bots find their tables only if PostgreSQL honours the search_path option of the URL.
  const probe = new Pool({ connectionString: databaseUrl, max: 1 });
  try {
    const [row] = (await probe.query<{ schema: string }>('SELECT current_schema() AS schema')).rows;
    assert.equal(row.schema, schema, 'DATABASE_URL ?options=-c search_path=… puts connections in the schema');
  } finally {
    await probe.end();
  }

  const bots: BotProcess[] = [];
  let offsetMs = 0;
  const cluster: Cluster = {
    clock,
    sim,
    cloud: createAzureCloud({ subscriptionId: config.world!.subscriptionId, redirectTo: sim.url, clock }),
    connector,
    teams: proxy.control,
    store,
    schema,
    databaseUrl,
    targets: fleet.targets,
    bots,
    async startBot(name, env = {}) {
      const bot = await spawnBot(name, {
        DATABASE_URL: databaseUrl,
        JITBOT_AZURE_SIM_URL: sim.url,
        JITBOT_CONFIG: fleet.path,
        JITBOT_DATA_DIR: `${dir.path}/${name}`,
        LOG_LEVEL: 'warn',
        ...env,
      });
      bots.push(bot);
      // A bot started late joins the others' time.
      if (offsetMs > 0) await bot.advance(`PT${Math.ceil(offsetMs / 1000)}S`);
      return bot;
    },
    async advance(by, ms) {
      clock.advance(ms);
      offsetMs += ms;
      await Promise.all(bots.filter((b) => b.alive).map((b) => b.advance(by)));
    },
    async settle({ deadOwner, timeoutMs = 60_000 } = {}) {
      await waitUntil(
        'every due job to finish',
        async () => {
          const [row] = await store.db.query<{ n: string }>(
            `SELECT count(*)::text AS n FROM jobs
             WHERE done_at IS NULL AND failed_at IS NULL AND due_at <= $1 AND lease_owner IS DISTINCT FROM $2`,
            // '' matches no owner, and unleased jobs (NULL) count either way.
            [clock.now(), deadOwner ?? ''],
          );
          return row.n === '0';
        },
        timeoutMs,
        100,
      );
    },
    async close() {
      await Promise.all(bots.map((b) => b.kill()));
      await proxy.close();
      await connector.close();
      await sim.close();
      await store.close();
      dir.remove();
    },
  };
  return cluster;
}

// ---- Teams traffic ------------------------------------------------------------------------------------

export function place(cluster: Cluster): { serviceUrl: string } {
  return { serviceUrl: cluster.teams.serviceUrl };
}

/** Forwards every call to `target` at once and, when told, holds the answer back. */
async function startSlowProxy(target: string): Promise<{ control: { serviceUrl: string; slowAnswersMs: number }; close(): Promise<void> }> {
  const base = new URL(target);
  const control = { serviceUrl: '', slowAnswersMs: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const delay = control.slowAnswersMs;
      const upstream = http.request(
        { host: base.hostname, port: base.port, method: req.method, path: req.url, headers: { ...req.headers, host: base.host } },
        (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (c: Buffer) => body.push(c));
          answer.on('end', () => {
            const reply = () => {
              if (res.destroyed) return;
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              res.end(Buffer.concat(body));
            };
            if (delay > 0) setTimeout(reply, delay);
            else reply();
          });
        },
      );
      upstream.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  control.serviceUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    control,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Install the app in the team (cards go to the approvals channel) and for each person (their 1:1 chats). */
export async function installTeams(cluster: Cluster, bot: BotProcess): Promise<void> {
  const at = place(cluster);
  assert.equal((await postActivity(`${bot.url}/api/messages`, installationUpdateAdd(at))).status, 200);
  for (const u of [users.alice, users.bob, users.carol]) {
    assert.equal((await postActivity(`${bot.url}/api/messages`, installPersonal(at, u))).status, 200);
  }
}

/** `@jitbot jit …` in the approvals channel, sent to `bot`. */
export async function say(cluster: Cluster, bot: BotProcess, who: TeamsUser, words: string): Promise<void> {
  const res = await postActivity(`${bot.url}/api/messages`, channelMessage(place(cluster), who, words));
  assert.equal(res.status, 200, `${bot.name}: ${who.name} said "${words}": ${JSON.stringify(res.body)}`);
}

/** A click on the approval card (Action.Execute), sent to `bot`. */
export async function click(cluster: Cluster, bot: BotProcess, who: TeamsUser, verb: string, requestId: string, cardId: string): Promise<any> {
  const res = await postActivity(`${bot.url}/api/messages`, executeInvoke(place(cluster), who, { verb, data: { verb, requestId } }, { replyToId: cardId }));
  assert.equal(res.status, 200, `${bot.name}: ${who.name} ${verb} ${requestId}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body?.statusCode, 200, `${bot.name}: ${who.name} ${verb} ${requestId}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** The request whose reason is `reason`, once it exists, and the activity id of its Teams card once posted. */
export async function requestAndCard(cluster: Cluster, reason: string, timeoutMs = 30_000): Promise<{ id: string; cardId: string }> {
  return waitUntil(
    `the request "${reason}" and its Teams card`,
    async () => {
      const rows = await cluster.store.db.query<{ id: string; card: string | null }>(
        `SELECT r.id, (SELECT m.ref->'data'->>'activityId' FROM message_refs m
                        WHERE m.request_id = r.id AND m.kind = 'card' AND m.platform = 'teams' ORDER BY m.id LIMIT 1) AS card
         FROM requests r WHERE r.data->>'reason' = $1`,
        [reason],
      );
      assert.ok(rows.length <= 1, `one request for "${reason}", found ${rows.length}`);
      return rows[0]?.card ? { id: rows[0].id, cardId: rows[0].card } : null;
    },
    timeoutMs,
    25,
  );
}

// ---- what reached Teams --------------------------------------------------------------------------------

export type NoticeKind = 'approved' | 'opened' | 'reminder' | 'expired' | 'failed' | 'other';

export interface Delivery {
  where: 'card' | 'thread' | 'dm';
  requestId: string;
  kind: NoticeKind;
  call: ConnectorCall;
}

function noticeKind(text: string): NoticeKind {
  // A reminder delivered after its grant ended comes as its closed, button-less form.
  if (/Closed at (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC: /.test(text)) return 'reminder';
  if (/Expired, ports closed/.test(text)) return 'expired';
  if (/your access to .* ends at/.test(text)) return 'reminder';
  if (/Open until/.test(text)) return 'opened';
  if (/Approved by/.test(text)) return 'approved';
  if (/Could not open/.test(text)) return 'failed';
  return 'other';
}

/**
 * Every approval card, thread reply and direct message the bots posted, attributed to its request:
 * cards and notices carry the request id in their title (`Access ends soon · R4K7QX`).
 */
export function deliveries(connector: FakeBotConnector): Delivery[] {
  const out: Delivery[] = [];
  for (const call of connector.calls) {
    if (call.method !== 'POST') continue;
    const text = JSON.stringify(call.body);
    let where: Delivery['where'] | null = null;
    if (call.path === '/v3/conversations' && call.body?.isGroup) where = 'card';
    else if (call.path.startsWith(`/v3/conversations/${CHANNEL_ID};messageid=`)) where = 'thread';
    else if (/^\/v3\/conversations\/a:1personal-[^/]+\/activities$/.test(call.path)) where = 'dm';
    if (!where) continue;
    const id = where === 'card' ? /"requestId":"(R[A-Z0-9]+)"/.exec(text)?.[1] : /· (R[A-Z0-9]+)/.exec(text)?.[1];
    if (!id) continue;
    out.push({ where, requestId: id, kind: where === 'card' ? 'other' : noticeKind(text), call });
  }
  return out;
}
