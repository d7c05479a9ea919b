// DNS rebinding and cross-origin posts against the local console: the whole bot in local mode
// (startBot, as `npm start` runs it), asked with the Host and Origin a hostile page would send.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../src/app/logger';
import { startBot, type RunningBot } from '../../src/main';
import { LOCAL_CONFIG, REPO_ROOT } from '../helpers/paths';

interface Answer {
  status: number;
  body: string;
}

describe('the local console against DNS rebinding', function () {
  this.timeout(60_000);
  let bot: RunningBot;
  let dataDir: string;
  let port: number;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'jitbot-origin-'));
    bot = await startBot({ PORT: '0', JITBOT_DATA_DIR: dataDir, JITBOT_SIM_PORT: '0', JITBOT_CONFIG: LOCAL_CONFIG }, { logger: silentLogger, cwd: REPO_ROOT });
    port = Number(new URL(bot.url).port);
  });
  after(async () => {
    await bot?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** A raw request, so the Host header is exactly what a rebound page's browser would send. */
  function send(method: string, pathname: string, headers: Record<string, string>, body?: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path: pathname, headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  const command = JSON.stringify({ as: 'carol@example.com', text: '/jit status' });
  const advance = JSON.stringify({ by: 'PT1H' });

  it('refuses a foreign Host on the page, the console routes and the clock', async () => {
    const host = { host: `rebound.evil.example:${port}` };
    assert.equal((await send('GET', '/', host)).status, 403);
    assert.equal((await send('GET', '/console/state', host)).status, 403);
    const before = bot.clock.now().getTime();
    const moved = await send('POST', '/_local/clock/advance', host, advance);
    assert.equal(moved.status, 403);
    assert.match(moved.body, /not this console's address/);
    assert.ok(bot.clock.now().getTime() - before < 60_000, 'the clock did not jump an hour');
    assert.equal((await send('POST', '/console/command', host, command)).status, 403);
  });

  it('refuses a post from another origin even with the right Host', async () => {
    const before = bot.clock.now().getTime();
    const moved = await send('POST', '/_local/clock/advance', { host: `127.0.0.1:${port}`, origin: 'http://evil.example' }, advance);
    assert.equal(moved.status, 403);
    assert.ok(bot.clock.now().getTime() - before < 60_000, 'the clock did not jump an hour');
    assert.equal((await send('POST', '/console/command', { host: `localhost:${port}`, origin: 'null' }, command)).status, 403);
  });

  it('refuses the right name on another port', async () => {
    assert.equal((await send('GET', '/console/state', { host: `127.0.0.1:${port + 1}` })).status, 403);
  });

  it('serves its own addresses, with or without a same-origin Origin', async () => {
    assert.equal((await send('GET', '/', { host: `127.0.0.1:${port}` })).status, 200);
    assert.equal((await send('GET', '/console/state', { host: `localhost:${port}` })).status, 200);
    const moved = await send('POST', '/_local/clock/advance', { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` }, advance);
    assert.equal(moved.status, 200, moved.body);
  });

  it('leaves the bot endpoints alone: health checks come from anywhere', async () => {
    assert.equal((await send('GET', '/healthz', { host: 'jitbot.internal' })).status, 200);
  });
});
