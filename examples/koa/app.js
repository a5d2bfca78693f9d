// Koa app for tsgund. The Koa instance is exported; tsgund sees its
// callback() method and serves app.callback() as the request listener.
//
//   npm install --prefix examples/koa
//   npx tsgund start examples/koa/app.js -w 2 -b 127.0.0.1:8000

import Koa from 'koa';
import { setTimeout as sleep } from 'node:timers/promises';

const app = new Koa();

app.use(async (ctx) => {
  ctx.type = 'text/plain';
  switch (ctx.path) {
    case '/pid':
      ctx.body = `${process.pid}\n`;
      return;
    case '/slow': {
      const ms = Math.max(0, Number(ctx.query.ms) || 0);
      await sleep(ms);
      ctx.body = `slept ${ms} ms in ${process.pid}\n`;
      return;
    }
    default:
      ctx.body = `hello from koa in ${process.pid}\n`;
  }
});

export default app;
