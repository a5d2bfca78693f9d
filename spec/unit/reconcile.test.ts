import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, oldestSurplus, type PoolView, type WorkerView } from '../../lib/master/pool/reconcile.js';

let nextId = 1;
const w = (state: WorkerView['state'], extra: Partial<WorkerView> = {}): WorkerView => ({
  id: nextId,
  generation: 1,
  state,
  retiring: false,
  startedAt: nextId++ * 100,
  ...extra,
});

const pool = (workers: WorkerView[], over: Partial<PoolView> = {}): PoolView => ({
  workers,
  serving: { generation: 1, target: 2 },
  booting: null,
  pending: new Map(),
  mayStop: true,
  ...over,
});

describe('decide: the pool against its targets', () => {
  it('spawns what the serving generation lacks, counting booting workers and forks under way once', () => {
    assert.deepEqual(decide(pool([w('ready')])).spawn, [{ generation: 1, count: 1 }]);
    assert.deepEqual(decide(pool([w('ready'), w('booting')])).spawn, []);
    assert.deepEqual(decide(pool([w('ready')], { pending: new Map([[1, 1]]) })).spawn, []);
    assert.deepEqual(decide(pool([], { pending: new Map([[1, 1]]) })).spawn, [{ generation: 1, count: 1 }]);
  });

  it('does not count retiring workers, nor workers of another generation', () => {
    const workers = [w('ready'), w('draining', { retiring: true }), w('ready', { generation: 0 })];
    assert.deepEqual(decide(pool(workers)).spawn, [{ generation: 1, count: 1 }]);
  });

  it('replaces one retiring worker at a time while they drain: never more than target + 1 processes', () => {
    const retiring = () => w('draining', { retiring: true });
    assert.deepEqual(decide(pool([w('ready'), retiring()])).spawn, [{ generation: 1, count: 1 }]);
    // its replacement says it retires too (and stays): no third process until one of them exits
    assert.deepEqual(decide(pool([w('ready'), retiring(), retiring()])).spawn, []);
    assert.deepEqual(
      decide(pool([retiring(), retiring(), retiring()], { serving: { generation: 1, target: 1 } })).spawn,
      [],
    );
    assert.deepEqual(decide(pool([retiring(), retiring()])).spawn, [{ generation: 1, count: 1 }]);
    // a fork under way for it counts too
    assert.deepEqual(decide(pool([w('ready'), retiring()], { pending: new Map([[1, 1]]) })).spawn, []);
  });

  it('stops the oldest ready workers beyond the target', () => {
    const [a, b, c] = [w('ready'), w('ready'), w('ready')];
    assert.deepEqual(decide(pool([c!, a!, b!])).stop, [a!.id]);
  });

  it('never stops a serving worker for a surplus that is only booting', () => {
    assert.deepEqual(decide(pool([w('ready'), w('ready'), w('booting')])).stop, []);
    assert.deepEqual(decide(pool([w('ready'), w('ready')], { pending: new Map([[1, 3]]) })).stop, []);
  });

  it('stops nothing during a reload, but still replaces workers of the serving generation', () => {
    const d = decide(pool([w('ready'), w('ready'), w('ready')], { mayStop: false }));
    assert.deepEqual(d.stop, []);
    assert.deepEqual(decide(pool([w('ready')], { mayStop: false })).spawn, [{ generation: 1, count: 1 }]);
  });

  it('fills a booting generation to its size, besides the serving one', () => {
    const workers = [w('ready'), w('ready'), w('booting', { generation: 2 })];
    const d = decide(pool(workers, { booting: { generation: 2, size: 3 }, mayStop: false }));
    assert.deepEqual(d.spawn, [{ generation: 2, count: 2 }]);
  });

  it('does nothing when no generation should run (paused, stopping)', () => {
    assert.deepEqual(decide(pool([w('ready')], { serving: null, mayStop: false })), { spawn: [], stop: [] });
  });
});

describe('oldestSurplus: after TTOU', () => {
  it('the oldest workers beyond the new target', () => {
    const [a, b, c] = [w('ready'), w('ready'), w('booting')];
    assert.deepEqual(oldestSurplus(pool([b!, c!, a!])), [a!.id]);
  });

  it('counts forks under way, and stops nothing when a crash already brought the pool down', () => {
    const [a, b] = [w('ready'), w('ready')];
    assert.deepEqual(oldestSurplus(pool([a!, b!], { pending: new Map([[1, 1]]) })), [a!.id]);
    assert.deepEqual(oldestSurplus(pool([w('ready')])), []);
    assert.deepEqual(oldestSurplus(pool([w('ready'), w('ready')])), []);
  });
});
