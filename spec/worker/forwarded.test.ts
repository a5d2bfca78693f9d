import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allowList, allowListProblem } from '../../lib/allow-list.js';

describe('forwardedAllowIps matcher', () => {
  it('matches single addresses, IPv4 and IPv6 CIDRs, and IPv4-mapped IPv6 peers', () => {
    const trusts = allowList(['10.0.0.0/8', '192.0.2.7', '::1/128', 'fd00::/8']);
    for (const peer of ['10.0.0.1', '10.255.255.255', '192.0.2.7', '::1', 'fd12:3456::1', '::ffff:10.1.2.3'])
      assert.equal(trusts(peer), true, peer);
    for (const peer of ['11.0.0.1', '192.0.2.8', '::2', 'fe80::1', '::ffff:192.0.2.8', '127.0.0.1'])
      assert.equal(trusts(peer), false, peer);
  });

  it('the default list trusts loopback, including ::ffff:127.0.0.1 from a dual-stack listener', () => {
    const trusts = allowList(['127.0.0.1', '::1']);
    assert.equal(trusts('127.0.0.1'), true);
    assert.equal(trusts('::ffff:127.0.0.1'), true);
    assert.equal(trusts('::1'), true);
    assert.equal(trusts('127.0.0.2'), false);
  });

  it("trusts no unix-socket peer (no address) unless the list is '*'", () => {
    assert.equal(allowList(['127.0.0.1'])(undefined), false);
    assert.equal(allowList(['*'])(undefined), true);
    assert.equal(allowList(['*'])('203.0.113.9'), true);
  });

  it('trusts no peer address it cannot read', () => {
    const trusts = allowList(['0.0.0.0/0', '::/0']);
    for (const peer of ['', 'localhost', '10.0.0.300', ':::1', '1::2::3', '1.2.3.4:80'])
      assert.equal(trusts(peer), false, JSON.stringify(peer));
  });

  it('names the first invalid entry', () => {
    assert.equal(allowListProblem(['*', '10.0.0.0/8', '::/0', '0.0.0.0/0', '2001:db8::1']), null);
    for (const bad of [
      '10.0.0.0/33',
      '::1/129',
      'localhost',
      '10.0.0.300',
      '10.0.0.0/',
      '10.0.0.0/8/8',
      '/8',
      '10.0.0.0/-1',
      ':::1',
      '1::2::3',
    ])
      assert.match(
        allowListProblem(['127.0.0.1', bad]) ?? '',
        new RegExp(`^has "${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}", expected`),
        bad,
      );
  });
});
