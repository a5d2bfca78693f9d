// Express app for tsgund. An Express app is itself a (req, res) request
// listener, so it is exported as is.
//
//   npm install --prefix examples/express
//   npx tsgund start examples/express/app.js -w 2 -b 127.0.0.1:8000

import express from 'express';

const app = express();

app.get('/', (_req, res) => {
  res.type('text/plain').send(`hello from express in ${process.pid}\n`);
});

app.get('/pid', (_req, res) => {
  res.type('text/plain').send(`${process.pid}\n`);
});

app.get('/slow', (req, res) => {
  const ms = Math.max(0, Number(req.query.ms) || 0);
  setTimeout(() => res.type('text/plain').send(`slept ${ms} ms in ${process.pid}\n`), ms);
});

export default app;
