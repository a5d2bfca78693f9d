// PM2's kill_signal: apps migrated from PM2 clean up in process.on('SIGINT')
// (PM2's default). The master still sends TERM, so tsgund drains as always;
// once the worker has stopped accepting, the app's own listeners of the
// signal run, and tsgund's own (a quick exit on INT) do not.

/** Call this, at the start of the drain, to run the app's listeners of `sig` (none: 'none'). */
export function appSignalEmitter(sig: string): () => void {
  if (sig === 'none' || sig === 'SIGTERM') return () => {}; // TERM reached the app's listeners already
  const signal = sig as NodeJS.Signals;
  // taken once tsgund's handlers are installed and before the app loads: everything later is the app's
  const ours = new Set(process.listeners(signal));
  return () => {
    for (const listener of process.listeners(signal)) {
      if (!ours.has(listener)) (listener as (s: NodeJS.Signals) => void).call(process, signal);
    }
  };
}
