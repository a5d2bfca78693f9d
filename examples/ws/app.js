// WebSocket echo server for tsgund. The module exports an http.Server that is
// not listening: tsgund listens it on the sockets the master owns, so the
// server's 'upgrade' event reaches ws. On a reload or stop tsgund emits
// 'tsgund:drain' on process; the app closes its WebSockets with 1001 (going
// away) so clients reconnect to the new workers.
//
//   npm install --prefix examples/ws
//   npx tsgund start examples/ws/app.js -w 2 -b 127.0.0.1:8000

import http from 'node:http';
import { WebSocketServer } from 'ws';

const server = http.createServer((_req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(`websocket echo in ${process.pid}\n`);
});

const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

process.on('tsgund:drain', () => {
  for (const ws of wss.clients) ws.close(1001, 'server restarting');
});

export default server;
