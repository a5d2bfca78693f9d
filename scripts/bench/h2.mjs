#!/usr/bin/env node
// HTTP/2 requests per second, side by side in one run, over TLS with h2load:
//   tsgund   --http2 --certfile/--keyfile, serving a compatibility-API handler
//   cluster  a bare node:cluster http2.createSecureServer({ allowHTTP1: true })
//            with the same handler and the same TLS and HTTP/2 settings (the limit)
//   nginx    `http2` on, returning the same body (if nginx is installed)
// Each round runs every server once, in turn; the medians of the rounds and
// the ratios are printed, as JSON with --json: requests per second, and CPU
// time per request of each server's process tree, which a machine shared
// with other work moves less.
//
//   node scripts/bench/h2.mjs [--workers 2] [--rounds 3] [--requests 40000] [--clients 50] [--streams 10] [--json]
//
// Needs h2load (Debian: nghttp2-client) and openssl; nginx is optional.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from './ports.mjs';
import { writeSection } from './results-page.mjs';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BODY = 'hello world\n';
const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    requests: { type: 'string', default: '40000' },
    clients: { type: 'string', default: '50' },
    streams: { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
  },
});
const workers = Number(values.workers);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsgund-h2-bench-'));
const started = new Set();
const log = (m) => values.json || console.error(m);

function stopAll() {
  for (const child of started) {
    try {
      process.kill(child.pid, 'SIGTERM');
    } catch {}
  }
  started.clear();
}
process.on('exit', () => {
  stopAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

function need(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function files() {
  const cert = path.join(tmp, 'cert.pem');
  const key = path.join(tmp, 'key.pem');
  const cnf = path.join(tmp, 'openssl.cnf');
  fs.writeFileSync(cnf, '[req]\ndistinguished_name = dn\n[dn]\n');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-days',
      '1',
      '-keyout',
      key,
      '-out',
      cert,
      '-config',
      cnf,
    ],
    { stdio: 'ignore' },
  );
  const handler = `export default function handler(req, res) {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': ${BODY.length} });
  res.end(${JSON.stringify(BODY)});
}\n`;
  fs.writeFileSync(path.join(tmp, 'app.mjs'), handler);
  // the options tsgund gives its server with the default settings (lib/worker/h2-server.ts)
  const cluster = `import cluster from 'node:cluster';
import fs from 'node:fs';
import http2 from 'node:http2';
import handler from './app.mjs';
cluster.schedulingPolicy = cluster.SCHED_NONE;
if (cluster.isPrimary) {
  for (let i = 0; i < ${workers}; i++) cluster.fork();
  process.on('SIGTERM', () => { for (const w of Object.values(cluster.workers)) w.kill(); process.exit(0); });
} else {
  http2.createSecureServer({
    cert: fs.readFileSync(${JSON.stringify(cert)}), key: fs.readFileSync(${JSON.stringify(key)}), allowHTTP1: true,
    maxSessionInvalidFrames: 100, streamResetBurst: 1000, streamResetRate: 33, maxHeaderListPairs: 104,
    settings: { maxConcurrentStreams: 100, maxHeaderListSize: 8190 + 32 * 104, enableConnectProtocol: false },
  }, handler).listen(Number(process.env.PORT), '127.0.0.1');
}\n`;
  fs.writeFileSync(path.join(tmp, 'cluster.mjs'), cluster);
  return { cert, key };
}

function nginxConf(port, { cert, key }) {
  const prefix = path.join(tmp, 'nginx');
  fs.mkdirSync(path.join(prefix, 'logs'), { recursive: true });
  const conf = path.join(prefix, 'nginx.conf');
  // nginx before 1.25.1 spells `http2 on` as a listen parameter
  const version = spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr;
  const [maj, min, pat] = (/nginx\/(\d+)\.(\d+)\.(\d+)/.exec(version) ?? [0, 0, 0, 0]).slice(1).map(Number);
  const modern = maj > 1 || min > 25 || (min === 25 && pat >= 1);
  fs.writeFileSync(
    conf,
    `daemon off; master_process on; worker_processes ${workers};
pid ${prefix}/nginx.pid; error_log ${prefix}/logs/error.log error;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:${port} ssl${modern ? '' : ' http2'};
    ${modern ? 'http2 on;' : ''}
    ssl_certificate ${cert}; ssl_certificate_key ${key};
    location / { default_type text/plain; return 200 ${JSON.stringify(BODY)}; }
  }
}\n`,
  );
  return { prefix, conf };
}

function start(name, cmd, args, env = {}) {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  started.add(child);
  child.on('exit', () => started.delete(child));
  return { name, child, err: () => err };
}

async function stop(server) {
  if (server.child.exitCode !== null) return;
  const gone = new Promise((r) => server.child.once('exit', r));
  process.kill(server.child.pid, 'SIGTERM');
  await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
  if (server.child.exitCode === null) process.kill(server.child.pid, 'SIGKILL');
}

function h2load(port, args = ['-n', values.requests, '-c', values.clients, '-m', values.streams]) {
  const out = spawnSync('h2load', [...args, `https://127.0.0.1:${port}/`], { encoding: 'utf8' }).stdout;
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1] ?? NaN);
  const failed = Number(
    /requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed/.exec(out)?.[1] ?? NaN,
  );
  return { rps, failed };
}

async function ready(port) {
  for (let i = 0; i < 200; i++) {
    if (h2load(port, ['-n', '10', '-c', '1']).rps > 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing answers h2 on port ${port}`);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** CPU time (user + system, ms) of `pid` and every process under it: on a shared machine a fairer count than req/s. */
function treeCpuMs(pid) {
  const stats = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(d), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    } catch {}
  }
  let ticks = 0;
  const walk = (p) => {
    ticks += stats.get(p)?.ticks ?? 0;
    for (const [child, s] of stats) if (s.ppid === p) walk(child);
  };
  walk(pid);
  return (ticks * 1000) / TICKS_PER_SECOND;
}

async function main() {
  if (!need('h2load')) throw new Error('h2load not found (Debian: apt-get install nghttp2-client)');
  const pair = files();
  const servers = {
    tsgund: (port) =>
      start('tsgund', process.execPath, [
        path.join(ROOT, 'dist/lib/cli/main.js'),
        'start',
        path.join(tmp, 'app.mjs'),
        '--http2',
        '--certfile',
        pair.cert,
        '--keyfile',
        pair.key,
        '-w',
        String(workers),
        '-b',
        `127.0.0.1:${port}`,
      ]),
    cluster: (port) => start('cluster', process.execPath, [path.join(tmp, 'cluster.mjs')], { PORT: String(port) }),
  };
  if (need('nginx')) {
    servers.nginx = (port) => {
      const { prefix, conf } = nginxConf(port, pair);
      return start('nginx', 'nginx', ['-p', prefix, '-c', conf]);
    };
  } else log('nginx not found: skipped');
  const results = Object.fromEntries(Object.keys(servers).map((k) => [k, []]));
  const cpu = Object.fromEntries(Object.keys(servers).map((k) => [k, []]));
  const failed = Object.fromEntries(Object.keys(servers).map((k) => [k, 0]));
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const [name, startOne] of Object.entries(servers)) {
      const port = await freePort();
      const server = startOne(port);
      try {
        await ready(port);
        h2load(port, ['-n', '2000', '-c', values.clients, '-m', values.streams]); // warm-up
        const cpu0 = treeCpuMs(server.child.pid);
        const r = h2load(port);
        const msPer1k = ((treeCpuMs(server.child.pid) - cpu0) * 1000) / Number(values.requests);
        results[name].push(r.rps);
        cpu[name].push(msPer1k);
        failed[name] += r.failed;
        log(
          `round ${round} ${name}: ${r.rps} req/s, ${msPer1k.toFixed(1)} CPU ms per 1000 requests, ${r.failed} failed`,
        );
      } finally {
        await stop(server);
      }
    }
  }
  const medians = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
  const summary = {
    workers,
    rounds: Number(values.rounds),
    load: `h2load -n ${values.requests} -c ${values.clients} -m ${values.streams}`,
    medianRps: medians,
    medianCpuMsPer1k: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, Number(median(v).toFixed(1))])),
    failed,
    tsgundVsCluster: Number((medians.tsgund / medians.cluster).toFixed(3)),
    // the median of each round's ratio: the two ran a few seconds apart, under much the same load
    tsgundVsClusterPerRound: Number(median(results.tsgund.map((r, i) => r / results.cluster[i])).toFixed(3)),
    // the same ratio in CPU time per request (cluster's over tsgund's), which sharing the machine moves less
    tsgundVsClusterCpu: Number((median(cpu.cluster) / median(cpu.tsgund)).toFixed(3)),
    tsgundVsNginx: medians.nginx ? Number((medians.tsgund / medians.nginx).toFixed(3)) : null,
    // on a shared machine the numbers mean little: say how busy it was
    loadAverage: os.loadavg()[0].toFixed(1),
  };
  console.log(values.json ? JSON.stringify(summary) : JSON.stringify(summary, null, 2));
  const page = writeSection('h2', table(summary));
  if (page) log(`wrote the h2 section of ${page}`);
}

/** The results page's h2 section: one row per server, medians and the ratio to the bare cluster. */
function table(s) {
  const names = { tsgund: 'tsgund --http2', cluster: 'bare node:cluster http2', nginx: 'nginx http2' };
  const rows = Object.entries(s.medianRps).map(
    ([k, rps]) =>
      `| ${names[k]} | ${Math.round(rps)} | ${(rps / s.medianRps.cluster).toFixed(2)}× | ${s.medianCpuMsPer1k[k]} | ${s.failed[k]} |`,
  );
  return [
    `HTTP/2 over TLS, ${s.workers} workers, \`${s.load}\`, median of ${s.rounds} rounds (\`node scripts/bench/h2.mjs\`); load average ${s.loadAverage} at the end.`,
    '',
    '| server | requests/s | vs bare cluster | CPU ms per 1000 requests | failed |',
    '|---|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

await main();
