import type { Command } from 'commander';
import { requestStatus } from '../control/client.js';
import { ConfigError } from '../errors.js';
import type { StatusSnapshot } from '../protocol/status.js';
import { type TopSample, topFrame } from '../control/top-view.js';
import { controlSocketCandidates, masterNamed } from './find-master.js';
import { type MasterFlags, masterStatus } from './status-command.js';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const { readFileSync } = process.getBuiltinModule('node:fs');

interface TopFlags extends MasterFlags {
  once?: boolean;
  interval: string;
}

/** Linux reports utime and stime in USER_HZ ticks, 100 a second on every architecture's ABI. */
const TICK_MS = 10;

/** Each worker's CPU time in ms, from /proc (a worker that is gone, or unreadable, is left out). */
function cpuOf(status: StatusSnapshot): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const { pid } of status.workers) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpu.set(pid, (Number(fields[11]) + Number(fields[12])) * TICK_MS);
    } catch {
      // exited since the status was taken
    }
  }
  return cpu;
}

async function sample(opts: TopFlags): Promise<TopSample> {
  const status = await masterStatus(opts, 'top');
  return { at: performance.now(), status, cpuMs: cpuOf(status) };
}

function intervalOf(text: string): number {
  const s = Number(text);
  if (!(s >= 0.2 && s <= 3600))
    throw new ConfigError(`top: --interval is "${text}", expected seconds from 0.2 to 3600`);
  return s * 1000;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Plain text for scripts: with --once one frame (two readings an interval apart), else a frame per interval. */
async function plain(opts: TopFlags, everyMs: number): Promise<void> {
  let prev = await sample(opts);
  for (let first = true; ; first = false) {
    await sleep(everyMs);
    const now = await sample(opts);
    process.stdout.write(`${first ? '' : '\n'}${topFrame(now, prev).join('\n')}\n`);
    if (opts.once) return;
    prev = now;
  }
}

// Plain ANSI that any terminal over SSH understands: the alternate screen
// (so the shell's screen comes back on exit), cursor hidden, each frame
// drawn from the top left with every line and the rest of the screen cleared.
const ENTER = '\x1b[?1049h\x1b[?25l';
const LEAVE = '\x1b[?25h\x1b[?1049l';
const HOME = '\x1b[H';
const CLEAR_LINE = '\x1b[K';
const CLEAR_BELOW = '\x1b[J';

/** The live view: redrawn every interval and on resize, until q, Ctrl-C, or the master goes away. */
async function live(opts: TopFlags, everyMs: number): Promise<void> {
  const { stdin, stdout } = process;
  let prev: TopSample | null = null;
  let now = await sample(opts);
  const draw = () => {
    // a terminal that does not say its size (rows 0) gets every line
    const lines = topFrame(now, prev, stdout.columns || undefined).slice(
      0,
      stdout.rows > 1 ? stdout.rows - 1 : undefined,
    );
    stdout.write(`${HOME}${lines.map((l) => `${l}${CLEAR_LINE}`).join('\n')}\n${CLEAR_BELOW}`);
  };
  let stop: (err?: unknown) => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    stop = (err?: unknown) => (err ? reject(err) : resolve());
  });
  const onKey = (key: Buffer) => {
    // q, Q, Ctrl-C (raw mode delivers it as a byte, not SIGINT), Ctrl-D
    if ([0x71, 0x51, 0x03, 0x04].includes(key[0]!)) stop();
  };
  stdout.write(ENTER);
  const restore = () => stdout.write(LEAVE);
  process.once('exit', restore);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => stop());
  stdout.on('resize', draw);
  if (stdin.isTTY) {
    stdin.setRawMode(true);
    stdin.on('data', onKey);
  }
  const timer = setInterval(() => {
    sample(opts).then((next) => {
      [prev, now] = [now, next];
      draw();
    }, stop);
  }, everyMs);
  draw();
  try {
    await done;
  } finally {
    clearInterval(timer);
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.off('data', onKey);
    stdin.pause();
    stdout.off('resize', draw);
    restore();
    process.off('exit', restore);
  }
}

/** The control socket of the master named `name`: the candidate that answers a status request. */
async function controlSocketOf(name: string): Promise<string> {
  const pid = masterNamed(name);
  for (const path of controlSocketCandidates(pid)) {
    try {
      await requestStatus(path, 2000);
      return path;
    } catch {
      // a socket file of something else
    }
  }
  throw new ConfigError(
    `master ${pid} ('${name}') has no control socket beside a pidfile: use -p PIDFILE or --control-socket PATH`,
  );
}

/** `tsgund top`: a live view of the pool, from the control socket, like `status` refreshed. */
export function registerTop(program: Command): void {
  program
    .command('top [name]')
    .description(
      'a live view of the workers of the master named NAME (--name) or by -p (requests/s, event-loop delay, CPU, memory), refreshed; q quits',
    )
    .option('-p, --pid <file>', "the master's pidfile (the control socket is <file>.sock)")
    .option('--control-socket <path>', 'the control socket, when it is not <pidfile>.sock')
    .option('--once', 'print one plain-text frame (two readings an interval apart) and exit')
    .option('--interval <seconds>', 'seconds between refreshes', '1')
    .action(async (name: string | undefined, opts: TopFlags) => {
      const everyMs = intervalOf(opts.interval);
      if (name !== undefined && (opts.pid || opts.controlSocket))
        throw new ConfigError('top: give a NAME or -p PIDFILE (or --control-socket), not both');
      if (name !== undefined) opts.controlSocket = await controlSocketOf(name);
      if (opts.once || !process.stdout.isTTY) await plain(opts, everyMs);
      else await live(opts, everyMs);
    });
}
