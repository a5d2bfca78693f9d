// Fastify app for tsgund. The fastify instance is exported without calling
// listen(): tsgund awaits ready() in each worker, then listens the instance's
// own server (app.server) on the sockets the master owns, so plugins that use
// server events (@fastify/websocket) work, and calls app.close() when the
// worker stops, so onClose hooks run.
//
//   npm install --prefix examples/fastify
//   npx tsgund start examples/fastify/app.js -w 2 -b 127.0.0.1:8000

import Fastify from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';

const app = Fastify({ logger: false });

app.get('/', async (_request, reply) => {
  reply.type('text/plain');
  return `hello from fastify in ${process.pid}\n`;
});

app.get('/pid', async (_request, reply) => {
  reply.type('text/plain');
  return `${process.pid}\n`;
});

app.get('/slow', async (request, reply) => {
  const ms = Math.max(0, Number(request.query.ms) || 0);
  await sleep(ms);
  reply.type('text/plain');
  return `slept ${ms} ms in ${process.pid}\n`;
});

export default app;
