// The web console end to end: the whole bot in local mode (startBot), driven from real headless
// Chromium the way a newcomer would click through it after `npm start`.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { silentLogger } from '../../src/app/logger';
import { startBot, type RunningBot } from '../../src/main';
import { LOCAL_CONFIG, REPO_ROOT } from '../helpers/paths';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT_DIR = path.join(REPO_ROOT, 'test-output');
/** Cards arrive through the scheduler and the event stream; generous, since CI shares two cores. */
const UI_TIMEOUT_MS = 15_000;

describe('the web console in headless Chromium', function () {
  this.timeout(120_000);

  let bot: RunningBot;
  let browser: Browser;
  let dataDir: string;
  let context: BrowserContext | undefined;
  const pageErrors: string[] = [];

  before(async function () {
    dataDir = await mkdtemp(path.join(tmpdir(), 'jitbot-console-'));
    bot = await startBot(
      { PORT: '0', JITBOT_DATA_DIR: dataDir, JITBOT_SIM_PORT: '0', JITBOT_SIM_APPLY_DELAY_MS: '0', JITBOT_CONFIG: LOCAL_CONFIG },
      { logger: silentLogger, cwd: REPO_ROOT },
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  afterEach(async function () {
    await context?.close();
    context = undefined;
    assert.deepEqual(pageErrors.splice(0), [], 'the page threw');
  });

  after(async function () {
    await browser?.close();
    await bot?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function openAs(email: string): Promise<Page> {
    context ??= await browser.newContext({ viewport: { width: 1440, height: 960 } });
    const page = await context.newPage();
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`${bot.url}/?as=${encodeURIComponent(email)}`);
    await page.locator('#live.on').waitFor();
    return page;
  }

  async function switchTo(page: Page, email: string, name: string): Promise<void> {
    await page.selectOption('#person', email);
    await page.locator('#chat-title').filter({ hasText: `as ${name}` }).waitFor();
    await page.locator('#live.on').waitFor();
  }

  async function send(page: Page, text: string): Promise<Locator> {
    const before = await page.locator('#conversation .msg.bot').count();
    await page.fill('#command', text);
    await page.press('#command', 'Enter');
    const answer = page.locator('#conversation .msg.bot').nth(before);
    await answer.waitFor();
    return answer;
  }

  it('should take a request from Alice to Bob, open port 22, remind before the end and close it at expiry', async function () {
    const page = await openAs('alice@example.com');

    const answer = await send(page, '/jit ssh web-01 1h from 10.1.2.3 for test');
    const card = page.locator('#channel .post').first();
    await card.waitFor();
    const requestId = await card.getAttribute('data-request-id');
    assert.ok(requestId, 'the channel card names its request');
    assert.match(await answer.innerText(), new RegExp(requestId));
    assert.equal(await card.getAttribute('data-state'), 'pending');
    // Alice is a requester, not an approver: her copy offers Cancel, never Approve.
    assert.equal(await card.locator('button[aria-label="Approve"]').count(), 0);
    await card.locator('button[aria-label="Cancel request"]').waitFor();

    await switchTo(page, 'bob@example.com', 'Bob');
    const bobsCard = page.locator(`#channel .post[data-request-id="${requestId}"]`);
    await bobsCard.locator('.pill.approver').waitFor();
    await bobsCard.locator('button[aria-label="Approve"]').click();
    await bobsCard.locator('.action-note.ok').waitFor();
    await page.locator(`#channel .post[data-request-id="${requestId}"][data-state="active"]`).waitFor();
    await bobsCard.locator('.ac-frame').first().filter({ hasText: 'Open until' }).waitFor();
    await bobsCard.locator('.reply[data-kind="opened"]').filter({ hasText: /Open until (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC from 10\.1\.2\.3/ }).waitFor();
    assert.equal(await bobsCard.locator('button[aria-label="Approve"]').count(), 0, 'a decided card offers no approval');

    const web01 = page.locator('#azure .vm[data-vm="web-01"]');
    const port22 = web01.locator('.open-port[data-port="22"]');
    await port22.waitFor();
    assert.match(await port22.innerText(), /10\.1\.2\.3/);
    assert.match(await port22.innerText(), /until (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC/);
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'console-approved-open.png') });

    await page.click('[data-advance="PT50M"]');
    await page.locator('#toast.show.ok').filter({ hasText: 'Clock moved PT50M forward' }).waitFor();
    await bobsCard.locator('.reply[data-kind="reminder"]').waitFor();

    await switchTo(page, 'alice@example.com', 'Alice');
    const reminder = page.locator('#conversation .msg.dm[data-kind="dm"]').filter({ hasText: 'ends at' }).last();
    await reminder.waitFor();
    await reminder.locator('button[aria-label="Extend"]').waitFor();
    await reminder.locator('button[aria-label="Release now"]').waitFor();

    await page.fill('#advance-by', 'PT15M');
    await page.press('#advance-by', 'Enter');
    await page.locator('#toast.show.ok').filter({ hasText: 'Clock moved PT15M forward' }).waitFor();
    const expiredCard = page.locator(`#channel .post[data-request-id="${requestId}"][data-state="expired"]`);
    await expiredCard.waitFor();
    await expiredCard.locator('.reply[data-kind="expired"]').filter({ hasText: /expired/i }).waitFor();
    await web01.locator('.closed-line').waitFor();
    assert.equal(await port22.count(), 0, 'port 22 is closed again');
    // Alice's own copy of the request follows the card, as Teams refreshes it.
    await answer.filter({ hasText: 'Expired' }).waitFor();

    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'console-expired.png') });
  });

  it('should answer Dave, who is in no group, with a clear refusal and post no card', async function () {
    const page = await openAs('dave@example.com');
    const cardsBefore = await page.locator('#channel .post').count();

    const answer = await send(page, '/jit ssh web-01 1h from 10.1.2.3 for test');
    // The refusal says what is wrong and who may: the rule's requesters.
    assert.match(await answer.innerText(), /may not request web-01 \(rule web: requesters are group:dev, group:sre\)/i);

    await page.waitForTimeout(300);
    assert.equal(await page.locator('#channel .post').count(), cardsBefore, 'a refused request posts no card');
  });
});
