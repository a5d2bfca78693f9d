// Imported first by every entry point. Without a SIGUSR1 listener Node opens
// its inspector on SIGUSR1, which is both the wrong behaviour (USR1 means
// "reopen logs") and a local code-execution hole. As PID 1 (a container) the
// kernel drops every signal that has no handler, so there a TERM, INT, QUIT or
// HUP that arrives while the master is still starting is held the same way.
// A held signal is delivered, in order, once its real handler is installed.

const EARLY = new Set<NodeJS.Signals>(
  process.pid === 1 ? ['SIGUSR1', 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP'] : ['SIGUSR1'],
);
const handlers = new Map<NodeJS.Signals, () => void>();
const held: NodeJS.Signals[] = [];

for (const sig of EARLY) {
  process.on(sig, () => {
    const handler = handlers.get(sig);
    if (handler) handler();
    else held.push(sig);
  });
}

/** Install the handler of a signal; signals held until now are delivered to it. */
export function handleSignal(sig: NodeJS.Signals, fn: () => void): void {
  if (!EARLY.has(sig)) {
    process.on(sig, fn);
    return;
  }
  handlers.set(sig, fn);
  for (let i = 0; i < held.length; ) {
    if (held[i] === sig) {
      held.splice(i, 1);
      fn();
    } else i++;
  }
}
