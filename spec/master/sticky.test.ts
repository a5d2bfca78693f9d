import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseSlot, clientKey, forwardedClient } from '../../lib/master/sticky.js';

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
