import { EXIT, UserError } from '../errors.js';

type Send = NonNullable<typeof process.send>;

/**
 * PM2's readiness signal: an app calls `process.send('ready')` once it can
 * serve (connected to its database, say). The string is taken out of the IPC
 * channel here, with or without waitReady, so the master never sees it;
 * `said` resolves the first time the app sends it. Anything else the app
 * sends goes through unchanged. Returns the original send, for tsgund's own
 * messages, which must never be taken for the app's.
 */
export function interceptAppReady(): { toMaster: Send; said: Promise<void> } {
  const original = process.send!.bind(process) as Send;
  let resolveSaid!: () => void;
  const said = new Promise<void>((resolve) => (resolveSaid = resolve));
  const send = (message: unknown, ...rest: unknown[]): boolean => {
    if (message !== 'ready') return (original as (...a: unknown[]) => boolean)(message, ...rest);
    resolveSaid();
    // as if sent: the callback (after the handle and options, when given) still runs
    const callback = rest.findLast((a) => typeof a === 'function') as ((err: null) => void) | undefined;
    if (callback) process.nextTick(callback, null);
    return true;
  };
  process.send = send as Send;
  return { toMaster: original, said };
}

/**
 * With waitReady: wait for the app's 'ready', within what is left of the boot
 * timeout (which the master counts from the fork), so the worker can say why
 * before the master gives up on it.
 */
export async function awaitAppReady(said: Promise<void>, app: string, bootTimeout: number): Promise<void> {
  const waitMs = Math.max(100, (bootTimeout - process.uptime()) * 1000 - 500);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new UserError(
            `app '${app}' never sent 'ready' within the boot timeout (${bootTimeout} s): with waitReady (PM2's wait_ready) the app must call process.send('ready') once it can serve`,
            EXIT.boot,
          ),
        ),
      waitMs,
    );
  });
  await Promise.race([said, late]).finally(() => clearTimeout(timer));
}
