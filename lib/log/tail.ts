// Reading log files as `tail -n N -F` does: the last lines, then new lines as
// they come, across a rotation (rename and create, or truncation). Each file is
// opened with O_NOFOLLOW and checked to be a regular file on its descriptor,
// so what is printed always comes from the file named, never from wherever a
// symlink planted at that name points.
import { StringDecoder } from 'node:string_decoder';
import type { Stats } from 'node:fs';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const fs = process.getBuiltinModule('node:fs');

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
const CHUNK_BYTES = 64 * 1024;
/** How long a rotated-away file is still read: until every process that wrote to it has reopened. */
const RETIRED_MS = 2000;

/** A log file that cannot be read; the message names the path and why. */
export class LogReadError extends Error {}

interface OpenFile {
  fd: number;
  dev: number;
  ino: number;
  /** Bytes read so far. */
  pos: number;
  /** A character split across two reads is decoded once both halves are in. */
  decoder: StringDecoder;
  /** The start of a line whose newline has not been written yet. */
  partial: string;
}

/** Open `path` for reading: a symlink at its last component is refused, and so is anything but a regular file. */
export function openLog(path: string): OpenFile {
  let fd: number;
  try {
    fd = fs.openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new LogReadError(`${path} is a symbolic link; tsgund reads only the file it names`);
    throw new LogReadError(`cannot read ${path}: ${code ?? String(err)}`);
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new LogReadError(`${path} is not a regular file`);
  }
  return { fd, dev: st.dev, ino: st.ino, pos: 0, decoder: new StringDecoder('utf8'), partial: '' };
}

/**
 * The last `n` lines of the first `size` bytes that `read(position, length)`
 * returns, reading backwards a chunk at a time, so a large file costs only
 * what is shown.
 */
export function lastLines(
  read: (position: number, length: number) => Buffer,
  size: number,
  n: number,
  chunkBytes = CHUNK_BYTES,
): string[] {
  if (n <= 0 || size === 0) return [];
  const chunks: Buffer[] = [];
  let newlines = 0;
  let start = size;
  // n lines need n + 1 newlines before them (the last one ends the text), or the start of the file
  while (start > 0 && newlines <= n) {
    const length = Math.min(chunkBytes, start);
    start -= length;
    const chunk = read(start, length);
    chunks.unshift(chunk);
    for (const byte of chunk) if (byte === 0x0a) newlines++;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  return lines.slice(-n);
}

const readAt = (fd: number) => (position: number, length: number) => {
  const buf = Buffer.alloc(length);
  const got = fs.readSync(fd, buf, 0, length, position);
  return buf.subarray(0, got);
};

/** The last `n` lines of an open file; the file is then read on from its end. */
export function tailOf(file: OpenFile, n: number): string[] {
  const { size } = fs.fstatSync(file.fd);
  file.pos = size;
  return lastLines(readAt(file.fd), size, n);
}

/**
 * Follows one path: new lines of the file open now, and when the path is
 * renamed and created again, or truncated, the new content from its start.
 * A file renamed away is still read for a while, for the lines its writers
 * add before they reopen (on USR1).
 */
export class Follower {
  private retired: { file: OpenFile; until: number }[] = [];
  /** The last problem noted (the path is gone, or cannot be opened), so that each is noted once. */
  private problem: string | null = null;

  constructor(
    readonly path: string,
    private file: OpenFile | null,
    private readonly emit: (path: string, lines: string[]) => void,
    private readonly note: (message: string) => void,
  ) {}

  /** One look at the path and the descriptors: called on a timer. */
  poll(now = Date.now()): void {
    for (const r of this.retired) this.readNew(r.file);
    for (const r of this.retired.filter((r) => r.until <= now)) fs.closeSync(r.file.fd);
    this.retired = this.retired.filter((r) => r.until > now);
    if (this.file) this.readNew(this.file);
    const st = this.lstat();
    if (!st || (this.file && st.ino === this.file.ino && st.dev === this.file.dev)) return;
    let next: OpenFile;
    try {
      next = openLog(this.path);
    } catch (err) {
      this.noteOnce(err instanceof Error ? err.message : String(err));
      return;
    }
    this.problem = null;
    if (this.file) this.retired.push({ file: this.file, until: now + RETIRED_MS });
    this.note(`${this.path} was ${this.file ? 'replaced (rotated)' : 'created'}; following the new file`);
    this.file = next;
    this.readNew(next);
  }

  private noteOnce(problem: string): void {
    if (problem !== this.problem) this.note(problem);
    this.problem = problem;
  }

  close(): void {
    for (const f of [this.file, ...this.retired.map((r) => r.file)]) if (f) fs.closeSync(f.fd);
    this.file = null;
    this.retired = [];
  }

  private lstat(): Stats | null {
    try {
      return fs.lstatSync(this.path);
    } catch {
      this.noteOnce(`${this.path} is gone; waiting for it to be created again`);
      return null;
    }
  }

  /** Whole lines only: a line still being written is kept until its newline arrives. */
  private readNew(file: OpenFile): void {
    const { size } = fs.fstatSync(file.fd);
    if (size < file.pos) {
      this.note(`${this.path} was truncated; reading it from the start`);
      file.pos = 0;
      file.partial = '';
    }
    const read = readAt(file.fd);
    while (file.pos < size) {
      const buf = read(file.pos, Math.min(CHUNK_BYTES, size - file.pos));
      if (buf.length === 0) break;
      file.pos += buf.length;
      const lines = (file.partial + file.decoder.write(buf)).split('\n');
      file.partial = lines.pop()!;
      if (lines.length) this.emit(this.path, lines);
    }
  }
}
