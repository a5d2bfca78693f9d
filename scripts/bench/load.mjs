// A small closed-loop HTTP load generator for the benchmark scripts, the same
// shape as spec/support/load.ts: `keepAlive` loops reuse connections through a
// keep-alive agent, `fresh` loops open a new connection per request
// (Connection: close). A non-200 answer or a socket error is a failure. It runs
// in the calling process: never block its event loop (no spawnSync) meanwhile.

import http from 'node:http';

export class Load {
  constructor(url, { keepAlive = 8, fresh = 4, path = '/pid' } = {}) {
    this.running = true;
    this.ok = 0;
    this.failed = 0;
    /** error kind -> count */
    this.errors = new Map();
    /** bodies of successful answers (worker pids for /pid) */
    this.bodies = new Set();
    this.agent = new http.Agent({ keepAlive: true, maxSockets: keepAlive });
    const target = url + path;
    this.loops = [];
    for (let i = 0; i < keepAlive; i++) this.loops.push(this.loop(target, { agent: this.agent }));
    for (let i = 0; i < fresh; i++)
      this.loops.push(this.loop(target, { agent: false, headers: { connection: 'close' } }));
  }

  async loop(target, opts) {
    while (this.running) {
      await new Promise((done) => {
        const req = http.get(target, { ...opts, timeout: 10_000 }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (body += d));
          res.on('end', () => {
            if (res.statusCode === 200) {
              this.ok++;
              this.bodies.add(body.trim());
            } else this.fail(`HTTP ${res.statusCode}`);
            done();
          });
          res.on('error', (e) => {
            this.fail(e.code ?? e.message);
            done();
          });
        });
        req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
        // pause after an error so that a dead server does not make the loop spin
        req.on('error', (e) => {
          this.fail(e.code ?? e.message);
          setTimeout(done, 10);
        });
      });
    }
  }

  fail(kind) {
    this.failed++;
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
  }

  /** Resolves once `n` more requests have succeeded; rejects after `timeoutMs`. */
  async flowing(n = 50, timeoutMs = 10_000) {
    const target = this.ok + n;
    for (const end = Date.now() + timeoutMs; this.ok < target; await new Promise((r) => setTimeout(r, 10))) {
      if (Date.now() > end)
        throw new Error(`load not flowing: ${this.ok} ok, ${this.failed} failed (${this.describeErrors()})`);
    }
  }

  snapshot() {
    return { ok: this.ok, failed: this.failed };
  }

  describeErrors() {
    return [...this.errors].map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  }

  async stop() {
    this.running = false;
    await Promise.all(this.loops);
    this.agent.destroy();
    return this;
  }
}
