// Each worker's runtime health (event-loop delay and utilisation, heap, GC,
// connections), sent with its heartbeats: in `status --json` and /metrics.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { StatusSnapshot } from '../../lib/protocol/status.js';
import { cli } from '../support/exec.js';
import { FIXTURES, cleanup, freePort, request, startServer, tempDir, waitFor } from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

async function status(pidfile: string): Promise<StatusSnapshot> {
  const done = await cli(['status', '-p', pidfile, '--json']);
  assert.equal(done.code, 0, done.stderr);
  return JSON.parse(done.stdout) as StatusSnapshot;
}

describe('runtime metrics', () => {
  it("a worker's blocked event loop shows in its delay, in status --json and /metrics", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const pidfile = join(dir, 'app.pid');
    const stats = await freePort();
    const app = join(FIXTURES, 'blocking-app.js');
    // a 5 s timeout: an idle worker beats every 1.5 s (every 14 s at the default 30 s), so a block shows soon
    const { url } = await startServer(['-w', '1', '-t', '5', '-p', pidfile, '--stats-bind', `127.0.0.1:${stats}`], {
      app,
    });
    const s = await waitFor(async () => {
      const now = await status(pidfile);
      return now.workers[0]?.runtime ? now : null;
    }, 'a runtime sample in the status');
    const w = s.workers[0]!;
    const r = w.runtime!;
    assert.ok(r.heapUsed > 0 && r.heapLimit > r.heapUsed, JSON.stringify(r));
    assert.ok(r.utilization >= 0 && r.utilization <= 1 && r.gcMs >= 0 && r.connections >= 0, JSON.stringify(r));
    assert.ok(r.delayP50 <= r.delayP99 && r.delayP99 <= r.delayMax, JSON.stringify(r));

    const labels = `slot="0",generation="1",pid="${w.pid}"`;
    const gauge = (text: string, name: string): number | null => {
      const m = new RegExp(`^tsgund_worker_${name}\\{${labels}\\} ([\\d.e+-]+)$`, 'm').exec(text);
      return m ? Number(m[1]) : null;
    };
    let metrics = (await request(`http://127.0.0.1:${stats}/metrics`)).body;
    for (const name of [
      'eventloop_lag_p50_seconds',
      'eventloop_lag_p99_seconds',
      'eventloop_lag_max_seconds',
      'eventloop_utilization',
      'heap_used_bytes',
      'heap_limit_bytes',
      'gc_pause_seconds',
      'open_connections',
    ])
      assert.notEqual(gauge(metrics, name), null, `${name} in:\n${metrics}`);
    // a 1 s block shows in the heartbeat after it, until the next one: on a loaded machine a scrape may
    // come after that, so block again until one scrape saw it
    const seen = async (): Promise<boolean> => {
      metrics = (await request(`http://127.0.0.1:${stats}/metrics`)).body;
      return (gauge(metrics, 'eventloop_lag_max_seconds') ?? 0) >= 0.5;
    };
    let shown = false;
    for (let blocks = 0; blocks < 4 && !shown; blocks++) {
      assert.equal((await request(`${url}/block?s=1`)).status, 200);
      shown = await waitFor(seen, 'a scrape', 4000).catch(() => false);
    }
    assert.ok(shown, `an event-loop delay of 0.5 s or more after a 1 s block, in:\n${metrics}`);
    // the master's own delay, from the second status request on
    assert.ok((await status(pidfile)).loop, 'the master reports its own event-loop delay');
  });
});
