import assert from 'node:assert/strict';
import { silentLogger } from '../../src/app/logger';
import type { Reply } from '../../src/core/views';
import { createHttpServer, type HttpServer } from '../../src/server';
import { fromMeUrl, mountFromMe } from '../../src/web/from-me';
import { RecordingChat } from '../fakes/recording-chat';
import { MINUTE, person, startWorld, type TestWorld } from '../helpers/world';

function linkOf(reply: Reply): { id: string; url: string } {
  assert.equal(reply.kind, 'address-link', `expected a one-time link, got ${JSON.stringify(reply)}`);
  const r = reply as Extract<Reply, { kind: 'address-link' }>;
  return { id: r.request.id, url: r.url };
}

/** The page's own form, as a browser would send it: the hidden token, url-encoded, to the form's action. */
async function pressButton(url: string, headers: Record<string, string> = {}): Promise<{ status: number; html: string }> {
  const page = await fetch(url);
  const html = await page.text();
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  const token = /name="t" value="([^"]+)"/.exec(html)?.[1];
  assert.ok(action && token, `the page has a form with a token: ${html}`);
  const res = await fetch(new URL(action, url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ t: token }).toString(),
  });
  return { status: res.status, html: await res.text() };
}

describe('from me: the one-time link records the address the request comes from', function () {
  // Each test runs a real store, the ARM simulator and the HTTP server; a loaded machine is slow to start them.
  this.timeout(120_000);
  let world: TestWorld;
  let chat: RecordingChat;
  let http: HttpServer;
  let base = '';

  async function start(trustedProxies: string[] = []): Promise<void> {
    world = await startWorld({ app: { addressLink: (id, token) => fromMeUrl(base, id, token) } });
    chat = new RecordingChat();
    world.addChat(chat);
    http = createHttpServer({ logger: silentLogger, mounts: [mountFromMe({ api: world.app, trustedProxies, logger: silentLogger })] });
    base = (await http.listen(0, '127.0.0.1')).replace('localhost', '127.0.0.1');
  }

  afterEach(async () => {
    await http?.close();
    await world?.close();
  });

  it('no from on an any-source port sends a link; the button opens for that one address, once', async () => {
    await start();
    const { id, url } = linkOf(await world.app.command(person('alice'), 'rdp sql-01 1h for patching'));
    assert.ok(url.startsWith(`${base}/from-me/${id}?t=`), url);
    await world.settle();
    assert.equal(chat.recorded.cards.length, 0, 'nobody is asked to approve before the address is known');

    const pressed = await pressButton(url);
    assert.equal(pressed.status, 200, pressed.html);
    assert.match(pressed.html, /Recorded your address 127\.0\.0\.1/);
    await world.settle();
    const request = await world.store.getRequest(id);
    assert.equal(request?.state, 'pending');
    assert.equal(request?.source, '127.0.0.1');
    assert.equal(chat.recorded.cards.length, 1, 'the approval card goes out now');
    assert.equal(chat.recorded.cards[0].view.source, '127.0.0.1');
    assert.ok(chat.recorded.dms.some((d) => d.notice.kind === 'address' && /127\.0\.0\.1/.test(d.notice.text)), 'the requester is told in chat');

    const again = await pressButton(url).catch((err: Error) => ({ status: 0, html: err.message }));
    assert.notEqual(again.status, 200, 'the link works once');
    const post = await fetch(`${base}/from-me/${id}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `t=${new URL(url).searchParams.get('t')}` });
    assert.equal(post.status, 404, 'a replayed POST records nothing');
    assert.equal((await world.store.getRequest(id))?.source, '127.0.0.1');

    assert.equal((await world.app.act(person('bob'), 'approve', id)).ok, true);
    assert.equal((await world.app.act(person('carol'), 'approve', id)).ok, true, 'rule sql needs two');
    await world.settle();
    assert.equal(world.sim.check('sql-01', 3389, '127.0.0.1').allowed, true, 'open for the captured address');
    assert.equal(world.sim.check('sql-01', 3389, '203.0.113.9').allowed, false, 'and for nothing else');
  });

  it("a link previewer's GET records nothing, and the page escapes what the requester typed", async () => {
    await start();
    const { id, url } = linkOf(await world.app.command(person('alice'), 'rdp sql-01 1h from me for <script>alert(1)</script>'));
    for (let i = 0; i < 3; i++) {
      const res = await fetch(url, { headers: { 'user-agent': 'Slackbot-LinkExpanding 1.0' } });
      const html = await res.text();
      assert.equal(res.status, 200);
      assert.ok(!html.includes('<script>'), 'no user text is interpreted');
      assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
      assert.equal(res.headers.get('cache-control'), 'no-store');
    }
    assert.equal((await world.store.getRequest(id))?.state, 'awaiting-address');
    assert.equal((await world.store.listAudit({ requestId: id })).filter((e) => e.type === 'request.address').length, 0);
  });

  it('an unused link lapses after 10 minutes: the request times out and the requester hears it', async () => {
    await start();
    const { id, url } = linkOf(await world.app.command(person('alice'), 'rdp sql-01 1h'));
    await world.advance(9 * MINUTE);
    assert.equal((await world.store.getRequest(id))?.state, 'awaiting-address');
    await world.advance(2 * MINUTE);
    assert.equal((await world.store.getRequest(id))?.state, 'timed-out');
    assert.ok(chat.recorded.dms.some((d) => d.notice.kind === 'timed-out' && /not opened within 10 minutes/.test(d.notice.text)));
    const page = await fetch(url);
    assert.equal(page.status, 404, 'the lapsed link shows nothing of the request');
  });

  it('an address outside a private policy range is refused on the page and in chat, with the way in', async () => {
    await start();
    const { id, url } = linkOf(await world.app.command(person('alice'), 'ssh web-01 1h from me'));
    const pressed = await pressButton(url);
    assert.equal(pressed.status, 403);
    assert.match(pressed.html, /127\.0\.0\.1 is outside what the policy allows for port 22 on web-01 \(10\.0\.0\.0\/8\)/);
    assert.match(pressed.html, /VPN/);
    await world.settle();
    assert.equal((await world.store.getRequest(id))?.state, 'failed');
    assert.ok(chat.recorded.dms.some((d) => /10\.0\.0\.0\/8/.test(d.notice.text) && /VPN/.test(d.notice.text)), 'the refusal is in chat too');
    assert.equal(chat.recorded.cards.length, 0);
  });

  it('a forged X-Forwarded-For from an untrusted peer is ignored', async () => {
    await start();
    const { id, url } = linkOf(await world.app.command(person('alice'), 'ssh web-01 1h from me'));
    const pressed = await pressButton(url, { 'x-forwarded-for': '10.1.2.3' });
    assert.equal(pressed.status, 403, pressed.html);
    assert.equal((await world.store.getRequest(id))?.state, 'failed');
  });

  it('X-Forwarded-For counts from a trusted proxy, back to the first hop it does not trust', async () => {
    await start(['127.0.0.1/32']);
    const { id, url } = linkOf(await world.app.command(person('alice'), 'ssh web-01 1h from me'));
    const pressed = await pressButton(url, { 'x-forwarded-for': '203.0.113.50, 10.1.2.3' });
    assert.equal(pressed.status, 200, pressed.html);
    assert.equal((await world.store.getRequest(id))?.source, '10.1.2.3');
  });

  it('answers odd input with a page, never a crash', async () => {
    await start();
    const { id } = linkOf(await world.app.command(person('alice'), 'rdp sql-01 1h'));
    const cases: Array<[string, RequestInit]> = [
      [`/from-me/${id}`, {}],
      [`/from-me/${id}?t=${'x'.repeat(5000)}`, {}],
      [`/from-me/${id}?t=%00%ff`, {}],
      ['/from-me/%E0%A4%A', {}],
      [`/from-me/${id}`, { method: 'POST', body: 'x'.repeat(10_000), headers: { 'content-type': 'application/x-www-form-urlencoded' } }],
      [`/from-me/${id}`, { method: 'POST', body: 't=%%%', headers: { 'content-type': 'application/x-www-form-urlencoded' } }],
      [`/from-me/${id}`, { method: 'POST', body: '{"t":["a"]}', headers: { 'content-type': 'application/json' } }],
      [`/from-me/${id}`, { method: 'POST', body: 't=wrong-token', headers: { 'content-type': 'application/x-www-form-urlencoded' } }],
    ];
    for (const [path, init] of cases) {
      const res = await fetch(`${base}${path}`, init);
      assert.ok(res.status >= 400 && res.status < 500, `${path} ${init.method ?? 'GET'} answered ${res.status}`);
      await res.text();
    }
    assert.equal((await world.store.getRequest(id))?.state, 'awaiting-address', 'nothing was recorded');
  });

  it('no from on a one-prefix port takes the whole range and says how wide it is', async () => {
    await start();
    const reply = await world.app.command(person('alice'), 'ssh web-01 1h');
    assert.equal(reply.kind, 'submitted');
    assert.match((reply as { text: string }).text, /from 10\.0\.0\.0\/8, the policy's whole range: 16,777,216 addresses/);
    await world.settle();
    assert.equal(chat.recorded.cards[0].view.source, "10.0.0.0/8, the policy's whole range: 16,777,216 addresses");
  });
});
