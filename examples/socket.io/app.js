// socket.io chat-style echo for tsgund. The module exports the http.Server
// socket.io is attached to; tsgund listens it on the master's sockets.
//
// socket.io's default transports start with HTTP long-polling, which needs
// every request of a session on one worker: run it with sticky placement,
// which sends each client (by its address) to one worker. Without it, clients
// must use the websocket transport only: io(url, { transports: ['websocket'] }).
// Either way, broadcasting across workers needs an adapter
// (@socket.io/redis-adapter, say).
//
//   npm install --prefix examples/socket.io
//   npx tsgund start examples/socket.io/app.js -w 4 --sticky ip -b 127.0.0.1:8000
//   client: io('http://127.0.0.1:8000')

import http from 'node:http';
import { Server } from 'socket.io';

const server = http.createServer();
const io = new Server(server);

io.on('connection', (socket) => {
  socket.on('echo', (msg, ack) => ack({ msg, pid: process.pid }));
});

// On reload or stop, close each client's connection: socket.io clients treat
// that as a lost transport ('transport close') and reconnect, to a worker of
// the new generation. (io.disconnectSockets() would tell them that the server
// ended the session on purpose, 'io server disconnect', and they would stay
// disconnected.)
process.on('tsgund:drain', () => {
  for (const conn of Object.values(io.engine.clients)) conn.close();
});

export default server;
