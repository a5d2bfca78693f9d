// socket.io with socket.io-client against examples/socket.io: clients come
// back after a reload, and with sticky placement the default transports
// (long-polling first, then the upgrade) work across workers.
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import { ROOT, cleanup, startServer, waitFor, workersOf } from '../support/harness.js';

const APP = join(ROOT, 'examples/socket.io/app.js');
after(() => cleanup());

interface Echo {
  msg: string;
  pid: number;
}

/** `promise`, or a rejection naming `what` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function connected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
}

describe('socket.io', () => {
  for (const { how, flags, transports } of [
    { how: 'websocket only', flags: [], transports: ['websocket'] },
    { how: 'default transports, --sticky ip', flags: ['--sticky', 'ip'], transports: undefined },
  ]) {
    it(`after HUP, clients of the example reconnect to a worker of the new generation and get acks (${how})`, async () => {
      const { proc, port } = await startServer(['-w', '2', ...flags], { app: APP });
      const socket = io(`http://127.0.0.1:${port}`, { transports, reconnectionDelay: 100, reconnectionDelayMax: 500 });
      try {
        await within(connected(socket), 10_000, 'the first connect');
        const old = workersOf(proc.pid);
        assert.ok(old.includes(((await socket.timeout(5000).emitWithAck('echo', 'before')) as Echo).pid));
        const reason = new Promise<string>((resolve) => socket.once('disconnect', resolve));
        const back = new Promise<void>((resolve) => socket.io.once('reconnect', () => resolve()));
        proc.kill('SIGHUP');
        assert.equal(await within(reason, 20_000, 'the disconnect'), 'transport close');
        await within(back, 20_000, 'the client to reconnect');
        const reply = (await socket.timeout(5000).emitWithAck('echo', 'after')) as Echo;
        assert.equal(reply.msg, 'after');
        assert.ok(!old.includes(reply.pid), `answered by ${reply.pid}, a worker of the new generation`);
        await proc.line(/Reloaded: generation 2/, 20_000);
        assert.ok(workersOf(proc.pid).includes(reply.pid));
      } finally {
        socket.close();
      }
    });
  }

  it('with --sticky ip on -w 4, 50 of 50 clients on the default transports connect, emit and get their ack', async () => {
    const { proc, port } = await startServer(['-w', '4', '--sticky', 'ip'], { app: APP });
    // ten client addresses (loopback is 127.0.0.0/8), five clients each
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, async (_, i) => {
        const localAddress = `127.0.0.${10 + (i % 10)}`;
        const socket = io(`http://127.0.0.1:${port}`, {
          reconnection: false,
          agent: new http.Agent({ localAddress }) as never,
        });
        try {
          await within(connected(socket), 20_000, `client ${i} to connect`);
          const first = (await socket.timeout(10_000).emitWithAck('echo', `a${i}`)) as Echo;
          const second = (await socket.timeout(10_000).emitWithAck('echo', `b${i}`)) as Echo;
          assert.deepEqual([first.msg, second.msg], [`a${i}`, `b${i}`]);
          return { localAddress, pids: [first.pid, second.pid] };
        } finally {
          socket.close();
        }
      }),
    );
    const failed = results.filter((r) => r.status === 'rejected').map((r) => String(r.reason));
    assert.deepEqual(failed, [], `${failed.length} of 50 clients failed`);
    const byAddress = new Map<string, Set<number>>();
    for (const r of results) {
      if (r.status !== 'fulfilled') continue;
      const pids = byAddress.get(r.value.localAddress) ?? new Set();
      for (const pid of r.value.pids) pids.add(pid);
      byAddress.set(r.value.localAddress, pids);
    }
    for (const [address, pids] of byAddress) assert.equal(pids.size, 1, `every client from ${address} on one worker`);
    const used = new Set([...byAddress.values()].flatMap((p) => [...p]));
    assert.ok(used.size >= 2, `ten addresses spread over ${used.size} worker(s)`);
    for (const pid of used) assert.ok(workersOf(proc.pid).includes(pid));
  });
  it('with --sticky ip on -w 4, 50 clients from 50 addresses land on 3 or more workers and reconnect within 5 s of a HUP', async () => {
    const { proc, port } = await startServer(['-w', '4', '--sticky', 'ip'], { app: APP });
    const clients = Array.from({ length: 50 }, (_, i) =>
      io(`http://127.0.0.1:${port}`, {
        reconnectionDelay: 100,
        reconnectionDelayMax: 500,
        agent: new http.Agent({ localAddress: `127.0.0.${10 + i}` }) as never,
      }),
    );
    try {
      const before = await Promise.all(
        clients.map(async (socket, i) => {
          await within(connected(socket), 20_000, `client ${i} to connect`);
          return ((await socket.timeout(10_000).emitWithAck('echo', `a${i}`)) as Echo).pid;
        }),
      );
      const old = new Set(before);
      assert.ok(old.size >= 3, `50 addresses placed on ${old.size} worker(s)`);
      proc.kill('SIGHUP');
      await proc.line(/Reloaded: generation 2/, 20_000);
      const reloaded = Date.now();
      // each client, dropped by its draining worker, reconnects to one of the new generation
      const onNew = (socket: Socket, i: number) =>
        waitFor(
          async () => {
            const echo = (await socket.timeout(1000).emitWithAck('echo', `b${i}`)) as Echo;
            return old.has(echo.pid) ? null : echo.pid;
          },
          `client ${i} on the new generation`,
          5000,
        );
      const after = await Promise.all(clients.map(onNew));
      assert.ok(Date.now() - reloaded <= 5000 + 1000, `all reconnected in ${Date.now() - reloaded} ms`);
      for (const pid of new Set(after)) assert.ok(workersOf(proc.pid).includes(pid));
    } finally {
      for (const socket of clients) socket.close();
    }
  });
});
