// The listen rule as pure functions: what a listen() call asks for, and
// whether it names one of the worker's binds.
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { type Bind, appPort, refuseListen } from '../../lib/worker/binds.js';
import { listenTarget } from '../../lib/worker/listen-hook.js';

const tcp = (port: number): Bind => ({ label: `127.0.0.1:${port}`, handle: {}, port, path: null });
const unix = (path: string): Bind => ({ label: `unix:${path}`, handle: {}, port: null, path });

describe('listenTarget', () => {
  it('reads every form of listen()', () => {
    const cb = () => {};
    assert.deepEqual(listenTarget([8000]), { port: 8000 });
    assert.deepEqual(listenTarget(['8000', cb]), { port: 8000 });
    assert.deepEqual(listenTarget([8000, '0.0.0.0', 511, cb]), { port: 8000 });
    assert.deepEqual(listenTarget([]), { port: 0 });
    assert.deepEqual(listenTarget([cb]), { port: 0 });
    assert.deepEqual(listenTarget([{ port: 3000, host: 'localhost' }]), { port: 3000 });
    assert.deepEqual(listenTarget([{}]), { port: 0 });
    assert.deepEqual(listenTarget([{ port: 'x' }]), { port: -1 });
    assert.deepEqual(listenTarget(['app.sock']), { path: resolve('app.sock') });
    assert.deepEqual(listenTarget([{ path: '/run/app.sock' }]), { path: '/run/app.sock' });
  });

  it('reads handles and fds (only tsgund itself may listen on them)', () => {
    assert.deepEqual(listenTarget([{ fd: 3 }]), { fd: 3 });
    assert.deepEqual(listenTarget([Object.assign(Object.create({ fd: 5 }), {})]), { fd: 5 });
    assert.deepEqual(listenTarget([{ handle: {} }]), { handle: true });
    assert.deepEqual(listenTarget([{ _handle: {} }]), { handle: true });
    assert.deepEqual(listenTarget([{ fd: 7, listen() {}, close() {} }]), { handle: true });
  });
});

describe('refuseListen', () => {
  const binds = [unix('/run/a.sock'), tcp(8000), tcp(8001)];

  it("accepts a bind's port or unix path", () => {
    assert.equal(appPort(binds), 8000);
    assert.equal(refuseListen({ port: 8000 }, binds), null);
    assert.equal(refuseListen({ port: 8001 }, binds), null);
    assert.equal(refuseListen({ path: '/run/a.sock' }, binds), null);
  });

  it('refuses anything else in one line naming the port and the binds', () => {
    assert.equal(
      refuseListen({ port: 0 }, binds),
      "the app called listen() on port 0, which is not one of tsgund's binds (unix:/run/a.sock, 127.0.0.1:8000, 127.0.0.1:8001); listen on process.env.PORT (8000) or change --bind",
    );
    assert.match(refuseListen({ path: '/tmp/b.sock' }, binds)!, /on unix:\/tmp\/b\.sock, which/);
    assert.match(refuseListen({ port: 3000 }, [unix('/run/a.sock')])!, /listen on a unix bind path or change --bind$/);
  });

  it('refuses an fd or a handle like a foreign port', () => {
    assert.match(
      refuseListen({ fd: 3 }, binds)!,
      /^the app called listen\(\) on fd 3, which is not one of tsgund's binds \(/,
    );
    assert.match(refuseListen({ handle: true }, binds)!, /^the app called listen\(\) on a handle, which is not one of/);
  });
});
