// Text from a worker, as a type. App code runs in the workers, so any text a
// worker sends (a message's field, a line of its error-log pipe, the address
// of a bind request, a command name) may carry newlines and control bytes
// that would start a forged line of the master's log, of `tsgund status` or
// of /metrics, or drive the terminal that shows them.
//   - RawWorkerText is such text as it came. To the type system it is no
//     string, so it cannot be passed where a log line is expected; an
//     interpolation (`${raw}`) gives its escaped form, never the raw bytes.
//   - WorkerText is a string that escapeText() made: the only kind of worker
//     text the master's log takes for a worker's entry (MasterErrorLog.forward),
//     and the kind the message schemas give the master.
// escapeText is the one escaper. A leaf module: it imports nothing.

declare const escaped: unique symbol;

/** Worker text after escapeText: one line, whatever the worker sent. */
export type WorkerText = string & { readonly [escaped]: true };

/** Worker text is cut to this many characters (a retiring reason, a line of a boot report). */
export const MAX_TEXT = 2000;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must be escaped
const UNSAFE = /[\\\x00-\x1f\x7f-\x9f\u2028\u2029]/g;

/**
 * Control characters (newlines included, C1 and the Unicode line separators)
 * as \xNN or \uNNNN, and '\' as '\\' so that the escape is unambiguous: the
 * text stays on one line, whatever it contains.
 */
export function escapeText(s: string): WorkerText {
  return s.replace(UNSAFE, (c) => {
    if (c === '\\') return '\\\\';
    const code = c.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`;
  }) as WorkerText;
}

/** Worker text in quotes, cut short and escaped. */
export const quote = (s: string, max = 60): WorkerText =>
  `'${escapeText(s.length > max ? `${s.slice(0, max)}…` : s)}'` as WorkerText;

/** Text a worker sent, unescaped: only escaping reads it. */
export class RawWorkerText {
  readonly #text: string;

  private constructor(text: string) {
    this.#text = text;
  }

  /** `v` as worker text cut at `max` characters, or null when it is not a string. */
  static of(v: unknown, max = MAX_TEXT): RawWorkerText | null {
    if (typeof v !== 'string') return null;
    return new RawWorkerText(v.length > max ? `${v.slice(0, max)}…` : v);
  }

  /** The text on one line, escaped. */
  escaped(): WorkerText {
    return escapeText(this.#text);
  }

  /** The text in quotes, cut short and escaped. */
  quoted(max = 60): WorkerText {
    return quote(this.#text, max);
  }

  /** A report of several lines: at most `maxLines`, each escaped on its own, so the report keeps its shape. */
  lines(maxLines: number): WorkerText[] {
    return this.#text.split('\n', maxLines).map(escapeText);
  }

  /** An interpolation never lets the raw text through. */
  toString(): string {
    return this.escaped();
  }

  toJSON(): string {
    return this.escaped();
  }
}
