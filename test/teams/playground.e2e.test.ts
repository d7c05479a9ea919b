// Teams as Microsoft's own emulator shows it: the real bot, started as local mode starts it, behind two
// Microsoft 365 Agents Playgrounds (the pinned version `npm run playground` uses), one per person, each
// driven through its own web page in headless Chromium. Alice asks in her personal chat; Bob, an
// approver, sees the card in the team channel of his Playground, approves it there, and watches the card
// change and the thread fill. The Playground's log panel lists every activity both ways.
//
// The Playground is not a dependency (Microsoft pre-release licence terms): .ci/run installs it into
// .cache/playground; without it this test is reported as skipped, saying so.
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { PLAYGROUND_CONFIG, PLAYGROUND_PACKAGE, PLAYGROUND_VERSION, installedPlayground, spawnPlayground, withCurrentUser } from '../../scripts/playground';
import { USAGE } from '../../src/core/command';
import { spawnBot, type BotProcess } from '../helpers/bot-process';
import { LOCAL_CONFIG } from '../helpers/paths';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Generous: the Playground and the bot share two busy cores with the rest of the suite. */
const STEP_MS = 90_000;

const installed = installedPlayground();

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

interface RunningPlayground {
  proc: ChildProcess;
  url: string;
  output: string[];
}

/** Start one Playground and wait for the port it listens on (it moves to a free one when taken). */
async function startPlayground(cli: string, endpoint: string, configPath: string, logFile: string): Promise<RunningPlayground> {
  const proc = spawnPlayground({ cli, endpoint, configPath, port: await freePort(), logFile });
  const output: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the Playground did not listen within 60 s: ${output.join('')}`)), 60_000);
    const onData = (c: Buffer) => {
      output.push(c.toString('utf8'));
      const m = /Listening on (\d+)/.exec(output.join(''));
      if (m) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${m[1]}/`);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (c: Buffer) => output.push(c.toString('utf8')));
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the Playground exited (${code}): ${output.join('')}`));
    });
  });
  return { proc, url, output };
}

async function stopPlayground(p: RunningPlayground | undefined): Promise<void> {
  if (!p || p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  const exited = new Promise((resolve) => p.proc.once('exit', resolve));
  p.proc.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
}

/** The Playground's web page for one person. Anything off this machine (its CDN fonts) is refused. */
class PlaygroundPage {
  readonly errors: string[] = [];
  readonly offMachine: string[] = [];

  private constructor(readonly page: Page) {}

  static async open(browser: Browser, url: string): Promise<PlaygroundPage> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    const p = new PlaygroundPage(page);
    page.on('pageerror', (err) => p.errors.push(err.message));
    await page.route(/^https?:\/\/(?!127\.0\.0\.1[:/]|localhost[:/])/, (route) => {
      p.offMachine.push(new URL(route.request().url()).host);
      return route.abort();
    });
    await page.goto(url, { waitUntil: 'commit', timeout: STEP_MS });
    await page.getByText('Connected.', { exact: true }).waitFor({ timeout: STEP_MS });
    return p;
  }

  /** The log panel's lines: the Playground writes one per activity it sends or receives. */
  logLines(): Promise<string[]> {
    return this.page.locator('div[contenteditable="true"][spellcheck="false"] > div').allInnerTexts();
  }

  async waitForLog(pattern: RegExp, count = 1): Promise<void> {
    const deadline = Date.now() + STEP_MS;
    let lines: string[] = [];
    while (Date.now() < deadline) {
      lines = await this.logLines();
      if (lines.filter((l) => pattern.test(l.replace(/\s+/g, ' '))).length >= count) return;
      await this.page.waitForTimeout(250);
    }
    assert.fail(`the log panel never showed ${count}× ${pattern}; it shows:\n${lines.join('\n')}`);
  }

  async open(conversation: 'Personal Chat' | 'Ops - JIT approvals'): Promise<void> {
    await this.page.getByRole('treeitem', { name: conversation }).click();
  }

  async say(text: string): Promise<void> {
    await this.page.getByRole('textbox').first().click();
    await this.page.keyboard.type(text);
    await this.page.keyboard.press('Enter');
  }

  /** The last Adaptive Card in view that holds every one of `texts`, once the Playground has drawn it. */
  async card(...texts: Array<string | RegExp>): Promise<Locator> {
    let cards = this.page.locator('.ac-adaptiveCard');
    for (const text of texts) cards = cards.filter({ hasText: text });
    const card = cards.last();
    await card.waitFor({ timeout: STEP_MS });
    return card;
  }
}

if ('missing' in installed) {
  describe('Teams in the Microsoft 365 Agents Playground (headless Chromium)', () => {
    it(`is skipped: ${installed.missing}; .ci/run or \`npm run playground -- --install-only\` installs it`);
  });
} else {
  describe('Teams in the Microsoft 365 Agents Playground (headless Chromium)', function () {
    this.timeout(420_000);
    let dir: string;
    let bot: BotProcess | undefined;
    let alicePg: RunningPlayground | undefined;
    let bobPg: RunningPlayground | undefined;
    let browser: Browser | undefined;
    const pages: Array<[string, PlaygroundPage]> = [];

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'jitbot-playground-'));
      bot = await spawnBot('bot', { JITBOT_DATA_DIR: path.join(dir, 'data'), JITBOT_SIM_PORT: '0', JITBOT_CONFIG: LOCAL_CONFIG }, 180_000);
      const endpoint = `${bot.url}/api/messages`;
      // Alice is the committed config's current user; Bob's copy is what `npm run playground -- --as bob` writes.
      const bobConfig = path.join(dir, 'bob.yml');
      await writeFile(bobConfig, withCurrentUser(await readFile(PLAYGROUND_CONFIG, 'utf8'), 'bob'));
      [alicePg, bobPg] = await Promise.all([
        startPlayground(installed.cli, endpoint, PLAYGROUND_CONFIG, path.join(dir, 'alice.log')),
        startPlayground(installed.cli, endpoint, bobConfig, path.join(dir, 'bob.log')),
      ]);
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    });

    afterEach(async function () {
      if (this.currentTest?.state !== 'failed') return;
      // What each person saw, for whoever reads the failure: test-output/ is ignored by git.
      for (const [who, p] of pages) {
        await p.page.screenshot({ path: path.join('test-output', `playground-${who}.png`), fullPage: true }).catch(() => undefined);
        process.stdout.write(`      ${who}'s log panel:\n${(await p.logLines().catch(() => [])).map((l) => `        ${l}`).join('\n')}\n`);
      }
      process.stdout.write(`      bot stderr: ${bot?.stderr.join('').slice(-2000)}\n`);
    });

    after(async () => {
      await browser?.close();
      await Promise.all([stopPlayground(alicePg), stopPlayground(bobPg)]);
      await bot?.kill();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it(`carries help, a request, Bob's approval in the team channel, the card update and the thread replies (${PLAYGROUND_PACKAGE}@${PLAYGROUND_VERSION})`, async () => {
      const bob = await PlaygroundPage.open(browser!, bobPg!.url);
      const alice = await PlaygroundPage.open(browser!, alicePg!.url);
      pages.push(['bob', bob], ['alice', alice]);

      // Bob opens the team's channel: the Playground installs the app there, and the bot will post
      // approval cards to it.
      await bob.open('Ops - JIT approvals');
      await bob.waitForLog(/Playground -> User Application installationUpdate 200/, 2);

      // Help in Alice's personal chat: the grammar shows literally, not eaten as HTML tags.
      await alice.open('Personal Chat');
      await alice.say('jit help');
      await alice.waitForLog(/Playground -> User Application message 200 jit help/);
      const help = await alice.card('Just-in-time access');
      assert.ok((await help.innerText()).includes(USAGE.request), `the help card shows ${USAGE.request}`);
      assert.match(USAGE.request, /^\/jit <ports> <vms> <duration> /);
      await alice.waitForLog(/User Application -> Microsoft 365 Agents Playground message 201/);

      // The request, in the same chat.
      await alice.say('jit ssh web-01 1h from 10.1.2.3 for PG-E2E-1');
      // Her answer is her own copy of the request, with Cancel, kept up to date in place.
      const sent = await alice.card('Alice asks for', /Waiting for approval \(0 of 1\)/);
      const id = /Request\s+([A-Z0-9]+)/.exec(await sent.innerText())![1];
      assert.equal(await sent.getByRole('button', { name: 'Cancel request' }).count(), 1);

      // The card in Bob's team channel, with the buttons Teams users click.
      const card = await bob.card('Alice asks for', id);
      const before = await card.innerText();
      assert.match(before, /Alice asks for 22\/TCP on web-01/);
      assert.match(before, /Waiting for approval \(0 of 1\)/);
      assert.match(before, /Alice \(alice@example\.com\)/, 'the bot learnt Alice\'s email from the Playground\'s member lookup');
      assert.match(before, /PG-E2E-1/);

      // Bob approves: an Adaptive Card Universal Action (invoke) to the bot.
      await card.getByRole('button', { name: 'Approve' }).click();
      await bob.waitForLog(/Playground -> User Application invoke 200/);

      // The same card, updated in place: open, approved by Bob, no buttons left.
      const updated = await bob.card('Alice asks for', id, /Open until (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC/);
      const after = await updated.innerText();
      assert.match(after, new RegExp(id));
      assert.match(after, /Approvals\s*1 of 1 \(Bob\)/);
      assert.match(after, /Approved by Bob at (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC/);
      assert.equal(await updated.getByRole('button', { name: 'Approve' }).count(), 0, 'the updated card offers no Approve');
      assert.equal(await bob.page.locator('.ac-adaptiveCard').filter({ hasText: 'Waiting for approval' }).count(), 0, 'the waiting card was replaced, not kept');

      // The thread under it: approved, then open.
      const approvedReply = await bob.card(`Approved · ${id}`);
      assert.match(await approvedReply.innerText(), /Approved by Bob; opening 22\/TCP on web-01(\.|…)/);
      const openReply = await bob.card(`Access open · ${id}`);
      assert.match(await openReply.innerText(), /Open until (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC from 10\.1\.2\.3: 22\/TCP on web-01\./);

      // Alice hears of it in her personal chat.
      const aliceOpen = await alice.card(`Access open · ${id}`);
      assert.match(await aliceOpen.innerText(), /Open until (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC from 10\.1\.2\.3: 22\/TCP on web-01\./);
      // Her copy was redrawn in place: open, nothing left to cancel, no longer waiting.
      const copy = await alice.card('Alice asks for', id, /Open until (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC/);
      assert.equal(await copy.getByRole('button', { name: 'Cancel request' }).count(), 0);
      assert.equal(await alice.page.locator('.ac-adaptiveCard').filter({ hasText: 'Waiting for approval' }).count(), 0, 'her copy no longer says it waits');

      // The log panel held every activity: Bob's shows the invoke's payload when clicked.
      await bob.page.getByText('invoke 200', { exact: true }).first().click();
      await bob.page.getByText(/"name": "adaptiveCard\/action"/).first().waitFor({ timeout: STEP_MS });
      await bob.page.getByText(/"verb": "approve"/).first().waitFor({ timeout: STEP_MS });
      const bobLog = (await bob.logLines()).join('\n');
      assert.match(bobLog, /createConversation 201/, 'the card was posted as a new channel thread');
      assert.deepEqual([...alice.errors, ...bob.errors], [], 'the Playground pages threw');
    });
  });
}
