// The console on a phone and from the keyboard: 360 px wide, light and dark, no mouse. Screenshots
// of both schemes go to test-output/ for a person to look at.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { silentLogger } from '../../src/app/logger';
import { startBot, type RunningBot } from '../../src/main';
import { LOCAL_CONFIG, REPO_ROOT } from '../helpers/paths';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT_DIR = path.join(REPO_ROOT, 'test-output');
const UI_TIMEOUT_MS = 20_000;

describe('the web console at 360 px, keyboard only, light and dark', function () {
  this.timeout(180_000);
  let bot: RunningBot;
  let browser: Browser;
  let dataDir: string;

  before(async function () {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    dataDir = await mkdtemp(path.join(tmpdir(), 'jitbot-console-ux-'));
    bot = await startBot({ PORT: '0', JITBOT_DATA_DIR: dataDir, JITBOT_SIM_PORT: '0', JITBOT_CONFIG: LOCAL_CONFIG }, { logger: silentLogger, cwd: REPO_ROOT });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  });

  after(async function () {
    await browser?.close();
    await bot?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function phone(email: string, colorScheme: 'light' | 'dark'): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 360, height: 740 }, colorScheme });
    const page = await context.newPage();
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${bot.url}/?as=${encodeURIComponent(email)}`);
    await page.locator('#live.on').waitFor();
    (page as unknown as { jitErrors: string[] }).jitErrors = errors;
    return page;
  }

  /** Typed and sent with the keyboard alone. */
  async function type(page: Page, text: string): Promise<void> {
    const before = await page.locator('#conversation .msg.bot').count();
    await page.keyboard.type(text);
    await page.keyboard.press('Enter');
    await page.locator('#conversation .msg.bot').nth(before).waitFor();
  }

  const sideways = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

  for (const scheme of ['light', 'dark'] as const) {
    it(`works from the keyboard at 360 px without sideways scrolling (${scheme})`, async function () {
      const page = await phone('carol@example.com', scheme);
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'command', 'the command box has focus on load');

      await type(page, '/jit help');
      await type(page, '/jit vms');
      await type(page, '/jit ssh web-01 1h from 10.1.2.3 for a very-long-reason-without-any-spaces-that-must-wrap-rather-than-scroll');
      await type(page, '/jit audit');
      await page.locator('#conversation .ac-pushButton', { hasText: /Download the CSV/ }).last().waitFor();
      assert.ok((await sideways(page)) <= 0, `the page scrolls sideways by ${await sideways(page)} px`);

      const stops = await page.evaluate(
        () => [...document.querySelectorAll('#conversation [tabindex]')].filter((n) => !/^(BUTTON|INPUT|SELECT|TEXTAREA|A)$/.test(n.tagName) && n.getAttribute('tabindex') !== '-1').length,
      );
      assert.equal(stops, 0, 'messages are not tab stops');

      const following = await page.evaluate(() => {
        const s = document.getElementById('conversation-scroller')!;
        return s.scrollHeight - s.scrollTop - s.clientHeight;
      });
      assert.ok(following < 40, `the chat follows new messages (${following} px from the bottom)`);

      const conversation = await page.locator('#conversation').innerText();
      assert.ok(!/request\.created/.test(conversation), 'no raw CSV in the chat');
      const download = page.locator('#conversation .ac-pushButton', { hasText: /Download the CSV/ });
      assert.ok((await download.count()) >= 1, `the audit comes as a download link: ${conversation.slice(-600)}`);

      if (scheme === 'dark') {
        const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
        assert.equal(bg, 'rgb(21, 23, 31)', 'the dark scheme is honoured');
      }
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, `console-360-${scheme}.png`), fullPage: true });

      // Scrolled up to read, the view stays put when a new message arrives.
      const frames = () => page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(resolve, 50)))));
      await frames();
      await page.evaluate(() => {
        document.getElementById('conversation-scroller')!.scrollTop = 0;
      });
      await frames();
      assert.equal(await page.evaluate(() => document.getElementById('conversation-scroller')!.scrollTop), 0, 'scrolled up');
      // Another tab (or the bot) adds to the conversation while this reader reads further up.
      const before = await page.locator('#conversation .msg').count();
      await fetch(`${bot.url}/console/command`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ as: 'carol@example.com', text: '/jit status' }) });
      await page.locator('#conversation .msg').nth(before).waitFor();
      assert.equal(await page.evaluate(() => document.getElementById('conversation-scroller')!.scrollTop), 0, 'a reader who scrolled up is not pulled down');
      assert.deepEqual((page as unknown as { jitErrors: string[] }).jitErrors, []);
      await page.context().close();
    });
  }

  it('moves the clock by 1h30m typed in the clock box', async function () {
    const page = await phone('alice@example.com', 'light');
    const before = Date.parse(await page.evaluate(async () => ((await (await fetch('/_local/clock')).json()) as { now: string }).now));
    await page.fill('#advance-by', '1h30m');
    await page.press('#advance-by', 'Enter');
    await page.waitForFunction(() => (document.getElementById('advance-by') as HTMLInputElement).value === '');
    const after = Date.parse(await page.evaluate(async () => ((await (await fetch('/_local/clock')).json()) as { now: string }).now));
    assert.ok(after - before >= 90 * 60_000 && after - before < 91 * 60_000, `moved ${(after - before) / 60_000} minutes`);
    await page.context().close();
  });
});
