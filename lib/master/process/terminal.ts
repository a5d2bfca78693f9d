// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const { closeSync, openSync } = process.getBuiltinModule('node:fs');

/** Does this process have a controlling terminal? (WINCH then means "resized".) */
export function hasTerminal(): boolean {
  try {
    closeSync(openSync('/dev/tty', 'r'));
    return true;
  } catch {
    return false;
  }
}
