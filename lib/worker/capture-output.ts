import type { ErrorLog } from '../log/error-line.js';

/** captureOutput: the app's stdout and stderr become lines of the error log (info and error). */
export function captureOutput(log: ErrorLog): void {
  const capture =
    (level: 'info' | 'error') =>
    (chunk: string | Uint8Array): boolean => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      for (const line of text.split('\n')) if (line) log[level](line);
      return true;
    };
  process.stdout.write = capture('info') as typeof process.stdout.write;
  process.stderr.write = capture('error') as typeof process.stderr.write;
}
