// One-process HTTP server for the benchmark baseline.
//
//   PORT=8000 node scripts/bench/single.mjs examples/hello.js
//
// Env: PORT (default 8000), HOST (default 127.0.0.1). The app module's default
// export is used as the (req, res) request listener. Also used as the PM2
// cluster-mode script (PM2 patches listen() to share the port).
//
// On SIGTERM/SIGINT it closes every connection at once; with GRACEFUL=1 it
// does what PM2's graceful-shutdown docs suggest instead: server.close() and
// exit when it is done (idle keep-alive sockets are closed by close() since
// Node 19, busy ones finish their request), which reload.mjs uses for PM2.

import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const file = process.argv[2] ?? 'examples/hello.js';
const port = Number(process.env.PORT ?? 8000);
const host = process.env.HOST ?? '127.0.0.1';

const { default: app } = await import(pathToFileURL(path.resolve(file)).href);
if (typeof app !== 'function') throw new TypeError(`${file}: default export is not a request listener`);

const server = http.createServer(app);
server.listen(port, host, () => console.error(`[${process.pid}] single: ${file} on http://${host}:${port}`));

const graceful = process.env.GRACEFUL === '1';
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    if (!graceful) server.closeAllConnections();
  });
}
