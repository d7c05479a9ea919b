import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { keepAliveFetch } from '../../src/slack/keepalive-fetch';
import { createSlackCaller } from '../../src/slack/web';
import { ChatError } from '../../src/core/errors';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  socket: number;
}

/** A loopback server that records what it was sent and answers with `answer`. */
async function server(answer: (req: Seen, res: http.ServerResponse) => void): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const sockets = new Map<unknown, number>();
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!sockets.has(req.socket)) sockets.set(req.socket, sockets.size + 1);
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), socket: sockets.get(req.socket)! };
      seen.push(s);
      answer(s, res);
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  };
}

const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
};

describe('the Slack keep-alive fetch', function () {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => Promise.all(closers.splice(0).map((c) => c())));

  it("posts messages as JSON with the token in the header, other calls as the WebClient's form, all on one kept-alive connection", async function () {
    const srv = await server((s, res) => json(res, 200, s.url.endsWith('/users.info') ? { ok: true, user: { id: 'U1' } } : { ok: true, channel: 'C1', ts: '1.2' }));
    closers.push(srv.close);
    const slack = createSlackCaller('xoxb-test', { apiUrl: `${srv.url}/api`, logger: quietLogger(), timeoutMs: 2_000 });
    for (let i = 0; i < 3; i++) {
      const res = await slack.call<{ ok: boolean; ts?: string }>('chat.postMessage', { channel: 'C1', text: `hello ${i} & <you>`, blocks: [{ type: 'section' }] });
      assert.equal(res.ts, '1.2');
    }
    await slack.call('chat.update', { channel: 'C1', ts: '1.2', text: 'redrawn' });
    await slack.call('users.info', { user: 'U1' });
    assert.deepEqual(
      srv.seen.map((s) => [s.method, s.url]),
      [...Array.from({ length: 3 }, () => ['POST', '/api/chat.postMessage']), ['POST', '/api/chat.update'], ['POST', '/api/users.info']],
    );
    for (const s of srv.seen) assert.equal(s.headers.authorization, 'Bearer xoxb-test', `${s.url} carries the token in its header`);
    // Slack takes JSON for its write methods only with the token in the Authorization header, as sent.
    assert.match(srv.seen[2].headers['content-type'] ?? '', /^application\/json; charset=utf-8$/);
    assert.deepEqual(JSON.parse(srv.seen[2].body), { channel: 'C1', text: 'hello 2 & <you>', blocks: [{ type: 'section' }] });
    assert.equal(srv.seen[2].headers['content-length'], String(Buffer.byteLength(srv.seen[2].body)));
    assert.deepEqual(JSON.parse(srv.seen[3].body), { channel: 'C1', ts: '1.2', text: 'redrawn' });
    assert.equal(srv.seen[4].headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(new URLSearchParams(srv.seen[4].body).get('user'), 'U1');
    assert.deepEqual(new Set(srv.seen.map((s) => s.socket)), new Set([1]), 'one kept-alive connection');
  });

  it('answers a JSON post as the WebClient would: warnings logged, a 429 with no Retry-After, a redirect and a non-JSON answer refused', async function () {
    const srv = await server((s, res) => {
      if (s.url.endsWith('/chat.update')) return json(res, 200, { ok: true, response_metadata: { warnings: ['missing_charset'] } });
      if (s.body.includes('"teapot"')) return json(res, 429, { ok: false, error: 'ratelimited' });
      if (s.body.includes('"moved"')) {
        res.writeHead(302, { location: 'http://example.invalid/' });
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>a proxy says hello</html>');
    });
    closers.push(srv.close);
    const warned: string[] = [];
    const slack = createSlackCaller('xoxb-test', { apiUrl: `${srv.url}/api/`, logger: { ...quietLogger(), warn: (...m: unknown[]) => void warned.push(m.join(' ')) }, timeoutMs: 2_000 });

    await slack.call('chat.update', { channel: 'C1', ts: '1.2' });
    assert.deepEqual(warned, ['Slack chat.update: missing_charset']);
    const limited = await slack.call('chat.postMessage', { channel: 'teapot' }).catch((e: unknown) => e);
    assert.ok(limited instanceof ChatError && limited.retryable && /HTTP 429/.test(limited.message), String(limited));
    const moved = await slack.call('chat.postMessage', { channel: 'moved' }).catch((e: unknown) => e);
    assert.ok(moved instanceof ChatError && moved.retryable && /could not be reached/.test(moved.message), String(moved));
    assert.equal(srv.seen.filter((s) => s.body.includes('"moved"')).length, 3, 'a refused redirect is retried as an unreachable Slack is, twice');
    const garbled = await slack.call('chat.postMessage', { channel: 'C1' }).catch((e: unknown) => e);
    assert.ok(garbled instanceof ChatError && garbled.retryable, String(garbled));
  });

  it('turns an error answer, a 429 and an unreachable host into the ChatErrors the app retries on', async function () {
    const srv = await server((s, res) => {
      if (s.url.endsWith('/chat.update')) return json(res, 200, { ok: false, error: 'channel_not_found' });
      json(res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': '30' });
    });
    closers.push(srv.close);
    const slack = createSlackCaller('xoxb-test', { apiUrl: `${srv.url}/api/`, logger: quietLogger(), timeoutMs: 2_000 });

    const refused = await slack.call('chat.update', { channel: 'C1', ts: '1.2' }).catch((e: unknown) => e);
    assert.ok(refused instanceof ChatError && !refused.retryable && /channel_not_found/.test(refused.message), String(refused));
    const limited = await slack.call('chat.postMessage', { channel: 'C1' }).catch((e: unknown) => e);
    assert.ok(limited instanceof ChatError && limited.retryable && limited.retryAfterMs === 30_000, String(limited));

    const closed = createSlackCaller('xoxb-test', { apiUrl: 'http://127.0.0.1:1/api/', logger: quietLogger(), timeoutMs: 5_000 });
    const unreachable = await closed.call('chat.postMessage', { channel: 'C1' }).catch((e: unknown) => e);
    assert.ok(unreachable instanceof ChatError && unreachable.retryable, String(unreachable));
  });

  it('answers as fetch would: a gzipped body decoded, headers kept, a redirect refused, an abort honoured', async function () {
    const srv = await server((s, res) => {
      if (s.url === '/gzip') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-slack-req-id': 'abc' });
        return res.end(gzipSync(JSON.stringify({ ok: true })));
      }
      if (s.url === '/moved') {
        res.writeHead(302, { location: 'http://example.invalid/' });
        return res.end();
      }
      if (s.url === '/empty') {
        res.writeHead(204);
        return res.end();
      }
      // /slow: never answers
    });
    closers.push(srv.close);
    const send = keepAliveFetch();

    const gz = await send(`${srv.url}/gzip`, { method: 'POST', body: 'a=1' });
    assert.equal(gz.status, 200);
    assert.equal(gz.headers.get('x-slack-req-id'), 'abc');
    assert.deepEqual(await gz.json(), { ok: true });
    assert.equal(srv.seen[0].headers['content-length'], '3');

    await assert.rejects(send(`${srv.url}/moved`, { method: 'POST', redirect: 'error' }), TypeError);
    assert.equal((await send(`${srv.url}/empty`)).status, 204);

    const aborter = new AbortController();
    const slow = send(`${srv.url}/slow`, { method: 'POST', body: 'x', signal: aborter.signal });
    setTimeout(() => aborter.abort(new Error('gave up')), 20);
    await assert.rejects(slow, /gave up/);
  });

  it('leaves a body it does not carry (a FormData upload) to the global fetch', async function () {
    const srv = await server((s, res) => json(res, 200, { ok: true, type: s.headers['content-type'] }));
    closers.push(srv.close);
    const form = new FormData();
    form.append('file', new Blob(['hello']), 'a.txt');
    const res = await keepAliveFetch()(`${srv.url}/upload`, { method: 'POST', body: form });
    assert.match(((await res.json()) as { type: string }).type, /^multipart\/form-data; boundary=/);
    assert.match(srv.seen[0].body, /hello/);
  });
});

function quietLogger() {
  const noop = () => {};
  return { debug: noop, info: noop, warn: noop, error: noop, setLevel: noop, getLevel: () => 'error' as never, setName: noop };
}
