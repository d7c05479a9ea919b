// The test clock's HTTP control: ISO durations in, the clock moved, and due work finished before
// the answer (so a browser that waits for the answer sees reminders and expiries).
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import * as restify from 'restify';
import { ManualClock } from '../../src/app/clock';
import { mountLocalClock, parseIsoDurationMs } from '../../src/console/local-clock';
import { wordsAfterJit } from '../../src/console/routes';

const MINUTE = 60_000;

describe('console: parseIsoDurationMs', function () {
  it('should read ISO 8601 durations with weeks, days, hours, minutes and seconds', function () {
    assert.equal(parseIsoDurationMs('PT55M'), 55 * MINUTE);
    assert.equal(parseIsoDurationMs('pt1h30m'), 90 * MINUTE);
    assert.equal(parseIsoDurationMs('P1DT2H'), 26 * 60 * MINUTE);
    assert.equal(parseIsoDurationMs('P1W'), 7 * 24 * 60 * MINUTE);
    assert.equal(parseIsoDurationMs('PT1.5H'), 90 * MINUTE);
    assert.equal(parseIsoDurationMs('PT30S'), 30_000);
  });

  it('should read the chat grammar short forms too', function () {
    assert.equal(parseIsoDurationMs('50m'), 50 * MINUTE);
    assert.equal(parseIsoDurationMs('1h30m'), 90 * MINUTE);
    assert.equal(parseIsoDurationMs('2d'), 2 * 24 * 60 * MINUTE);
  });

  it('should refuse what is not a duration, or depends on the calendar', function () {
    for (const text of ['', 'P', 'PT', 'P1DT', '55', 'PT-5M', 'P1Y', 'P1M', 'soon', 'PT5M junk']) {
      assert.equal(parseIsoDurationMs(text), null, text);
    }
  });
});

describe('console: wordsAfterJit', function () {
  it('should take the words the way Slack and Teams carry them', function () {
    assert.equal(wordsAfterJit('/jit ssh web-01 1h'), 'ssh web-01 1h');
    assert.equal(wordsAfterJit('JIT help'), 'help');
    assert.equal(wordsAfterJit('/jit'), '');
    assert.equal(wordsAfterJit('status'), 'status');
    assert.equal(wordsAfterJit('jitter'), 'jitter');
  });
});

describe('console: POST /_local/clock/advance', function () {
  let server: restify.Server;
  let base: string;
  let clock: ManualClock;
  let ranAt: Date[];

  beforeEach(async function () {
    clock = new ManualClock(new Date('2026-11-21T12:00:00Z'));
    ranAt = [];
    server = restify.createServer({ handleUncaughtExceptions: false });
    mountLocalClock(server, clock, async (now) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      ranAt.push(now);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async function () {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const advance = (body: string, contentType = 'application/json') =>
    fetch(`${base}/_local/clock/advance`, { method: 'POST', headers: { 'content-type': contentType }, body });

  it('should move the clock and answer only after the due work ran', async function () {
    const res = await advance('{"by":"PT55M"}');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { now: string };
    assert.equal(body.now, '2026-11-21T12:55:00.000Z');
    assert.equal(clock.now().toISOString(), '2026-11-21T12:55:00.000Z');
    assert.deepEqual(ranAt.map((d) => d.toISOString()), ['2026-11-21T12:55:00.000Z']);

    const read = await fetch(`${base}/_local/clock`);
    assert.deepEqual(await read.json(), { now: '2026-11-21T12:55:00.000Z' });
  });

  it('should refuse a body that is not a positive duration, and leave the clock alone', async function () {
    for (const body of ['{"by":"soon"}', '{"by":"PT0M"}', '{}', '{"by":55}', 'not json', '{"by":"P40D"}']) {
      const res = await advance(body);
      assert.equal(res.status, 400, body);
      assert.match(((await res.json()) as { error: string }).error, /by|JSON/);
    }
    assert.equal(clock.now().toISOString(), '2026-11-21T12:00:00.000Z');
    assert.equal(ranAt.length, 0);
  });

  it('should run what is already due first, and leave the clock alone when that fails, whatever was thrown', async function () {
    const other = restify.createServer({ handleUncaughtExceptions: false });
    const order: string[] = [];
    let failWith: unknown = undefined;
    let failing = false;
    mountLocalClock(other, clock, () => void order.push(`after ${clock.now().toISOString()}`), undefined, {
      beforeAdvance: async () => {
        order.push(`before ${clock.now().toISOString()}`);
        if (failing) throw failWith;
      },
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}/_local/clock/advance`;
      const post = () => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"by":"PT5M"}' });
      assert.equal((await post()).status, 200);
      assert.deepEqual(order, ['before 2026-11-21T12:00:00.000Z', 'after 2026-11-21T12:05:00.000Z'], 'due work ran at its own time, then the clock moved');
      failing = true;
      for (const thrown of [new Error('store unavailable'), null, 'a plain string']) {
        failWith = thrown;
        const res = await post();
        assert.equal(res.status, 500, String(thrown));
        assert.match(((await res.json()) as { error: string }).error, /^Running what was due failed, so the clock did not move: /);
      }
      assert.equal(clock.now().toISOString(), '2026-11-21T12:05:00.000Z', 'the clock did not move on any failure');
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  it('should refuse a form post, which another web page could send from the visitor\'s browser', async function () {
    const res = await advance('by=PT55M', 'application/x-www-form-urlencoded');
    assert.equal(res.status, 415);
    assert.equal(clock.now().toISOString(), '2026-11-21T12:00:00.000Z');
  });
});
