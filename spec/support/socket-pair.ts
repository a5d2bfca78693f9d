// A connected pair of UNIX sockets for the descriptor hand-over specs.
import net from 'node:net';
import { join } from 'node:path';

/** A connected pair of UNIX sockets: `master` sends, `worker` (never read by libuv) receives. */
export async function socketPair(dir: string): Promise<{ master: net.Socket; worker: net.Socket }> {
  const path = join(dir, `s${Math.random()}`);
  const accepted = new Promise<net.Socket>((resolve) => {
    const server = net.createServer({ pauseOnCreate: true } as net.ServerOpts, (s) => {
      server.close();
      resolve(s);
    });
    server.listen(path);
  });
  const master = net.connect(path);
  return { master, worker: await accepted };
}
