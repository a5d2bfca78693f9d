// The hash of the BPF program that places connections by source address in
// the kernel (native/reaper/reaper.c, attachReusePortCbpf), in JavaScript: the
// tests check the spread with it, and that the kernel agrees with it.

import net from 'node:net';

/** murmur3's finalizer, as the program computes it. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The 16 bytes of an IPv6 address as four big-endian words. */
function ipv6Words(address: string): number[] {
  const [head, tail = null] = address.split('::') as [string, string?];
  const groups = (part: string | null) => (part ? part.split(':') : []);
  let parts = [...groups(head), ...groups(tail ?? null)];
  const last = parts.at(-1) ?? '';
  if (last.includes('.')) {
    const [a, b, c, d] = last.split('.').map(Number) as [number, number, number, number];
    parts = [...parts.slice(0, -1), ((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
  }
  const left = groups(head).length;
  const fill = tail === null ? [] : Array<string>(8 - parts.length).fill('0');
  const all = tail === null ? parts : [...parts.slice(0, left), ...fill, ...parts.slice(left)];
  const n = all.map((g) => Number.parseInt(g || '0', 16));
  return [0, 2, 4, 6].map((i) => ((n[i]! << 16) | n[i + 1]!) >>> 0);
}

/**
 * The slot (index in the SO_REUSEPORT group) the kernel picks for a
 * connection from `address` among `count` sockets. An IPv4 client of a `::`
 * socket is an IPv4 packet, hashed as IPv4.
 */
export function kernelSlot(address: string, count: number): number {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const v4 = mapped ?? (net.isIPv4(address) ? address : null);
  let h: number;
  if (v4) h = v4.split('.').reduce((acc, b) => ((acc << 8) | Number(b)) >>> 0, 0);
  else {
    const [w0, ...rest] = ipv6Words(address) as [number, number, number, number];
    h = rest.reduce((acc, w) => (Math.imul(acc, 0x9e3779b1) ^ w) >>> 0, w0);
  }
  return mix(h) % count;
}
