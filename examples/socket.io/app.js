// socket.io chat-style echo for tsgund. The module exports the http.Server
// socket.io is attached to; tsgund listens it on the master's sockets.
//
// Several workers accept on the same socket, so a client's requests land on
// any worker: socket.io's HTTP long-polling (which needs every request of a
// session on one process) does not work across workers. Use the websocket
// transport only, as below, and an adapter (@socket.io/redis-adapter, say)
// to broadcast across workers.
//
//   npm install --prefix examples/socket.io
//   npx tsgund start examples/socket.io/app.js -w 2 -b 127.0.0.1:8000
//   client: io('http://127.0.0.1:8000', { transports: ['websocket'] })

import http from 'node:http';
import { Server } from 'socket.io';

const server = http.createServer();
const io = new Server(server, { transports: ['websocket'] });

io.on('connection', (socket) => {
  socket.on('echo', (msg, ack) => ack({ msg, pid: process.pid }));
});

// on reload or stop: disconnect clients so they reconnect to the new workers
process.on('tsgund:drain', () => io.disconnectSockets(true));

export default server;
