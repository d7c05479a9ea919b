// Every card the bot can send, drawn by the console's own renderer (adaptivecards with the page's
// markdown-it hook) in headless Chromium: what a person sees is the text that was typed, and the
// only clickable things are the bot's buttons.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { silentLogger } from '../../src/app/logger';
import { startBot, type RunningBot } from '../../src/main';
import { LOCAL_CONFIG, REPO_ROOT } from '../helpers/paths';
import { everySampleCard, HOSTILE_REASON } from '../teams/card-samples';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

interface Drawn {
  text: string;
  links: string[];
  handlers: string[];
  tags: string[];
}

describe('every card drawn by the console as Teams would draw it', function () {
  this.timeout(120_000);

  let bot: RunningBot;
  let browser: Browser;
  let page: Page;
  let dataDir: string;
  const pageErrors: string[] = [];

  before(async function () {
    dataDir = await mkdtemp(path.join(tmpdir(), 'jitbot-cards-'));
    bot = await startBot({ PORT: '0', JITBOT_DATA_DIR: dataDir, JITBOT_SIM_PORT: '0', JITBOT_CONFIG: LOCAL_CONFIG }, { logger: silentLogger, cwd: REPO_ROOT });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    page = await browser.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`${bot.url}/?as=alice%40example.com`);
    await page.locator('#live.on').waitFor();
  });

  after(async function () {
    await browser?.close();
    await bot?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** The card through the page's adaptivecards build and markdown hook, as the console draws its cards. */
  async function draw(card: unknown): Promise<Drawn> {
    return page.evaluate((json) => {
      const AC = (window as unknown as { AdaptiveCards: { AdaptiveCard: new () => { parse(j: unknown): void; render(): HTMLElement | undefined } } }).AdaptiveCards;
      const c = new AC.AdaptiveCard();
      c.parse(json);
      const el = c.render();
      if (!el) throw new Error('the card did not render');
      const host = document.createElement('div');
      host.appendChild(el);
      document.body.appendChild(host);
      const all = [...host.querySelectorAll('*')];
      const drawn = {
        text: host.innerText,
        links: [...host.querySelectorAll('a')].map((a) => a.getAttribute('href') ?? ''),
        handlers: all.flatMap((e) => [...e.attributes].filter((a) => a.name.startsWith('on')).map((a) => `${e.tagName}.${a.name}`)),
        tags: [...new Set(all.map((e) => e.tagName.toLowerCase()))],
      };
      host.remove();
      return drawn;
    }, card);
  }

  it('shows the help grammar literally: /jit <ports> <vms> <duration> [from <source>|me] [for <reason…>]', async function () {
    const help = everySampleCard().find(([name]) => name.endsWith('/help'))![1];
    const drawn = await draw(help);
    assert.ok(drawn.text.includes('/jit <ports> <vms> <duration> [from <source>|me] [for <reason…>]'), drawn.text);
    assert.ok(drawn.text.includes('/jit cancel <id>'));
    assert.ok(drawn.text.includes('/jit vms [<name filter>] [page <n>]'));
  });

  it('shows a hostile reason as text: no link to evil.example, no image, no event handler', async function () {
    const card = everySampleCard().find(([name]) => name === 'approval/hostile/approver')![1];
    const drawn = await draw(card);
    for (const line of HOSTILE_REASON.split('\n')) assert.ok(drawn.text.includes(line), `${line} in\n${drawn.text}`);
    assert.ok(drawn.text.includes('Mallory **<b>boss</b>**'));
    assert.deepEqual(drawn.links, []);
    assert.deepEqual(drawn.handlers, []);
    assert.ok(!drawn.tags.includes('img') && !drawn.tags.includes('b') && !drawn.tags.includes('h1'), drawn.tags.join(' '));
  });

  it('draws every card the bot can send without a link, handler or page error', async function () {
    const cards = everySampleCard();
    assert.ok(cards.length > 60);
    for (const [name, card] of cards) {
      const drawn = await draw(card);
      assert.deepEqual(drawn.links, [], name);
      assert.deepEqual(drawn.handlers, [], name);
      assert.ok(drawn.text.trim().length > 0, `${name} shows something`);
      assert.ok(!/&(amp|lt|gt|#\d+);/.test(drawn.text), `${name} shows no raw character reference: ${drawn.text.slice(0, 200)}`);
    }
    assert.deepEqual(pageErrors, []);
  });
});
