// The worker's runtime, boot and drain in-process (spec/support/worker-runtime.ts):
// a real HTTP server on a loopback socket, the master's side recorded.
import assert from 'node:assert/strict';
import http from 'node:http';
import { afterEach, describe, it } from 'node:test';
import { waitFor } from '../support/harness.js';
import { gate, InProcessWorker } from '../support/worker-runtime.js';

let worker: InProcessWorker | null = null;

afterEach(() => {
  worker?.remove();
  worker = null;
});

describe('a worker in-process', { timeout: 30_000 }, () => {
  it('boots: asks nothing more, serves, and reports ready once', async () => {
    worker = await InProcessWorker.boot();
    await worker.booted;
    assert.equal(worker.rt.phase, 'serving');
    assert.deepEqual(worker.kinds, ['ready']);
    assert.equal((await worker.get()).body, 'ok');
  });

  it('TERM during postWorkerInit: it says it retires, drains and exits 0, and is never ready', async () => {
    const hook = gate('postWorkerInit');
    worker = await InProcessWorker.boot();
    const w = worker;
    await waitFor(() => hook.reached, 'postWorkerInit running');
    w.rt.terminated();
    hook.open();
    await w.booted;
    assert.equal(await w.exited(), 0);
    assert.deepEqual(w.sent, [{ type: 'retiring', reason: 'received TERM', signal: 'SIGTERM' }]);
    assert.notEqual(w.rt.phase, 'serving');
    assert.ok(w.lines.includes('[INFO] worker received TERM, finishing in-flight requests'), w.lines.join('\n'));
  });

  it('TERM while serving: tells the master first, finishes the request in flight with Connection: close', async () => {
    worker = await InProcessWorker.boot();
    const w = worker;
    await w.booted;
    const held = gate('request');
    const agent = new http.Agent({ keepAlive: true });
    const inFlight = w.get(agent);
    await waitFor(() => held.reached, 'the request in the app');
    w.rt.terminated();
    assert.deepEqual(w.sent.at(-1), { type: 'retiring', reason: 'received TERM', signal: 'SIGTERM' });
    assert.equal(w.rt.phase, 'draining');
    await assert.rejects(w.get(), /ECONNREFUSED/, 'it no longer accepts');
    assert.equal(w.exits.length, 0, 'not before the request ends');
    held.open();
    const res = await inFlight;
    assert.deepEqual([res.status, res.connection, res.body], [200, 'close', 'ok']);
    assert.equal(await w.exited(), 0);
    agent.destroy();
  });

  it('a second TERM, or max-requests during a drain, changes nothing: the phase only moves forward', async () => {
    worker = await InProcessWorker.boot({ maxRequests: 1 });
    const w = worker;
    await w.booted;
    await w.get();
    assert.deepEqual(w.sent.at(-1), { type: 'retiring', reason: 'max requests (1) reached' });
    w.rt.terminated();
    assert.equal(w.kinds.filter((k) => k === 'retiring').length, 1);
    assert.equal(w.rt.enter('serving'), false);
    assert.equal(await w.exited(), 0);
    assert.equal(w.rt.phase, 'exiting');
  });
});
