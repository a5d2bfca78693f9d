// Which TCP sockets are listening in a set of processes, read from /proc: the
// kernel's socket tables name an inode per socket, and /proc/PID/fd links name
// the inodes a process holds. Used to prove that nothing listens beyond the
// configured binds (no node:cluster round-robin listener in the master).
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

const LISTEN = '0A';

function inodesOf(pid: number): Set<string> {
  const out = new Set<string>();
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** "127.0.0.1:8000" or "[::1]:8000" from /proc/net/tcp{,6}'s hex form. */
function decode(hex: string, v6: boolean): string {
  const [addr, port] = hex.split(':') as [string, string];
  const p = parseInt(port, 16);
  if (!v6) {
    const bytes = addr
      .match(/../g)!
      .map((b) => parseInt(b, 16))
      .reverse();
    return `${bytes.join('.')}:${p}`;
  }
  // four little-endian 32-bit words
  const words = addr.match(/.{8}/g)!.map((w) => w.match(/../g)!.reverse().join(''));
  const groups = words
    .join('')
    .match(/.{4}/g)!
    .map((g) => g.replace(/^0+(?=.)/, ''));
  const text = groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
  return `[${text}]:${p}`;
}

/** Every listening TCP address held by any of `pids`, sorted and without duplicates. */
export function listeningAddresses(pids: number[]): string[] {
  const inodes = new Set<string>();
  for (const pid of pids) for (const i of inodesOf(pid)) inodes.add(i);
  const found = new Set<string>();
  for (const [file, v6] of [
    ['/proc/net/tcp', false],
    ['/proc/net/tcp6', true],
  ] as const) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.trim().split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === LISTEN && inodes.has(f[9]!)) found.add(decode(f[1]!, v6));
    }
  }
  return [...found].sort();
}

/** How many established TCP connections on local port `port` any of `pids` holds. */
export function connectionsOn(pids: number[], port: number): number {
  const inodes = new Set<string>();
  for (const pid of pids) for (const i of inodesOf(pid)) inodes.add(i);
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local address, remote, state … inode (field 10)
      if (f[3] === '01' && parseInt(f[1]?.split(':')[1] ?? '', 16) === port && inodes.has(f[9] ?? '')) n++;
    }
  }
  return n;
}
