// The scale bench's app: examples/hello.js as a CommonJS module, so that the
// leanest bare cluster (bare-cluster.cjs) can require() it, and every server
// of the bench serves the same module.
//   /      -> "hello from <pid>\n"
//   /pid   -> "<pid>\n"
//   /slow?ms=N -> waits N ms, then answers

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

module.exports = function hello(req, res) {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/pid') return send(res, 200, `${process.pid}\n`);
  if (url.pathname === '/slow') {
    const ms = Number.parseInt(url.searchParams.get('ms') ?? '', 10);
    if (!(ms >= 0)) return send(res, 400, 'usage: /slow?ms=N\n');
    const timer = setTimeout(() => send(res, 200, `slept ${ms} ms in ${process.pid}\n`), ms);
    res.on('close', () => clearTimeout(timer)); // client went away
    return;
  }
  send(res, 200, `hello from ${process.pid}\n`);
};
