import assert from 'node:assert/strict';
import { Batcher, Coalescer } from '../../src/store/coalesce';

/** A fake statement that records each batch it was given and answers every item for itself. */
function recorder(fail: (items: string[]) => Error | null = () => null) {
  const batches: string[][] = [];
  const run = async (items: string[]): Promise<string[]> => {
    batches.push(items);
    await new Promise((r) => setTimeout(r, 5));
    const err = fail(items);
    if (err) throw err;
    return items.map((i) => `ok:${i}`);
  };
  return { batches, run };
}

describe('Batcher (group commit)', function () {
  it('sends the first write at once and gathers the writes made meanwhile into the next batch', async function () {
    const { batches, run } = recorder();
    let started!: () => void;
    const firstStarted = new Promise<void>((r) => (started = r));
    const b = new Batcher((items: string[]) => {
      started();
      return run(items);
    });
    const first = b.submit('a');
    // Waiting on the first statement itself, not on a timer that a busy machine may fire before
    // the batch is taken (which once put all four writes in one batch in CI).
    await firstStarted;
    const rest = ['b', 'c', 'd'].map((i) => b.submit(i));
    assert.deepEqual(await Promise.all([first, ...rest]), ['ok:a', 'ok:b', 'ok:c', 'ok:d']);
    assert.deepEqual(batches, [['a'], ['b', 'c', 'd']]);
  });

  it('keeps two writes of one key out of one batch, in the order they were made', async function () {
    const { batches, run } = recorder();
    const b = new Batcher(run, { keysOf: (i: string) => [i.split(':')[0]] });
    const out = await Promise.all(['r1:a', 'r2:a', 'r1:b', 'r3:a', 'r1:c'].map((i) => b.submit(i)));
    assert.deepEqual(out, ['ok:r1:a', 'ok:r2:a', 'ok:r1:b', 'ok:r3:a', 'ok:r1:c']);
    assert.deepEqual(batches, [['r1:a', 'r2:a', 'r3:a'], ['r1:b'], ['r1:c']]);
  });

  it('holds no more than maxBatch writes in one batch', async function () {
    const { batches, run } = recorder();
    const b = new Batcher(run, { maxBatch: 2 });
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((i) => b.submit(i)));
    assert.deepEqual(batches, [['a', 'b'], ['c', 'd'], ['e']]);
  });

  it('tries a refused batch again one write at a time, so only the refused write fails', async function () {
    const refused = Object.assign(new Error('refused'), { code: '22P05' });
    const { batches, run } = recorder((items) => (items.includes('bad') ? refused : null));
    const b = new Batcher(run, { retryAlone: (err) => (err as { code?: string }).code === '22P05' });
    const out = await Promise.allSettled(['a', 'bad', 'c'].map((i) => b.submit(i)));
    assert.deepEqual(out.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.deepEqual(batches, [['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
  });

  it('fails the whole batch without retrying when the error may have left it committed', async function () {
    const lost = new Error('connection lost');
    const { batches, run } = recorder(() => lost);
    const b = new Batcher(run, { retryAlone: () => false });
    const out = await Promise.allSettled(['a', 'b'].map((i) => b.submit(i)));
    assert.deepEqual(out.map((o) => o.status), ['rejected', 'rejected']);
    assert.deepEqual(batches, [['a', 'b']]);
  });
});

describe('Coalescer (batched reads)', function () {
  it('reads each key once per batch, gives every caller its own answer, and fails only the caller whose answer fails', async function () {
    const statements: string[][] = [];
    const c = new Coalescer(
      async (keys: string[]) => {
        statements.push(keys);
        return new Map(keys.filter((k) => k !== 'gone').map((k) => [k, { k }]));
      },
      (row, first) => {
        if (row?.k === 'bad') throw new Error('cannot decode bad');
        return row ? { ...row, first } : null;
      },
    );
    const out = await Promise.allSettled(['a', 'a', 'gone', 'bad', 'b'].map((k) => c.load(k)));
    assert.deepEqual(statements, [['a', 'gone', 'bad', 'b']]);
    assert.deepEqual(
      out.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message)),
      [{ k: 'a', first: true }, { k: 'a', first: false }, null, 'cannot decode bad', { k: 'b', first: true }],
    );
  });
});
