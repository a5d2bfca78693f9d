// `tsgund top`'s frame, a pure function of two status readings.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StatusSnapshot, WorkerStatus } from '../../lib/protocol/status.js';
import { type TopSample, topFrame } from '../../lib/control/top-view.js';

const worker = (pid: number, requests: number, over: Partial<WorkerStatus> = {}): WorkerStatus => ({
  pid,
  id: pid - 100,
  generation: 2,
  state: 'ready',
  uptimeMs: 65_000,
  requests,
  accepted: 1,
  slot: pid - 101,
  bootMs: 90,
  rss: 64 * 1048576,
  runtime: {
    delayP50: 0.5,
    delayP99: 12.34,
    delayMax: 40,
    utilization: 0.25,
    heapUsed: 10 * 1048576,
    heapLimit: 4096 * 1048576,
    gcMs: 1,
    connections: 3,
  },
  ...over,
});

const status = (workers: WorkerStatus[], over: Partial<StatusSnapshot> = {}): StatusSnapshot => ({
  name: 'shop',
  pid: 100,
  app: 'app.js',
  generation: 2,
  targetWorkers: 2,
  state: 'running',
  uptimeMs: 3_600_000,
  rss: 50 * 1048576,
  loop: { delayP50: 0.1, delayP99: 1.25, delayMax: 3 },
  restarts: 1,
  listeners: [],
  logs: { errorlog: '-', accesslog: null },
  workers,
  ...over,
});

const sample = (at: number, s: StatusSnapshot, cpu: Array<[number, number]>): TopSample => ({
  at,
  status: s,
  cpuMs: new Map(cpu),
});

describe('tsgund top', () => {
  it('one row per worker with its rates over the interval, its delay, CPU and memory', () => {
    const prev = sample(1000, status([worker(101, 100), worker(102, 50)]), [
      [101, 1000],
      [102, 500],
    ]);
    const now = sample(3000, status([worker(101, 300), worker(102, 50, { runtime: undefined, state: 'booting' })]), [
      [101, 1500],
      [102, 500],
    ]);
    assert.deepEqual(topFrame(now, prev), [
      'shop  master 100  running  generation 2  workers 1/2  up 1h',
      'requests/s 100.0  restarts 1  master RSS 50.0 MiB  master lag p99 1.3 ms',
      '',
      'PID  GEN  STATE    REQ/S  LAG p99  LAG max  ELU %  CPU %  RSS MiB  HEAP MiB  CONNS  UPTIME',
      '101    2  ready    100.0     12.3     40.0     25   25.0     64.0      10.0      3   1m 5s',
      '102    2  booting    0.0        -        -      -    0.0     64.0         -      -   1m 5s',
    ]);
  });

  it('without an earlier reading no rates; the last stuck worker below; lines cut to the width', () => {
    const hang = { pid: 7, generation: 1, slot: 0, at: '2026-12-07T10:00:00.000Z', stuckMs: 2500, more: 0 };
    const s = status([worker(101, 5)], {
      hangs: [{ ...hang, frames: [{ fn: 'spinForever', file: '/srv/app.js', line: 6, column: 3 }] }],
    });
    const lines = topFrame(sample(0, s, []), null);
    assert.match(lines[1]!, /^requests\/s - /);
    assert.match(lines[4]!, /^101 +2 +ready +- +12\.3 +40\.0 +25 +- +64\.0/);
    assert.equal(
      lines.at(-1),
      'last stuck worker: 7 at 2026-12-07T10:00:00.000Z, 2.5 s in spinForever (/srv/app.js:6:3)',
    );
    assert.ok(topFrame(sample(0, s, []), null, 20).every((l) => l.length <= 20));
  });

  it('says so when there are no workers', () => {
    assert.equal(topFrame(sample(0, status([]), []), null).at(-1), 'no workers');
  });
});
