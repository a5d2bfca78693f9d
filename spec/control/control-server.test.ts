import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { requestStatus } from '../../lib/control/client.js';
import { formatStatus, formatUptime } from '../../lib/control/format.js';
import { controlSocketPath } from '../../lib/control/protocol.js';
import { startControlServer } from '../../lib/control/server.js';
import type { StatusSnapshot } from '../../lib/protocol/status.js';
import type { ErrorLog } from '../../lib/log/error-line.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgund-control-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const quiet: ErrorLog = {
  debug() {},
  info() {},
  warning() {},
  error() {},
  critical() {},
  reopen: async () => {},
  close: async () => {},
};

const SNAPSHOT: StatusSnapshot = {
  name: 'tsgund',
  pid: 100,
  app: 'app.js',
  generation: 3,
  targetWorkers: 2,
  state: 'running',
  uptimeMs: 3_725_000,
  rss: 50 * 1048576,
  loop: { delayP50: 0.1, delayP99: 1.04, delayMax: 2 },
  restarts: 1,
  listeners: ['http://127.0.0.1:8000', 'unix:/run/app.sock'],
  logs: { errorlog: '-', accesslog: null },
  workers: [
    {
      pid: 102,
      id: 5,
      generation: 3,
      state: 'ready',
      uptimeMs: 61_000,
      requests: 12345,
      accepted: 300,
      slot: 1,
      bootMs: 180,
      rss: 40 * 1048576,
      runtime: {
        delayP50: 0.4,
        delayP99: 12.25,
        delayMax: 30,
        utilization: 0.126,
        heapUsed: 12 * 1048576,
        heapLimit: 4096 * 1048576,
        gcMs: 3,
        connections: 2,
      },
    },
    {
      pid: 101,
      id: 4,
      generation: 3,
      state: 'booting',
      uptimeMs: 500,
      requests: 0,
      accepted: 0,
      slot: 0,
      bootMs: null,
      rss: 0,
    },
  ],
};

/** Send raw request bytes and collect the reply lines until the server closes or `n` lines arrive. */
function talk(path: string, payload: string, n: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path, () => sock.write(payload));
    let text = '';
    const done = () => resolve(text.split('\n').filter(Boolean));
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      text += d;
      if (text.split('\n').filter(Boolean).length >= n) {
        sock.destroy();
        done();
      }
    });
    sock.on('end', done);
    sock.on('error', reject);
  });
}

describe('control socket', () => {
  it('answers status, bad JSON and unknown commands, one reply line per request line', async () => {
    const path = join(dir, 'a.sock');
    const server = await startControlServer(path, () => SNAPSHOT, quiet);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(await requestStatus(path), SNAPSHOT);
    const replies = (await talk(path, '{"cmd":"status"}\nnope\n{"cmd":"stop"}\n\n{"cmd":"status"}\n', 4)).map((l) =>
      JSON.parse(l),
    );
    assert.deepEqual(
      replies.map((r) => r.ok),
      [true, false, false, true],
    );
    assert.match(replies[1].error, /one JSON object per line/);
    assert.match(replies[2].error, /unknown command "stop"/);
    const [tooLong] = await talk(path, 'x'.repeat(10_000), 1);
    assert.match(JSON.parse(tooLong!).error, /longer than 4096 bytes/);
    server.close();
    assert.equal(existsSync(path), false);
    assert.deepEqual(readdirSync(dir), [], 'no temporary directory left behind');
  });

  it('moves, and on close leaves alone a socket another server put at its path', async () => {
    const first = join(dir, 'b.2.sock');
    const final = join(dir, 'b.sock');
    const server = await startControlServer(first, () => SNAPSHOT, quiet);
    server.moveTo(final);
    assert.equal(existsSync(first), false);
    assert.equal((await requestStatus(final)).pid, 100);
    await assert.rejects(
      startControlServer(final, () => SNAPSHOT, quiet),
      /is in use by another running process/,
    );
    rmSync(final);
    const other = await startControlServer(final, () => ({ ...SNAPSHOT, pid: 200 }), quiet);
    server.close();
    assert.equal((await requestStatus(final)).pid, 200, 'the newer socket survives');
    other.close();
  });

  it('names the socket after the pidfile the master holds', () => {
    assert.equal(controlSocketPath(null, '/run/app.pid'), '/run/app.pid.sock');
    assert.equal(controlSocketPath(null, '/run/app.pid', true), '/run/app.pid.2.sock');
    assert.equal(controlSocketPath('/run/ctl', '/run/app.pid', true), '/run/ctl.2');
    assert.equal(controlSocketPath(null, null), null);
  });
});

describe('status table', () => {
  it('formats uptimes with the two largest units', () => {
    assert.deepEqual([0, 999, 45_000, 192_000, 3_725_000, 3 * 86_400_000 + 4 * 3_600_000].map(formatUptime), [
      '0s',
      '0s',
      '45s',
      '3m 12s',
      '1h 2m',
      '3d 4h',
    ]);
  });

  it('prints the master row, the listeners and one aligned row per worker', () => {
    assert.equal(
      formatStatus(SNAPSHOT),
      [
        'MASTER  NAME    APP     GEN  STATE    UPTIME  RSS MiB  WORKERS  RESTARTS  LAG p99 ms',
        '100     tsgund  app.js    3  running   1h 2m     50.0      1/2         1         1.0',
        'listening on http://127.0.0.1:8000, unix:/run/app.sock',
        '',
        'WORKER  GEN  STATE    UPTIME  REQUESTS  ACCEPTED  RSS MiB  HEAP MiB  LAG p99 ms  ELU %',
        '101       3  booting      0s         0         0        -         -           -      -',
        '102       3  ready     1m 1s     12345       300     40.0      12.0        12.3     13',
        '',
      ].join('\n'),
    );
  });
});
