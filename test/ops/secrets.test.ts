// Secrets stay secret: the Slack bot token and signing secret, the Teams app password, the database
// password and the bearer token the bot sends to Azure never appear in a log line, a chat message or
// an operator endpoint, whether the start fails on bad settings, the database cannot be reached,
// Azure answers 403, or someone sends forged requests. The production logger (pino with redaction)
// writes to a buffer; the chat is the fake Slack Web API.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { AdjustableClock } from '../../src/app/clock';
import { startAzureSim, type AzureSim } from '../../src/azure-sim/server';
import { loadConfigFile } from '../../src/config/file';
import { createLogger, startBot, type RunningBot } from '../../src/main';
import { newTestSchemaName, openTestStore, type TestStore } from '../../src/store';
import { blockActions, slashCommand, SlackTestClient } from '../clients/slack';
import { BOT, installationUpdateAdd, postActivity } from '../clients/teams';
import { FakeSlackApi } from '../fakes/slack-api';
import { LOCAL_CONFIG, REPO_ROOT } from '../helpers/paths';
import { getJson, tempDir, urlWithSearchPath, waitUntil } from './support';

const BOT_TOKEN = 'xoxb-1234-5678-SECRETbottoken9f8e7d';
const SIGNING_SECRET = 'SECRETsigning0a1b2c3d4e5f';
const APP_PASSWORD = 'SECRETapppassword~Q8r.X_z';
const DB_PASSWORD = 'SECRETdbpassw0rd';

class TextSink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

/** `node src/main.ts` as `npm start` runs it (through tsx): its exit code and everything it printed. */
function runMain(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--disable-warning=DEP0111', '--import', 'tsx', 'src/main.ts'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', JITBOT_SIM_PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

function assertNoSecret(where: string, text: string, secrets: string[]): void {
  for (const s of secrets) assert.ok(!text.includes(s), `${where} contains the secret ${s.slice(0, 12)}…`);
}

/** Azure, except that every initiate is refused 403 AuthorizationFailed; records the bearer tokens it saw. */
async function startForbiddingProxy(sim: AzureSim): Promise<{ url: string; tokens: Set<string>; close(): Promise<void> }> {
  const target = new URL(sim.url);
  const tokens = new Set<string>();
  const server = http.createServer((req, res) => {
    const auth = req.headers.authorization;
    if (typeof auth === 'string') tokens.add(auth.replace(/^Bearer\s+/i, ''));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST' && /\/initiate\?/i.test(req.url ?? '')) {
        const body = {
          error: {
            code: 'AuthorizationFailed',
            message:
              "The client '6f1c2a7e-0000-4000-8000-00000000b07a' with object id '6f1c2a7e-0000-4000-8000-00000000b07a' does not have authorization to perform action 'Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action' over scope '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-web/providers/Microsoft.Security/locations/westeurope/jitNetworkAccessPolicies/default' or the scope is invalid. If access was recently granted, please refresh your credentials.",
          },
        };
        res.writeHead(403, { 'content-type': 'application/json; charset=utf-8', 'x-ms-failure-cause': 'gateway' });
        res.end(JSON.stringify(body));
        return;
      }
      const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tokens,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('secrets never reach logs, chat or operator endpoints', function () {
  this.timeout(120_000);

  it('a start that fails on bad settings or an unreachable database names the setting, never its value', async () => {
    const dir = tempDir('jitbot-ops-secrets');
    try {
      const bad = await runMain({
        JITBOT_DATA_DIR: dir.path,
        SLACK_BOT_TOKEN: BOT_TOKEN,
        SLACK_APP_TOKEN: 'xoxb-SECRETnotanapptoken',
        MicrosoftAppPassword: APP_PASSWORD,
        DATABASE_URL: `mysql://jitbot:${DB_PASSWORD}@db.internal/jitbot`,
      });
      assert.equal(bad.code, 1, bad.output);
      assert.match(bad.output, /jitbot cannot start:\n {2}DATABASE_URL: must be a postgres:\/\/ URL/);
      assertNoSecret('the start-up error', bad.output, [BOT_TOKEN, 'SECRETnotanapptoken', APP_PASSWORD, DB_PASSWORD]);

      const inconsistent = await runMain({ JITBOT_DATA_DIR: dir.path, SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_APP_TOKEN: 'xoxb-SECRETnotanapptoken', MicrosoftAppPassword: APP_PASSWORD });
      assert.equal(inconsistent.code, 1);
      assert.match(inconsistent.output, /SLACK_APP_TOKEN: must be an app-level token/);
      assert.match(inconsistent.output, /MicrosoftAppId: must be set with MicrosoftAppPassword/);
      assertNoSecret('the start-up error', inconsistent.output, [BOT_TOKEN, 'SECRETnotanapptoken', APP_PASSWORD]);

      const unreachable = await runMain({ JITBOT_DATA_DIR: dir.path, DATABASE_URL: `postgres://jitbot:${DB_PASSWORD}@127.0.0.1:1/jitbot` });
      assert.equal(unreachable.code, 1);
      assert.match(unreachable.output, /jitbot cannot start: .*ECONNREFUSED/);
      assertNoSecret('the start-up error', unreachable.output, [DB_PASSWORD]);
    } finally {
      dir.remove();
    }
  });

  describe('a running bot', () => {
    let bot: RunningBot;
    let sim: AzureSim;
    let proxy: Awaited<ReturnType<typeof startForbiddingProxy>>;
    let slackApi: FakeSlackApi;
    let store: TestStore | undefined;
    let dir: ReturnType<typeof tempDir>;
    const logs = new TextSink();

    before(async () => {
      dir = tempDir('jitbot-ops-secrets');
      const clock = new AdjustableClock();
      sim = await startAzureSim({ world: loadConfigFile(LOCAL_CONFIG).world!, clock, port: 0 });
      proxy = await startForbiddingProxy(sim);
      slackApi = await FakeSlackApi.start();
      const env: Record<string, string> = {
        PORT: '0',
        JITBOT_DATA_DIR: dir.path,
        JITBOT_AZURE_SIM_URL: proxy.url,
        SLACK_BOT_TOKEN: BOT_TOKEN,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_API_URL: slackApi.apiUrl,
        MicrosoftAppId: BOT.id.slice(3),
        MicrosoftAppPassword: APP_PASSWORD,
      };
      if (process.env.TEST_DATABASE_URL) {
        // The database password rides in DATABASE_URL, as it often does in production.
        store = await openTestStore({ databaseUrl: process.env.TEST_DATABASE_URL, schema: newTestSchemaName() });
        const withPassword = new URL(process.env.TEST_DATABASE_URL);
        withPassword.password = DB_PASSWORD;
        env.DATABASE_URL = urlWithSearchPath(withPassword.toString(), store.schema);
      }
      bot = await startBot(env, { logger: createLogger('debug', logs) });
    });
    after(async () => {
      await bot?.close();
      await proxy?.close();
      await sim?.close();
      await slackApi?.close();
      await store?.close();
      dir?.remove();
    });

    it('says why Azure refused (403) in the thread and to the requester, and no secret or token is written anywhere', async () => {
      const url = (path: string) => `${bot.url.replace('//localhost:', '//127.0.0.1:')}${path}`;
      const slack = new SlackTestClient(url('/slack/events'), SIGNING_SECRET);
      const asked = await slack.command(slashCommand({ user_id: 'U0ALICE', text: 'ssh web-01 1h from 10.1.2.3 for INC-SECRETS', response_url: slackApi.responseUrl('ask') }));
      assert.equal(asked.status, 200);
      const id = /Sent for approval: (R[A-Z0-9]+)/.exec(JSON.stringify(asked.json ?? slackApi.responsesTo('ask')))?.[1];
      assert.ok(id, JSON.stringify(asked.json));
      const card = await waitUntil('the approval card', () => slackApi.channelMessages('C0JITAPPROVALS').find((m) => m.text.startsWith(`${id}:`)), 10_000, 20);
      const clicked = await slack.interactive(blockActions({ user: 'U0BOB', actionId: 'jit_approve', value: id, responseUrl: slackApi.responseUrl('click'), channel: 'C0JITAPPROVALS', messageTs: card.ts }));
      assert.equal(clicked.status, 200);
      await waitUntil('the request to fail', async () => (await bot.store.getRequest(id))?.state === 'failed', 20_000, 50);
      const said = await waitUntil('the thread to say why', () => slackApi.thread('C0JITAPPROVALS', card.ts).find((m) => /Could not open/.test(m.text)), 10_000, 20);
      assert.match(said.text, /may not open JIT access on web-01 \(AuthorizationFailed\)\. It needs .*initiate\/action/);
      await waitUntil('Alice to be told', () => slackApi.channelMessages('D0ALICE').find((m) => /Could not open/.test(m.text)), 10_000, 20);
      assert.ok(proxy.tokens.size > 0, 'the bot did send Azure a bearer token');

      // Forged requests, whose credentials must not be echoed into the logs either.
      const forgedToken = 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImZvcmdlZCJ9.eyJhdWQiOiJmb3JnZWQifQ.SECRETforgedsignature';
      assert.equal((await postActivity(url('/api/messages'), installationUpdateAdd({ serviceUrl: 'http://127.0.0.1:9/' }), { token: forgedToken })).status >= 400, true);
      assert.equal((await postActivity(url('/api/messages'), installationUpdateAdd({ serviceUrl: 'http://127.0.0.1:9/' }))).status, 401);
      const forgedSlack = await new SlackTestClient(url('/slack/events'), 'SECRETguessedsigningsecret').command(slashCommand({ user_id: 'U0ALICE', text: 'help', response_url: slackApi.responseUrl('forged') }));
      assert.equal(forgedSlack.status, 401);
      const readyz = await getJson(url('/readyz'));

      const secrets = [BOT_TOKEN, SIGNING_SECRET, APP_PASSWORD, DB_PASSWORD, forgedToken, 'SECRETforgedsignature', ...proxy.tokens];
      // The lines written on the dangerous paths are there to be searched: the refused initiate, the
      // refused token, the refused signature.
      assert.match(logs.text, /"status":403[^\n]*"msg":"Azure did not open the approved ports; the request failed"/);
      assert.match(logs.text, /"hasToken":true[^\n]*"msg":"Teams activity with a missing or invalid token refused"/);
      assert.match(logs.text, /Failed to verify authenticity/);
      assertNoSecret('the logs', logs.text, secrets);
      const chat = JSON.stringify({ calls: slackApi.calls.map((c) => c.args), responses: slackApi.responseUrlPosts, messages: slackApi.messages });
      assert.ok(chat.includes(id), 'the chat record holds the conversation');
      assertNoSecret('what was posted to Slack', chat, secrets);
      assertNoSecret('/readyz', readyz.text, secrets);
      const audit = await bot.store.listAudit({ requestId: id });
      assert.ok(audit.some((e) => e.type === 'azure.initiate' && /may not open JIT access/.test(String(e.details.error))), 'the audit trail records the refusal');
      assertNoSecret('the audit trail', JSON.stringify(audit), secrets);
    });
  });
});
