// Imported first by every entry point. Without a SIGUSR1 listener Node opens
// its inspector on SIGUSR1, which is both the wrong behaviour (USR1 means
// "reopen logs") and a local code-execution hole. Until the real handler is
// installed, a USR1 is remembered and delivered to it later.

let pending = 0;
let handler: (() => void) | null = null;

process.on('SIGUSR1', () => {
  if (handler) handler();
  else pending++;
});

export function onUsr1(fn: () => void): void {
  handler = fn;
  for (; pending > 0; pending--) fn();
}
