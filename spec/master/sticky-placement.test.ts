import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { bindListener } from '../../lib/listeners/handles.js';
import type { ErrorLog } from '../../lib/log/error-line.js';
import {
  StickyPlacement,
  type StickyOptions,
  type StickyTarget,
  chooseSlot,
  clientKey,
  forwardedClient,
} from '../../lib/master/placement/sticky-placement.js';
import type { MasterToWorker } from '../../lib/protocol/messages.js';

const keys = Array.from({ length: 4000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
const placeAll = (slots: number[]) => new Map(keys.map((k) => [k, chooseSlot(k, slots)]));

describe('sticky placement: chooseSlot', () => {
  it('places a key on one of the slots, the same one every time; none without slots', () => {
    for (const k of keys.slice(0, 50)) {
      const slot = chooseSlot(k, [0, 1, 2, 3]);
      assert.ok(slot !== null && [0, 1, 2, 3].includes(slot));
      assert.equal(chooseSlot(k, [3, 2, 1, 0]), slot, 'the order of the slots does not matter');
    }
    assert.equal(chooseSlot('10.0.0.1', []), null);
    assert.equal(chooseSlot('10.0.0.1', [7]), 7);
  });

  it('spreads keys evenly', () => {
    const counts = [0, 0, 0, 0];
    for (const slot of placeAll([0, 1, 2, 3]).values()) counts[slot!]!++;
    for (const n of counts) assert.ok(n > keys.length * 0.2 && n < keys.length * 0.3, `counts ${counts}`);
  });

  it('a slot that leaves moves only its own keys, spread over the others, and gets them back when it returns', () => {
    const all = placeAll([0, 1, 2, 3]);
    const without2 = placeAll([0, 1, 3]);
    const moved = new Set<number>();
    for (const [k, slot] of all) {
      if (slot === 2) moved.add(without2.get(k)!);
      else assert.equal(without2.get(k), slot, `${k} stays on slot ${slot}`);
    }
    assert.deepEqual([...moved].sort(), [0, 1, 3]);
    assert.deepEqual(placeAll([0, 1, 2, 3]), all);
  });

  it('a slot added takes keys only from the others, about its share', () => {
    const three = placeAll([0, 1, 2]);
    const four = placeAll([0, 1, 2, 3]);
    let taken = 0;
    for (const [k, slot] of four) {
      if (slot === 3) taken++;
      else assert.equal(slot, three.get(k));
    }
    assert.ok(taken > keys.length * 0.2 && taken < keys.length * 0.3, `slot 3 took ${taken}`);
  });
});

describe('sticky placement: clientKey', () => {
  it('is the address, an IPv4-mapped IPv6 address as the IPv4 one, empty without an address', () => {
    assert.equal(clientKey('10.1.2.3'), '10.1.2.3');
    assert.equal(clientKey('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(clientKey('::FFFF:10.1.2.3'), '10.1.2.3');
    assert.equal(clientKey('fd00::1'), 'fd00::1');
    assert.equal(clientKey(undefined), '');
  });
});

describe('sticky placement: forwardedClient', () => {
  const head = (lines: string[], rest = '') => Buffer.from(`GET / HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n${rest}`);

  it('is the first address of X-Forwarded-For, whatever the case of the name', () => {
    assert.equal(forwardedClient(head(['Host: a', 'X-Forwarded-For: 203.0.113.7, 10.0.0.1'])), '203.0.113.7');
    assert.equal(forwardedClient(head(['x-forwarded-for:2001:db8::1'])), '2001:db8::1');
    assert.equal(forwardedClient(head(['X-FORWARDED-FOR: [2001:db8::2]'])), '2001:db8::2');
  });

  it('is null without the header, for what is not an address, and for the body or a cut head', () => {
    assert.equal(forwardedClient(head(['Host: a'])), null);
    assert.equal(forwardedClient(head(['X-Forwarded-For: unknown'])), null);
    assert.equal(forwardedClient(head(['X-Forwarded-For: '])), null);
    assert.equal(forwardedClient(head(['Host: a'], 'X-Forwarded-For: 203.0.113.7\r\n')), null);
    assert.equal(forwardedClient(Buffer.from('GET / HTTP/1.1\r\nX-Forwarded-For: 203.0.113.7\r\n')), '203.0.113.7');
  });
});

/** A worker as the placement sees it: records what it is sent; `answer` completes (or fails) each write. */
class FakeWorker implements StickyTarget {
  readonly sent: { msg: MasterToWorker; socket: net.Socket; done: (err: Error | null) => void }[] = [];
  send(msg: MasterToWorker, socket: net.Socket, _options: { keepOpen: boolean }, done: (err: Error | null) => void) {
    this.sent.push({ msg, socket, done });
    return true;
  }
}

const warnings: string[] = [];
const errors: string[] = [];
const log = {
  debug() {},
  info() {},
  warning: (m: string) => warnings.push(m),
  error: (m: string) => errors.push(m),
  critical() {},
  reopen() {},
  close: async () => {},
} satisfies ErrorLog;

async function placement(targets: Map<number, FakeWorker>, limit = 10, options: StickyOptions = {}) {
  const listener = await bindListener({ kind: 'tcp', host: '127.0.0.1', port: 0 });
  const budget = { inFlightPerWorker: limit, waitingPerWorker: (n: number) => n, ackDeadlineMs: 3000 };
  const sticky = new StickyPlacement(
    () => targets,
    () => limit,
    log,
    { budget, ...options },
  );
  sticky.configure({ forwardedAllowIps: ['127.0.0.1'], limitRequestFieldSize: 8190 });
  await sticky.follow([listener], 16);
  const port = listener.address.kind === 'tcp' ? listener.address.port : 0;
  const connect = (localAddress: string) => {
    const c = net.connect({ host: '127.0.0.1', port, localAddress });
    const closed = new Promise<void>((resolve) => c.on('close', () => resolve()).on('error', () => {}));
    return { c, closed };
  };
  return { sticky, connect, stop: () => listener.handle.close() };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check());
};

describe('sticky placement: StickyPlacement on a real socket', () => {
  it('holds connections while no worker accepts, up to the limit, and hands them over once one does', async () => {
    const targets = new Map<number, FakeWorker>();
    const { sticky, connect, stop } = await placement(targets, 2);
    warnings.length = 0;
    const clients = ['127.0.0.50', '127.0.0.51', '127.0.0.52'].map(connect);
    // one of them is past the limit: closed at once
    const refused = await Promise.race(clients.map((c, i) => c.closed.then(() => i)));
    assert.equal(warnings.length, 1);
    const worker = new FakeWorker();
    targets.set(0, worker);
    sticky.flush();
    assert.equal(worker.sent.length, 2);
    for (const s of worker.sent) {
      assert.deepEqual(s.msg, { type: 'sticky-connection' });
      s.done(null); // written: the master lets go of its descriptor
    }
    await Promise.all(clients.filter((_, i) => i !== refused).map((c) => c.closed)); // no worker kept a copy here
    stop();
  });

  it('bounds what is on its way to a worker: past its budget its clients wait, past that they are closed', async () => {
    const worker = new FakeWorker();
    const { connect, stop } = await placement(new Map([[0, worker]]), 2);
    const clients = [70, 71, 72, 73, 74].map((n) => connect(`127.0.0.${n}`));
    // two on their way (the worker has not taken them yet), two waiting, one closed
    const refused = await Promise.race(clients.map((c, i) => c.closed.then(() => i)));
    await until(() => worker.sent.length === 2);
    worker.sent[0]!.done(null); // one taken: one waiting goes
    await until(() => worker.sent.length === 3);
    for (const s of worker.sent.slice(1)) s.done(null);
    await until(() => worker.sent.length === 4);
    worker.sent[3]!.done(null);
    await Promise.all(clients.filter((_, i) => i !== refused).map((c) => c.closed));
    stop();
  });

  it('places again, on another worker, a connection whose worker exited before it got it', async () => {
    const [a, b] = [new FakeWorker(), new FakeWorker()];
    const targets = new Map([
      [0, a],
      [1, b],
    ]);
    const { sticky, connect, stop } = await placement(targets);
    const client = connect('127.0.0.60');
    await until(() => a.sent.length + b.sent.length === 1);
    const [first, other] = a.sent.length ? [a, b] : [b, a];
    targets.delete(first === a ? 0 : 1);
    sticky.onExit(first);
    assert.equal(other.sent.length, 1);
    first.sent[0]!.done(new Error('channel closed')); // a late callback changes nothing
    assert.equal(other.sent.length, 1);
    other.sent[0]!.done(null);
    await client.closed;
    stop();
  });

  it('from a trusted peer, places by X-Forwarded-For and sends the bytes it read', async () => {
    const workers = [new FakeWorker(), new FakeWorker(), new FakeWorker(), new FakeWorker()];
    const targets = new Map(workers.map((w, slot) => [slot, w]));
    const { connect, stop } = await placement(targets);
    const head = 'GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 198.51.100.7\r\n\r\n';
    const client = connect('127.0.0.1');
    client.c.write(head);
    await until(() => workers.some((w) => w.sent.length));
    const slot = chooseSlot('198.51.100.7', [0, 1, 2, 3])!;
    const got = workers[slot]!.sent[0];
    assert.ok(got, `sent to slot ${slot}`);
    assert.equal(Buffer.from((got.msg as { head: string }).head, 'base64').toString(), head);
    got.done(null);
    await client.closed;
    stop();
  });

  it('from a trusted peer that opens with a TLS handshake, places by the peer at once', async () => {
    const worker = new FakeWorker();
    const { connect, stop } = await placement(new Map([[0, worker]]));
    const client = connect('127.0.0.1');
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]);
    client.c.write(hello);
    const t0 = Date.now();
    await until(() => worker.sent.length === 1);
    assert.ok(Date.now() - t0 < 900, 'did not wait for a head');
    assert.deepEqual(Buffer.from((worker.sent[0]!.msg as { head: string }).head, 'base64'), hello);
    worker.sent[0]!.done(null);
    await client.closed;
    stop();
  });

  it("a worker that never acknowledges stalls only its own clients, is reported hung once, and /readyz's reason is set", async () => {
    const [a, b] = [new FakeWorker(), new FakeWorker()];
    const targets = new Map([
      [0, a],
      [1, b],
    ]);
    let now = 0;
    const hung: StickyTarget[] = [];
    const budget = { inFlightPerWorker: 2, waitingPerWorker: () => 10, ackDeadlineMs: 3000 };
    const { sticky, connect, stop } = await placement(targets, 2, {
      budget,
      clock: () => now,
      hung: (t) => hung.push(t),
    });
    errors.length = 0;
    // sources that hash to each worker
    const sources = Array.from({ length: 60 }, (_, i) => `127.0.2.${i + 1}`);
    const toA = sources.filter((s) => chooseSlot(s, [0, 1]) === 0).slice(0, 5);
    const toB = sources.filter((s) => chooseSlot(s, [0, 1]) === 1).slice(0, 5);
    const clientsA = toA.map(connect);
    await until(() => a.sent.length === 2); // a acknowledges nothing: two on their way, the rest wait
    const clientsB = toB.map(connect);
    for (let i = 0; i < toB.length; i++) {
      await until(() => b.sent.length > i);
      b.sent[i]!.done(null); // b is served one after another, whatever a does
    }
    await Promise.all(clientsB.map((c) => c.closed));
    assert.match(sticky.blocked() ?? '', /a worker has 2 connection\(s\) unacknowledged/);
    sticky.flush();
    assert.deepEqual(hung, []);
    now = 3000;
    sticky.flush();
    sticky.flush();
    assert.deepEqual(hung, [a]);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /acknowledged no connection for 3 s \(5 waiting\); replacing it/);
    // a is replaced: what it had goes to b
    targets.delete(0);
    sticky.onExit(a);
    for (let i = toB.length; i < toB.length + toA.length; i++) {
      await until(() => b.sent.length > i);
      b.sent[i]!.done(null);
    }
    await Promise.all(clientsA.map((c) => c.closed));
    assert.equal(sticky.blocked(), null);
    stop();
  });
});
