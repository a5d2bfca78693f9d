// A leaf module: it imports nothing of ours, so anything (a worker included) can
// use it without pulling in the config loader or the listeners.

/** A problem the user can fix; printed as one line, never with a stack trace. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/**
 * Exit codes, as documented in the README; `reloadFailed` and `timeout` are
 * `tsgund reload` and `upgrade`'s (docs/process-names.md).
 */
export const EXIT = { ok: 0, config: 1, boot: 3, appLoad: 4, reloadFailed: 5, timeout: 6 } as const;

export class ConfigError extends UserError {
  constructor(message: string) {
    super(message, EXIT.config);
  }
}

/** The errno name of a failed system call ('ENOENT'), or the error as text. */
export const errnoOf = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? String(err);

/** An error's message on one line (a config module's or a system call's message may span several). */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
}
