// Node warns "Failed to load the ES module: … set "type": "module" …" (older releases: "To load an ES
// module, set …") just before it throws the SyntaxError that the worker reports with its own hint
// (load-error.ts): the same advice twice, once raw and out of place. Every other warning still prints.
const ESM_LOAD = /^(?:Failed to load the ES module: |To load an ES module, set "type": "module")/;

/** Whether `w` is Node's warning for ES module syntax in a file it loaded as CommonJS. */
export const isEsmLoadWarning = (w: Error): boolean => w.name === 'Warning' && ESM_LOAD.test(w.message);

/** Wrap the warning listeners present now (Node's printer) so that they skip that one warning. */
export function muteEsmLoadWarning(): void {
  for (const listener of process.listeners('warning')) {
    process.removeListener('warning', listener);
    process.on('warning', (w) => {
      if (!isEsmLoadWarning(w)) listener(w);
    });
  }
}
