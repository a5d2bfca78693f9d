import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { kernelSlot } from '../support/kernel-hash.js';
import { loadNativeAddon } from '../../lib/native-addon.js';
import { FIXTURES } from '../support/harness.js';

const SPREAD = join(FIXTURES, 'reuseport-spread.mjs');
const sources = (prefix: string) =>
  Array.from({ length: 255 }, (_, i) => (prefix.includes(':') ? prefix + (i + 1).toString(16) : prefix + (i + 1)));

/** How many of `count` slots the sources land on. */
const slotsUsed = (slots: Iterable<number | string>) => new Set(slots).size;

/** Run the spread fixture (optionally in a fresh network namespace): source -> socket index. */
function spread(args: string[], netns = false): Record<string, number | 'moved'> {
  const node = [process.execPath, SPREAD, ...args].map((a) => `'${a}'`).join(' ');
  // in its own namespace, lo answers for all of fd00::/64 and the test may bind any of it
  const setup = 'ip link set lo up && ip -6 route add local fd00::/64 dev lo && sysctl -qw net.ipv6.ip_nonlocal_bind=1';
  const r = netns
    ? spawnSync('unshare', ['-n', 'sh', '-c', `${setup} && exec ${node}`], { encoding: 'utf8' })
    : spawnSync(process.execPath, [SPREAD, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, number | 'moved'>;
}

const addon = loadNativeAddon().native?.attachReusePortCbpf;
const canUnshare = spawnSync('unshare', ['-n', 'true']).status === 0;

describe('placement by the kernel: the BPF hash', () => {
  it('spreads 255 IPv4 and 255 IPv6 sources over at least 3 of 4 slots', () => {
    for (const prefix of ['127.0.0.', '10.1.2.', 'fd00::1:', '2001:db8::']) {
      const slots = sources(prefix).map((s) => kernelSlot(s, 4));
      assert.ok(slotsUsed(slots) >= 3, `${prefix}: ${slotsUsed(slots)} slots`);
    }
  });

  it('hashes an IPv4-mapped address as the IPv4 one, and stays within the count', () => {
    assert.equal(kernelSlot('::ffff:127.0.0.9', 7), kernelSlot('127.0.0.9', 7));
    for (const s of sources('fd00::')) assert.ok(kernelSlot(s, 3) < 3);
    assert.equal(kernelSlot('127.0.0.9', 1), 0);
  });

  it('the kernel places IPv4 clients as the hash says, on an IPv4 and on a dual-stack socket', { skip: !addon }, () => {
    for (const [host, connect] of [
      ['127.0.0.1', '127.0.0.1'],
      ['::', '127.0.0.1'],
    ] as const) {
      const got = spread([host, '127.0.0.', connect, '4']);
      for (const [source, slot] of Object.entries(got)) assert.equal(slot, kernelSlot(source, 4), `${host} ${source}`);
      assert.ok(slotsUsed(Object.values(got)) >= 3);
    }
  });

  it('the kernel places IPv6 clients as the hash says', { skip: !addon || !canUnshare }, () => {
    const got = spread(['::1', 'fd00::1:', '::1', '4'], true);
    for (const [source, slot] of Object.entries(got)) assert.equal(slot, kernelSlot(source, 4), source);
    assert.ok(slotsUsed(Object.values(got)) >= 3);
  });
});
