// The leanest bare node:cluster, the scale bench's yardstick: a CommonJS
// primary and CommonJS workers that require() a CommonJS app, every worker
// accepting on the one shared socket (SCHED_NONE, no master hop). Nothing
// else loads: no ES module loader, no import() of the app.
//
//   WORKERS=32 PORT=8000 node scripts/bench/bare-cluster.cjs scripts/bench/hello.cjs
//
// Env: WORKERS (default 2), PORT (default 8000), HOST (default 127.0.0.1).
// The primary prints `all N workers listening` once every worker listens.

const cluster = require('node:cluster');
const http = require('node:http');
const path = require('node:path');

const file = process.argv[2] ?? 'scripts/bench/hello.cjs';
const port = Number(process.env.PORT ?? 8000);
const host = process.env.HOST ?? '127.0.0.1';
const workers = Number(process.env.WORKERS ?? 2);

if (cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  let stopping = false;
  for (let i = 0; i < workers; i++) cluster.fork();
  const listening = new Set();
  cluster.on('listening', (worker) => {
    listening.add(worker.id);
    if (listening.size === workers) console.error(`[${process.pid}] all ${workers} workers listening`);
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers).length === 0) process.exit(0);
      return;
    }
    if (!listening.has(worker.id)) {
      console.error(`[${process.pid}] worker ${worker.process.pid} failed to start (${signal ?? code}), giving up`);
      process.exit(1);
    }
    cluster.fork();
  });
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
      stopping = true;
      for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
      setTimeout(() => process.exit(0), 3000).unref();
    });
  }
} else {
  const exported = require(path.resolve(file));
  const app = typeof exported === 'function' ? exported : exported.default;
  const server = http.createServer(app);
  server.listen(port, host);
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
