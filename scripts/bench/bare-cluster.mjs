// Bare node:cluster server for comparison, in either scheduling mode:
//   SCHED=rr    Node's default on Linux: the primary accepts and hands each
//               connection to a worker over IPC
//   SCHED=none  every worker accepts on the one shared socket, no master hop
//               (the physical limit for a supervisor that shares one socket)
//
//   WORKERS=2 PORT=8000 SCHED=none node scripts/bench/bare-cluster.mjs examples/hello.js
//
// Env: WORKERS (default 2), PORT (default 8000), HOST (default 127.0.0.1),
// SCHED (rr or none, default rr).

import cluster from 'node:cluster';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const file = process.argv[2] ?? 'examples/hello.js';
const port = Number(process.env.PORT ?? 8000);
const host = process.env.HOST ?? '127.0.0.1';
const workers = Number(process.env.WORKERS ?? 2);

if (cluster.isPrimary) {
  const sched = process.env.SCHED ?? 'rr';
  if (sched !== 'rr' && sched !== 'none') throw new Error(`SCHED: '${sched}' is not rr or none`);
  cluster.schedulingPolicy = sched === 'none' ? cluster.SCHED_NONE : cluster.SCHED_RR;
  let stopping = false;
  for (let i = 0; i < workers; i++) cluster.fork();
  const listening = new Set();
  cluster.on('listening', (worker) => {
    listening.add(worker.id);
    // once, at start (replacements add ids beyond the count): scale.mjs times start-up by this line
    if (listening.size === workers) console.error(`[${process.pid}] all ${workers} workers listening`);
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers).length === 0) process.exit(0);
      return;
    }
    if (!listening.has(worker.id)) {
      console.error(`[${process.pid}] worker ${worker.process.pid} failed to start (${signal ?? code}), giving up`);
      process.exit(1); // cluster workers exit when the IPC channel closes
    }
    console.error(`[${process.pid}] worker ${worker.process.pid} died (${signal ?? code}), restarting`);
    cluster.fork();
  });
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
      stopping = true;
      for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
      setTimeout(() => process.exit(0), 3000).unref();
    });
  }
  console.error(`[${process.pid}] bare-cluster (${sched}): ${workers} workers, ${file} on http://${host}:${port}`);
} else {
  const { default: app } = await import(pathToFileURL(path.resolve(file)).href);
  if (typeof app !== 'function') throw new TypeError(`${file}: default export is not a request listener`);
  const server = http.createServer(app);
  server.listen(port, host);
  process.on('SIGINT', () => {}); // the primary decides (terminal Ctrl-C hits the whole group)
  process.on('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
