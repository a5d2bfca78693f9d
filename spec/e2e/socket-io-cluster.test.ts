// @socket.io/cluster-adapter out of the box: tsgund's master relays its
// messages between the workers (the app needs no primary hook), under the
// relay channel's budget. A burst of 1,000 io.emit() by one worker reaches
// every client of every worker, and no worker is stopped for it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import { FIXTURES, cleanup, request, startServer, waitFor, workersOf } from '../support/harness.js';

after(() => cleanup());

const APP = join(FIXTURES, 'apps/socket-io-cluster.cjs');
const CLIENTS = 24;

describe('@socket.io/cluster-adapter', () => {
  it('a burst of 1,000 io.emit() on -w 4 reaches every client of every worker, and no worker is stopped', async (t) => {
    const { proc, url } = await startServer(['-w', '4'], { app: APP });
    const workers = workersOf(proc.pid).sort();
    const sockets: Socket[] = [];
    const pids = new Set<number>();
    const counts: number[] = [];
    try {
      for (let i = 0; i < CLIENTS; i++) {
        const socket = io(url, { transports: ['websocket'], forceNew: true });
        const n = sockets.push(socket) - 1;
        counts[n] = 0;
        socket.on('n', () => counts[n]!++);
        socket.once('hello', (pid: number) => pids.add(pid));
      }
      await waitFor(() => sockets.every((s) => s.connected) && pids.size > 0, 'every client connected');
      await waitFor(() => pids.size >= Math.min(CLIENTS, 4) || sockets.length === CLIENTS, 'the greetings');
      const t0 = performance.now();
      await request(`${url}/burst`);
      await waitFor(
        () => counts.every((c) => c === 1000),
        () => `every client to get 1,000 events: ${counts.join(' ')}`,
        20_000,
      );
      t.diagnostic(
        `1,000 events to ${CLIENTS} clients on ${pids.size} workers in ${(performance.now() - t0).toFixed(0)} ms`,
      );
      assert.ok(pids.size >= 2, `clients on ${pids.size} workers`);
      assert.deepEqual(workersOf(proc.pid).sort(), workers, 'no worker stopped or replaced');
      assert.equal(proc.count(/stopping it|WORKER TIMEOUT/), 0, proc.output);
    } finally {
      for (const s of sockets) s.disconnect();
    }
  });
});
