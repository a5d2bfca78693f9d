// The benchmarks write their own results page, docs/benchmarks.md: each script
// owns one named section between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`
// and replaces it, with the machine line, after a run. The prose around the
// sections is written by hand and is never touched.
//
//   BENCH_PAGE  file to write (default docs/benchmarks.md); `none` writes nothing

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_PAGE = path.join(root, 'docs/benchmarks.md');

const markers = (name) => {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`bench section name "${name}": lowercase letters, digits and -`);
  return { open: `<!-- bench:${name} -->`, close: `<!-- /bench:${name} -->` };
};

/** What machine, Node and day a section's numbers come from. */
export function machineLine(date = new Date()) {
  const cpus = os.cpus();
  const model = cpus[0]?.model.trim() || 'unknown CPU';
  const gib = (os.totalmem() / 2 ** 30).toFixed(1);
  return `Measured ${date.toISOString().slice(0, 10)}: ${cpus.length} cores (${model}), ${gib} GiB memory, Node ${process.version}.`;
}

/**
 * `page` with the section `name` holding `body`: the text between its markers
 * is replaced, or, when the page has no such section, it is appended at the end.
 * An opening marker without its closing one is an error, not a second section.
 */
export function replaceSection(page, name, body) {
  const { open, close } = markers(name);
  const block = `${open}\n${body.trim()}\n${close}`;
  const start = page.indexOf(open);
  if (start === -1) return `${page.trimEnd()}\n\n${block}\n`;
  const end = page.indexOf(close, start);
  if (end === -1) throw new Error(`${open} has no ${close}: fix the page by hand`);
  return page.slice(0, start) + block + page.slice(end + close.length);
}

/**
 * Write `table` into section `name` of the results page, under the machine
 * line. Returns the file written, or null when BENCH_PAGE is `none`.
 */
export function writeSection(name, table, opts = {}) {
  const file = opts.file ?? process.env.BENCH_PAGE ?? DEFAULT_PAGE;
  if (file === 'none') return null;
  const machine = opts.machine ?? machineLine(opts.date);
  const page = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const next = replaceSection(page, name, `${machine}\n\n${table}`);
  // a new file renamed into place: an interrupted run never leaves half a page
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, next);
  fs.renameSync(tmp, file);
  return file;
}
