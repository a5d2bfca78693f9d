// Plain node:http request listener: the smallest app tsgund can serve.
//
//   npx tsgund start examples/hello.js -w 2 -b 127.0.0.1:8000
//
// Routes:
//   /              -> "hello from <pid>\n"
//   /pid           -> "<pid>\n"
//   /slow?ms=N     -> waits N ms, then answers (for drain/graceful-shutdown tests)
//   /size?bytes=N  -> N bytes of 'x' (for benchmarks)

const MAX_BYTES = 64 * 1024 * 1024;
const chunk = Buffer.alloc(64 * 1024, 'x');

function send(res, status, body) {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function intParam(url, name) {
  const n = Number.parseInt(url.searchParams.get(name) ?? '', 10);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

function sendBytes(res, n) {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': n });
  if (n <= chunk.length) return res.end(chunk.subarray(0, n));
  let left = n;
  const pump = () => {
    while (left > 0) {
      const part = chunk.subarray(0, Math.min(left, chunk.length));
      left -= part.length;
      if (left === 0) return res.end(part);
      if (!res.write(part)) return res.once('drain', pump);
    }
  };
  pump();
}

export default function hello(req, res) {
  const url = new URL(req.url ?? '/', 'http://localhost');
  switch (url.pathname) {
    case '/pid':
      return send(res, 200, `${process.pid}\n`);
    case '/slow': {
      const ms = intParam(url, 'ms');
      if (ms === null) return send(res, 400, 'usage: /slow?ms=N\n');
      const timer = setTimeout(() => send(res, 200, `slept ${ms} ms in ${process.pid}\n`), ms);
      res.on('close', () => clearTimeout(timer)); // client went away
      return;
    }
    case '/size': {
      const bytes = intParam(url, 'bytes');
      if (bytes === null || bytes > MAX_BYTES) return send(res, 400, `usage: /size?bytes=N (N <= ${MAX_BYTES})\n`);
      return sendBytes(res, bytes);
    }
    default:
      return send(res, 200, `hello from ${process.pid}\n`);
  }
}
