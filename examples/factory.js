// An async factory: the default export takes no parameters and resolves to a
// request listener once its (simulated) async initialisation is done, e.g.
// opening a database pool or reading secrets. tsgund awaits it in each worker
// before reporting ready.
//
//   npx tsgund start examples/factory.js -w 2 -b 127.0.0.1:8000

import { setTimeout as sleep } from 'node:timers/promises';

export default async function createApp() {
  const startedAt = Date.now();
  await sleep(100); // pretend to connect to something
  const config = { greeting: 'hello from factory', initMs: Date.now() - startedAt };

  return function handler(_req, res) {
    const body = `${config.greeting} in ${process.pid} (init took ${config.initMs} ms)\n`;
    res.writeHead(200, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };
}
