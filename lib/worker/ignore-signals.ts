// Imported early by the worker, before anything that takes time to load.
// TTIN and TTOU stop a process that has no handler for them, and they are the
// master's signals: `systemctl kill -s TTIN` (without --kill-whom=main), or a
// kill of the whole process group, also reaches every worker, which would sit
// stopped (state T) until a SIGKILL. WINCH is the master's too (a terminal
// resize, or "stop the workers" for a daemon). A worker ignores all three.
for (const sig of ['SIGTTIN', 'SIGTTOU', 'SIGWINCH'] as const) process.on(sig, () => {});
