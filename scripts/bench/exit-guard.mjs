import fs from 'node:fs';

/**
 * What a benchmark must stop on every exit path (normal, error, Ctrl-C): the
 * cleanups of the servers it started (a cleanup's `sync` runs at a sudden
 * exit), the load it is generating, and its temp dir on Ctrl-C.
 * `lastResort` also runs at exit, after the cleanups' sync parts.
 */
export function guardExit({ tmp, log, lastResort = () => {} }) {
  const guard = {
    /** Cleanups still to run. */
    cleanups: new Set(),
    /** The Load running now, if any. */
    load: null,
    /** Set by Ctrl-C or TERM: stop starting new work. */
    interrupted: false,
    async runAll() {
      if (guard.load) await guard.load.stop();
      for (const c of [...guard.cleanups]) {
        guard.cleanups.delete(c);
        await c();
      }
    },
  };
  process.on('exit', () => {
    // last resort after an unexpected synchronous exit: nothing may outlive us
    for (const c of guard.cleanups) c.sync?.();
    lastResort();
  });
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, async () => {
      guard.interrupted = true;
      log(`${sig}: stopping servers`);
      await guard.runAll();
      fs.rmSync(tmp, { recursive: true, force: true });
      process.exit(130);
    });
  }
  return guard;
}
