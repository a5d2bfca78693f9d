import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adoptHandle, bindListener, type Listener, unlinkUnixSocket } from '../../lib/listeners/handles.js';
import { bindAll, handOver, REUSEPORT_ENV } from '../../lib/listeners/inherited.js';
import { planGuests, type SlotHolder } from '../../lib/master/placement/slot-placement.js';
import { Slots, slotLabel } from '../../lib/master/placement/slots.js';

interface W extends SlotHolder {
  name: string;
}
const w = (name: string, slot: number, accepting = true): W => ({ name, slot, accepting });
const names = (pairs: [number, W][]) => pairs.map(([slot, x]) => `${slot}:${x.name}`);

describe('planGuests', () => {
  it('needs no guest while every slot has an accepting worker', () => {
    const plan = planGuests(2, [w('a', 0), w('b', 1)], new Map());
    assert.deepEqual(plan, { adopt: [], release: [] });
  });

  it('gives the slot of a worker that is not accepting to the least loaded accepting worker', () => {
    const a = w('a', 0);
    const plan = planGuests(3, [a, w('b', 1, false), w('c', 2)], new Map([[2, a]]));
    // a already guests slot 2 by mistake (c is home there): released; slot 1 goes to the lower slot among equals
    assert.deepEqual(names(plan.release), ['2:a']);
    assert.deepEqual(names(plan.adopt), ['1:a']);
  });

  it('spreads spare slots (after TTOU or a HUP to fewer workers) over the accepting workers', () => {
    const plan = planGuests(5, [w('a', 0), w('b', 1)], new Map());
    assert.deepEqual(names(plan.adopt), ['2:a', '3:b', '4:a']);
  });

  it('keeps a guest that still accepts, and replaces one that stopped', () => {
    const a = w('a', 0);
    const gone = w('old', 7, false);
    const plan = planGuests(3, [a, w('b', 1)], new Map([[2, gone]]));
    assert.deepEqual(plan.release, []); // a guest that stopped accepting let go by itself
    assert.deepEqual(names(plan.adopt), ['2:a']);
    assert.deepEqual(planGuests(3, [a, w('b', 1)], new Map([[2, a]])), { adopt: [], release: [] });
  });

  it('releases the guest once a home worker of the slot is ready again', () => {
    const a = w('a', 0);
    const plan = planGuests(2, [a, w('b2', 1)], new Map([[1, a]]));
    assert.deepEqual(names(plan.release), ['1:a']);
    assert.deepEqual(plan.adopt, []);
  });

  it('plans nothing while no worker accepts (the sockets queue until one is ready)', () => {
    assert.deepEqual(planGuests(2, [w('a', 0, false)], new Map()), { adopt: [], release: [] });
  });
});

/** Listen on a copy of `handle` the way a worker does; resolves with the server. */
function listenOn(handle: object): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((s) => s.end('x'));
    server.once('error', reject);
    server.listen(handle, () => resolve(server));
  });
}

describe('Slots', () => {
  it('binds one SO_REUSEPORT socket per slot on the port of the first, all listening together', async () => {
    const first = await bindListener({ kind: 'tcp', host: '127.0.0.1', port: 0 }, true);
    const slots = new Slots(new Map(), adoptHandle);
    slots.ensure([first], 3);
    assert.equal(slots.size, 3);
    const handles = [0, 1, 2].map((i) => slots.handle(first, i)!);
    assert.equal(handles[0], first.handle);
    const servers = await Promise.all(handles.map((h) => listenOn(h)));
    const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
    assert.deepEqual(new Set(ports).size, 1, 'every slot socket on the same port');
    assert.deepEqual(
      slots.forHandOver().map((s) => s.label),
      [slotLabel(first.label, 1), slotLabel(first.label, 2)],
    );
    for (const s of servers) s.close();
    slots.drop(first);
  });

  it('adopts every slot socket an old master handed over, even beyond the workers it runs', async () => {
    const first = await bindListener({ kind: 'tcp', host: '127.0.0.1', port: 0 }, true);
    const adopted: number[] = [];
    const slots = new Slots(new Map([[slotLabel(first.label, 3), 42]]), (fd) => {
      adopted.push(fd);
      return { fd, close() {} };
    });
    assert.equal(slots.size, 4);
    slots.ensure([first], 1);
    assert.deepEqual(adopted, [42]);
    slots.drop(first);
    first.handle.close();
  });

  it('leaves shared listeners alone: every slot gets their one socket', async () => {
    const shared = await bindListener({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    const slots = new Slots(new Map(), adoptHandle);
    slots.ensure([shared], 2);
    assert.equal(slots.handle(shared, 1), null);
    assert.deepEqual(slots.handlesFor([shared] as Listener[], 1), [shared.handle]);
    assert.deepEqual(slots.forHandOver(), []);
    shared.handle.close();
  });
});

describe('bindAll with reusePort', () => {
  it('binds TCP addresses with SO_REUSEPORT and keeps unix sockets shared, and says so to a new master', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgund-slots-'));
    const listeners = await bindAll([`unix:${join(dir, 'app.sock')}`, '127.0.0.1:0'], [], {}, true);
    assert.deepEqual(
      listeners.map((l) => Boolean(l.reusePort)),
      [false, true],
    );
    const { env } = handOver(listeners);
    assert.deepEqual(JSON.parse(env[REUSEPORT_ENV]!), [listeners[1]!.label]);
    for (const l of listeners) {
      l.handle.close();
      unlinkUnixSocket(l);
    }
    rmSync(dir, { recursive: true, force: true });
  });
});
