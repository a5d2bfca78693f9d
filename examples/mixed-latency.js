// A mixed-latency app: most requests answer at once, a few are expensive.
// It shows how a supervisor spreads uneven work over its workers: with one
// shared socket, an idle worker accepts the next connection; with reusePort,
// the kernel assigns connections by hash, whatever each worker is busy with.
//
//   npx tsgund start examples/mixed-latency.js -w 2 -b 127.0.0.1:8000
//   wrk -t2 -c64 -d10s --latency 'http://127.0.0.1:8000/mixed'
//
// Routes:
//   /mixed?slow=0.1&ms=20  -> a share `slow` (default 0.1) of the requests keeps
//                             the CPU busy for `ms` (default 20) before answering,
//                             as a template render or a large JSON would
//   anything else          -> as examples/hello.js

import hello from './hello.js';

const number = (url, name, fallback) => {
  const n = Number(url.searchParams.get(name) ?? fallback);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
};

function busy(ms) {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // burn CPU: an expensive request blocks its worker
  }
}

export default function mixedLatency(req, res) {
  if (!req.url?.startsWith('/mixed')) return hello(req, res);
  const url = new URL(req.url, 'http://localhost');
  const slow = Math.random() < number(url, 'slow', 0.1);
  if (slow) busy(number(url, 'ms', 20));
  const body = `${slow ? 'slow' : 'fast'} from ${process.pid}\n`;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
