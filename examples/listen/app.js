// An Express app written for `node app.js` or PM2: it calls listen() itself
// and exports nothing. tsgund sets PORT to the port of its first TCP bind and
// serves a listen() on a bind's port from the sockets the master owns, so this
// file runs unchanged under tsgund, with as many workers as you like.
//
//   npm install --prefix examples/listen
//   npx tsgund start examples/listen/app.js -w 2 -b 127.0.0.1:8000

import express from 'express';

const app = express();

app.get('/', (_req, res) => {
  res.type('text/plain').send(`hello from ${process.pid}\n`);
});

const port = process.env.PORT || 3000;
app.listen(port, () => console.log(`listening on ${port}`));
