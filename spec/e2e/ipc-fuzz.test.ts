// Fuzz the master's side of the IPC channel: for FUZZ_IPC_MS (6 s by
// default) the test posts seeded random JSON-like values to an app that
// relays each with process.send() (spec/fixtures/apps/ipc-relay.cjs): values
// of every type, look-alikes of tsgund's messages and of Node's internal ones
// (bind requests included), text with control characters, now and then a
// flood or raw bytes. Workers may be stopped and replaced; the master must
// stay up and serving, bind nothing, and write no forged line.
//
//   node --test dist/spec/e2e/ipc-fuzz.test.js                    # 6 s, a fresh seed (printed)
//   FUZZ_SEED=1234 node --test dist/spec/e2e/ipc-fuzz.test.js     # replay a run
//   FUZZ_IPC_MS=300000 ...                                        # longer
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Rng, intFrom, seedFrom } from '../support/chaos.js';
import { FIXTURES, cleanup, isRunning, request, startServer, waitFor, workersOf } from '../support/harness.js';
import { listeningAddresses } from '../support/listening.js';
import http from 'node:http';

after(() => cleanup());

const SEED = seedFrom('FUZZ_SEED');
const DURATION_MS = intFrom('FUZZ_IPC_MS', 6_000);
const RELAY = join(FIXTURES, 'apps/ipc-relay.cjs');
const KINDS = [
  'want-sockets',
  'ready',
  'boot-error',
  'heartbeat',
  'retiring',
  'app:event',
  'prom-client:getMetricsRes',
];
const FIELDS = ['type', 'requests', 'accepted', 'rss', 'stats', 'reason', 'message', 'exitCode', 'cmd', 'act', 'seq'];
const INTERNAL = [
  'NODE_CLUSTER',
  'NODE_HANDLE',
  'NODE_HANDLE_ACK',
  'NODE_HANDLE_NACK',
  'NODE_SOCKET_ALL_CLOSED',
  'NODE_X',
];
const ACTS = ['queryServer', 'online', 'listening', 'close', 'exitedAfterDisconnect', 'newconn', 'x'];
const NUMBERS = [0, -0, 1, -1, 0.5, 2 ** 31, 2 ** 53, 2 ** 53 + 2, 1e308, -1e308, Number.MAX_SAFE_INTEGER];

function text(rng: Rng): string {
  const parts = [
    'a',
    'ready',
    '\n',
    '\r',
    '\u0000',
    '\u001b[31m',
    '\u2028',
    '\\',
    '"',
    'ü',
    '✓',
    '\n[CRITICAL] FUZZED ',
  ];
  let s = '';
  for (let i = rng.int(0, rng.chance(0.05) ? 3000 : 12); i > 0; i--) s += rng.pick(parts);
  return s;
}

function value(rng: Rng, depth: number): unknown {
  const leaf = depth > 2;
  switch (rng.int(0, leaf ? 4 : 8)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.chance(0.5) ? rng.pick(NUMBERS) : rng.int(-1000, 1e9);
    case 3:
      return text(rng);
    case 4:
      return rng.pick(KINDS);
    case 5:
      return Array.from({ length: rng.int(0, 8) }, () => value(rng, depth + 1));
    case 6:
      return Object.fromEntries(Array.from({ length: rng.int(0, 6) }, () => [rng.pick(FIELDS), value(rng, depth + 1)]));
    case 7: {
      // one of tsgund's kinds with plausible or random fields
      const m: Record<string, unknown> = { type: rng.pick(KINDS) };
      for (const f of FIELDS.slice(1, 8)) if (rng.chance(0.5)) m[f] = rng.chance(0.6) ? rng.int(0, 1e6) : value(rng, 3);
      if (rng.chance(0.3)) m.stats = { classes: [1, 2, 3, 4, 5], buckets: new Array(16).fill(rng.int(0, 3)), sum: 1 };
      return m;
    }
    default: {
      // one of Node's internal messages, bind requests included
      const port = rng.chance(0.5) ? -1 : rng.int(0, 65535);
      return {
        cmd: rng.pick(INTERNAL),
        act: rng.pick(ACTS),
        seq: rng.chance(0.8) ? rng.int(0, 1e6) : value(rng, 3),
        address: port < 0 ? `/tmp/tsgund-fuzz-${rng.int(0, 1e6)}.sock` : '127.0.0.1',
        port,
        addressType: port < 0 ? -1 : rng.pick([4, 6, 'udp4']),
        ...(rng.chance(0.2) ? { fd: rng.int(0, 20) } : {}),
        ...(rng.chance(0.2) ? { ack: rng.int(0, 10) } : {}),
      };
    }
  }
}

/** POST `body` to the relay; an error (the worker was just stopped) is an answer too. */
function post(url: string, body: string): Promise<number | Error> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'POST', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
      res.on('error', resolve);
    });
    req.on('error', resolve);
    req.end(body);
  });
}

describe('IPC fuzz', () => {
  it(`random values over the channel for ${DURATION_MS / 1000} s: the master stays up and serving`, {
    timeout: DURATION_MS + 120_000,
  }, async (t) => {
    t.diagnostic(`seed ${SEED} (replay: FUZZ_SEED=${SEED} FUZZ_IPC_MS=${DURATION_MS})`);
    const rng = new Rng(SEED);
    const { proc, url, port } = await startServer(['-w', '2', '--graceful-timeout', '2', '--log-level', 'debug'], {
      app: RELAY,
    });
    const master = proc.pid;
    const until = Date.now() + DURATION_MS;
    let batches = 0;
    while (Date.now() < until) {
      const roll = rng.next();
      if (roll < 0.01)
        await post(`${url}/raw`, rng.chance(0.5) ? `${text(rng)}\n` : `"${'x'.repeat(rng.int(1, 3) << 20)}`);
      else {
        const n = roll < 0.02 ? 2000 : rng.int(1, 20);
        await post(`${url}/send`, JSON.stringify(Array.from({ length: n }, () => value(rng, 0))));
      }
      batches++;
      assert.ok(isRunning(master), `the master died (seed ${SEED}, batch ${batches})`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const stopped = proc.count(/: stopping it$/);
    t.diagnostic(
      `${batches} batches; ${stopped} workers stopped, ${proc.count(/refused to bind/)} bind refusals logged`,
    );
    if (process.env.FUZZ_VERBOSE) t.diagnostic(proc.output);
    await waitFor(async () => (await request(`${url}/`)).status === 200, 'the master to serve', 30_000);
    await waitFor(() => workersOf(master).length === 2, 'the pool at its target', 30_000);
    assert.deepEqual(listeningAddresses([master, ...workersOf(master)]), [`127.0.0.1:${port}`]);
    assert.ok(!proc.lines.some((l) => /^\s*\[CRITICAL\] FUZZED/.test(l)), `a forged line (seed ${SEED})`);
    assert.equal(proc.count(/message from worker \d+ failed|unexpected error|^\s+at /), 0, proc.output);
  });
});
