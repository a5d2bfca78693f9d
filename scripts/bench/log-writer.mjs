// The log file writer on its own: throughput, peak RSS, and lines lost at exit
// and across a rotation, each measured in a fresh child process.
//
//   node scripts/bench/log-writer.mjs                 # this checkout's build (npx tsc)
//   DIST=/path/to/other/dist node scripts/bench/log-writer.mjs
//
// DIST may point at the build of another checkout, LABEL names it in the
// table: its writer is used through whichever API it has (LineFile, or the
// earlier ReopenableFile), so two writers can be compared on one machine.
//
// Env knobs: LINES (default 500000) lines of about 130 bytes, written 100 per
// event-loop turn as a busy worker would; RUNS (default 3), the median is shown.
// Prints a Markdown table to stdout; files go to a temp dir that is removed.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DIST = path.resolve(process.env.DIST ?? path.join(root, 'dist'));
const LINES = Number(process.env.LINES ?? 500_000);
const RUNS = Number(process.env.RUNS ?? 3);

const lineFile = path.join(DIST, 'lib/log/line-file.js');
const writerModule = fs.existsSync(lineFile) ? lineFile : path.join(DIST, 'lib/log/reopenable-file-transport.js');
const writerName = process.env.LABEL ?? path.relative(process.cwd(), DIST);

// Runs in the child: opens FILE with the writer, writes numbered lines, then
// does MODE's ending. Prints JSON {ms, maxRssMB} (exit mode prints nothing).
const CHILD = `
const [file, lines, mode] = [process.argv[1], Number(process.argv[2]), process.argv[3]];
const mod = await import(${JSON.stringify(pathToFileURL(writerModule).href)});
// 'mode' names the batching in current builds, 'batch' in earlier ones
const log = mod.LineFile
  ? mod.LineFile.open(file, 1, { mode: 'batched', batch: true })
  : new mod.ReopenableFile(file);
const pad = 'x'.repeat(100);
const t0 = performance.now();
for (let i = 0; i < lines; i++) {
  if (mode === 'rotate' && i === lines / 2) {
    (await import('node:fs')).renameSync(file, file + '.1');
    void log.reopen();
  }
  log.write('127.0.0.1 - - GET /?n=' + i + ' ' + pad + '\\n');
  if (i % 100 === 99) await new Promise((r) => setImmediate(r));
}
if (mode === 'exit') process.exit(0);
await log.close();
const ms = performance.now() - t0;
console.log(JSON.stringify({ ms, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
`;

function child(file, lines, mode) {
  const done = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, file, String(lines), mode], {
    encoding: 'utf8',
  });
  if (done.status !== 0) throw new Error(`writer child failed (${mode}): ${done.stderr}`);
  return done.stdout.trim() ? JSON.parse(done.stdout) : null;
}

/** Lines whose number is missing or repeated across `files` (after a run of `lines` lines). */
function account(files, lines) {
  const seen = new Uint8Array(lines);
  let dup = 0;
  for (const f of files) {
    if (!fs.existsSync(f)) continue;
    for (const l of fs.readFileSync(f, 'utf8').split('\n')) {
      const m = / GET \/\?n=(\d+) /.exec(l);
      if (!m) continue;
      if (seen[Number(m[1])]++) dup++;
    }
  }
  return { lost: seen.filter((c) => c === 0).length, dup };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsgund-bench-log-'));
try {
  const runs = [];
  for (let r = 0; r < RUNS; r++) {
    const file = path.join(tmp, `t${r}.log`);
    runs.push(child(file, LINES, 'close'));
    fs.rmSync(file);
  }
  const exitFile = path.join(tmp, 'exit.log');
  child(exitFile, LINES, 'exit');
  const atExit = account([exitFile], LINES);
  const rotFile = path.join(tmp, 'rot.log');
  child(rotFile, LINES, 'rotate');
  const atRotation = account([rotFile, `${rotFile}.1`], LINES);

  const ms = median(runs.map((r) => r.ms));
  console.log(`${LINES} lines of ~130 bytes, 100 per event-loop turn; median of ${RUNS} runs; node ${process.version}`);
  console.log('');
  console.log('| writer | lines/s | peak RSS | lost at process.exit() | lost / doubled across a rotation |');
  console.log('|---|---:|---:|---:|---:|');
  console.log(
    `| ${writerName} | ${Math.round((LINES / ms) * 1000).toLocaleString('en-US')} | ${median(runs.map((r) => r.maxRssMB)).toFixed(1)} MB | ${atExit.lost} | ${atRotation.lost} / ${atRotation.dup} |`,
  );
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
