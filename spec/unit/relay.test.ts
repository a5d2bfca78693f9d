// The relay of @socket.io/cluster-adapter's messages: to every other worker,
// a response to the worker that asked, and a sender held while a sibling has
// more than its share waiting.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Relay, type RelayPeer } from '../../lib/master/intake/relay.js';

function peer(pid: number) {
  const got: unknown[] = [];
  const pending: Array<() => void> = [];
  const p: RelayPeer & { got: unknown[]; flush(): void } = {
    pid,
    got,
    send: (msg, done) => {
      got.push(msg);
      pending.push(done);
    },
    flush: () => {
      for (const done of pending.splice(0)) done();
    },
  };
  return p;
}

describe('the relay', () => {
  it('passes a broadcast to every other worker, and a response to the one that asked', () => {
    const [a, b, c] = [peer(1), peer(2), peer(3)];
    const relay = new Relay(() => [a, b, c], 1000);
    assert.equal(relay.pass(a, { source: '_sio_adapter', type: 3, uid: 'ua' }, 10), null);
    assert.deepEqual([a.got.length, b.got.length, c.got.length], [0, 1, 1]);
    void relay.pass(b, { source: '_sio_adapter', type: 8, uid: 'ub', requesterUid: 'ua' }, 10);
    assert.deepEqual([a.got.length, b.got.length, c.got.length], [1, 1, 1]);
    assert.equal(relay.relayed, 3);
  });

  it('holds the sender while a sibling has more than its share unwritten, until it takes it', async () => {
    const [a, b] = [peer(1), peer(2)];
    const relay = new Relay(() => [a, b], 1000);
    assert.equal(relay.pass(a, { source: '_sio_adapter', type: 3 }, 600), null);
    const held = relay.pass(a, { source: '_sio_adapter', type: 3 }, 600);
    assert.ok(held, 'over 1000 bytes wait for b');
    let released = false;
    void held.then(() => (released = true));
    await Promise.resolve();
    assert.equal(released, false);
    b.flush();
    await held;
    assert.equal(b.got.length, 2, 'nothing dropped');
    // a worker that exits releases whoever waits for it
    void relay.pass(a, { source: '_sio_adapter', type: 3 }, 2000);
    const again = relay.pass(a, { source: '_sio_adapter', type: 3 }, 1);
    relay.forget(2);
    await again;
  });
});
